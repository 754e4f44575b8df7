// Domains written in the main configuration ("script domains"): their definitions are kept across
// reloads, as in OpenSIPS; their certificate files are read again each time, so a renewed
// certificate is picked up by tls_reload.
import { normalizeConfigDomain, type TlsDomain, type TlsDomainInput } from '../domain.js';
import type { DomainSourceReader } from '../manager.js';

export function configDomainSource(inputs: readonly TlsDomainInput[], file: string): DomainSourceReader {
  let normalized: TlsDomain[] | undefined;
  const normalize = () =>
    inputs.map((input) => {
      const d = normalizeConfigDomain(input, file);
      // The config loader validated these already; a problem here is a programming error.
      if (Array.isArray(d))
        throw new Error(`domain "${input.name}": ${d.map((p) => `${p.field}: ${p.reason}`).join('; ')}`);
      return d;
    });
  return {
    kind: 'config',
    async read() {
      normalized ??= normalize();
      // Each load records its own notices about the files (an expired certificate may be renewed).
      const domains = normalized.map((d) => ({ ...d, warnings: [...d.warnings] }));
      return { domains, warnings: [] };
    },
  };
}
