// The one error a domain build throws: it names what an operator has to fix (domain, setting, file)
// and why, and never carries key material or passphrases.
export class TlsDomainError extends Error {
  constructor(
    readonly domain: string,
    readonly field: string,
    readonly file: string | undefined,
    readonly reason: string,
    readonly type?: 'server' | 'client',
  ) {
    super(
      `TLS domain "${domain}"${type ? ` (${type})` : ''}: ${field}${file === undefined ? '' : ` (${file})`}: ${reason}`,
    );
    this.name = 'TlsDomainError';
  }
}

/** Binds errors and warnings to one domain, so readers of its files need not know which it is. */
export interface DomainReporter {
  fail(field: string, file: string | undefined, reason: string): never;
  /** Records a notice once, even if the same domain object is built again. */
  warn(message: string): void;
}

export function reporterFor(domain: {
  name: string;
  type: 'server' | 'client';
  warnings: string[];
}): DomainReporter {
  return {
    fail(field, file, reason) {
      throw new TlsDomainError(domain.name, field, file, reason, domain.type);
    },
    warn(message) {
      if (!domain.warnings.includes(message)) domain.warnings.push(message);
    },
  };
}
