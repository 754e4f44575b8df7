// Domains written in the main configuration ("script domains"): their definitions are kept across
// reloads, as in OpenSIPS; their certificate files are read again each time, so a renewed
// certificate is picked up by tls_reload.
import { normalizeDomain, type TlsDomain, type TlsDomainInput } from '../domain.js';
import type { DomainSourceReader } from '../manager.js';

export function configDomainSource(
  inputs: readonly TlsDomainInput[],
  file: string,
  baseDir: string,
): DomainSourceReader {
  return {
    kind: 'config',
    async read() {
      const domains: TlsDomain[] = [];
      for (const input of inputs) {
        const d = normalizeDomain(input, {
          source: { kind: 'config', file },
          baseDir,
          verifyServerNameDefault: true,
        });
        // The config loader validated these already; a problem here is a programming error.
        if (Array.isArray(d))
          throw new Error(`domain "${input.name}": ${d.map((p) => `${p.field}: ${p.reason}`).join('; ')}`);
        domains.push(d);
      }
      return { domains, warnings: [] };
    },
  };
}
