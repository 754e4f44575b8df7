// An immutable snapshot of all TLS domains, built off to the side and swapped on reload (see
// manager.ts). Domains the operator wrote in files are built completely before the snapshot is
// used, so a broken certificate is reported at load time and never half-applied. Database rows can
// number in the thousands: they are checked at load (certificate and key readable and matching)
// but their OpenSSL contexts are built on first use, and an unchanged row keeps its context across
// reloads.
import { createHash, type X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type { Endpoint } from '../transport/types.js';
import { buildDomain, checkDomain, TlsDomainError, type BuildOptions, type BuiltDomain } from './context.js';
import { normalizeDomain, type TlsDomain } from './domain.js';
import { DomainIndex } from './domain-index.js';
import type { ClientChoice, ClientHints, ServerChoice, TlsProvider } from './provider.js';

/** TLS alert 112 (RFC 6066): the server has no certificate for the name the client asked for. */
export const ALERT_UNRECOGNIZED_NAME = 112;

export interface SnapshotReport {
  warnings: string[];
}

/** The built-in default domain of a type, used when no configured domain is named `default`. */
export function builtinDefault(type: 'server' | 'client', baseDir: string): TlsDomain {
  const d = normalizeDomain(
    { name: 'default', type },
    { source: { kind: 'builtin' }, baseDir, verifyServerNameDefault: true },
  );
  if (Array.isArray(d)) throw new Error(`built-in default ${type} domain: ${JSON.stringify(d)}`);
  return d;
}

const PEM_FIELDS = ['certificate', 'privateKey', 'caList', 'crl', 'dhParams'] as const;

/** Identity of a database row's settings: equal fingerprints may share one built context. */
function fingerprint(d: TlsDomain): string {
  const h = createHash('sha256');
  // Inline PEMs are hashed as bytes; the rest as JSON (without the notices builds append to).
  const settings: Record<string, unknown> = { ...d, source: undefined, warnings: undefined };
  for (const field of PEM_FIELDS) {
    const ref = d[field];
    if (ref && 'pem' in ref) {
      h.update(ref.pem);
      settings[field] = 'inline';
    }
  }
  return h.update(JSON.stringify(settings)).digest('base64');
}

/** One domain of a snapshot, with its context built now or on first use. */
export class DomainSlot {
  private pending: Promise<BuiltDomain> | undefined;

  constructor(
    readonly domain: TlsDomain,
    private builtDomain: BuiltDomain | undefined,
    /** The leaf certificate, known before the context is built (for tls_list). */
    readonly leaf: X509Certificate | undefined,
    readonly fingerprint: string | undefined,
    private readonly options: BuildOptions,
  ) {}

  get built(): BuiltDomain | undefined {
    return this.builtDomain;
  }

  /** The built domain; concurrent first uses share one build, a failed build is retried next time. */
  get(): Promise<BuiltDomain> {
    if (this.builtDomain) return Promise.resolve(this.builtDomain);
    this.pending ??= buildDomain(this.domain, this.options).then(
      (b) => (this.builtDomain = b),
      (err: unknown) => {
        this.pending = undefined;
        throw err;
      },
    );
    return this.pending;
  }
}

const errorOf = (err: unknown) => (err instanceof Error ? err : new Error(String(err)));

export class TlsSnapshot implements TlsProvider {
  private readonly servers: DomainIndex<DomainSlot>;
  private readonly clients: DomainIndex<DomainSlot>;

  private constructor(
    readonly domains: readonly DomainSlot[],
    private readonly defaultServer: DomainSlot | undefined,
    private readonly defaultClient: DomainSlot | undefined,
    readonly createdAt = new Date(),
  ) {
    const rest = (type: 'server' | 'client', fallback: DomainSlot | undefined) =>
      domains.filter((d) => d.domain.type === type && d !== fallback);
    this.servers = new DomainIndex(rest('server', defaultServer));
    this.clients = new DomainIndex(rest('client', defaultClient));
  }

  /**
   * Builds a snapshot; a domain named `default` replaces the built-in default of its type. Throws
   * an AggregateError of TlsDomainError listing every broken domain, except database rows, which
   * are skipped with a warning. `previous` lends unchanged database rows (checked, and built
   * if they were) so a reload of a large table costs little.
   */
  static async build(
    domains: readonly TlsDomain[],
    builtinBaseDir: string,
    report: SnapshotReport,
    previous?: TlsSnapshot,
    options: BuildOptions = {},
  ): Promise<TlsSnapshot> {
    const errors: Error[] = [];
    const slots: DomainSlot[] = [];
    const reusable = new Map<string, DomainSlot>();
    for (const s of previous?.domains ?? []) if (s.fingerprint) reusable.set(s.fingerprint, s);
    let sinceYield = 0;
    for (const d of domains) {
      try {
        if (d.source.kind !== 'db') {
          const built = await buildDomain(d, options);
          slots.push(new DomainSlot(d, built, built.certificate, undefined, options));
          continue;
        }
        const fp = fingerprint(d);
        const same = reusable.get(fp);
        slots.push(
          same
            ? new DomainSlot(d, same.built, same.leaf, fp, options)
            : new DomainSlot(d, undefined, await checkDomain(d), fp, options),
        );
        // A check costs about a millisecond (key parsing): let SIP traffic through every few rows.
        if (++sinceYield % 20 === 0) await new Promise((r) => setImmediate(r));
      } catch (err) {
        const e = errorOf(err);
        // One broken row among thousands provisioned in SQL must not block the rest (OpenSIPS
        // semantics); a broken file the operator wrote fails the whole load or reload.
        if (d.source.kind === 'db')
          report.warnings.push(`skipped tls_mgm row ${String(d.source.row)}: ${e.message}`);
        else errors.push(e);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, errors.map((e) => e.message).join('; '));
    const fallback = async (type: 'server' | 'client'): Promise<DomainSlot | undefined> => {
      const configured = slots.find((s) => s.domain.type === type && s.domain.name === 'default');
      if (configured) return configured;
      try {
        const built = await buildDomain(builtinDefault(type, builtinBaseDir), options);
        return new DomainSlot(built.domain, built, built.certificate, undefined, options);
      } catch (err) {
        // The built-in server default points at CFG_DIR/tls/cert.pem, which need not exist.
        if (!(err instanceof TlsDomainError)) throw err;
        report.warnings.push(`no default ${type} domain: ${err.message}`);
        return undefined;
      }
    };
    const defaultServer = await fallback('server');
    const defaultClient = await fallback('client');
    const all = [...slots];
    for (const d of [defaultServer, defaultClient]) if (d && !all.includes(d)) all.push(d);
    for (const s of all) {
      for (const w of s.domain.warnings)
        report.warnings.push(`TLS domain "${s.domain.name}" (${s.domain.type}): ${w}`);
    }
    return new TlsSnapshot(all, defaultServer, defaultClient);
  }

  get hasServerDomain(): boolean {
    // A database domain not built yet counts: it was checked at load and gets built on first use.
    return this.domains.some(
      (d) => d.domain.type === 'server' && (d.built === undefined || d.built.acceptor !== undefined),
    );
  }

  domainNames(): string[] {
    return this.domains.map((d) => `${d.domain.type}:${d.domain.name}`);
  }

  async serverFor(local: Endpoint, serverName: string | undefined): Promise<ServerChoice> {
    const found = this.servers.server(local, serverName);
    let chosen: DomainSlot | undefined;
    if (found.kind === 'match') chosen = found.value;
    else if (found.kind === 'unrecognized-name') {
      return {
        ok: false,
        reason: `no TLS domain on ${local.address}:${local.port} for SNI "${serverName}"`,
        alert: ALERT_UNRECOGNIZED_NAME,
      };
    } else chosen = this.defaultServer;
    if (!chosen) return { ok: false, reason: `no TLS server domain for ${local.address}:${local.port}` };
    let built: BuiltDomain;
    try {
      built = await chosen.get();
    } catch (err) {
      return { ok: false, reason: errorOf(err).message };
    }
    if (!built.acceptor) return { ok: false, reason: `TLS domain "${built.domain.name}" cannot serve` };
    return {
      ok: true,
      domain: built.domain.name,
      acceptor: built.acceptor,
      inspect: (s) => built.inspect(s),
    };
  }

  async clientFor(remote: Endpoint, hints: ClientHints): Promise<ClientChoice> {
    let chosen: DomainSlot | undefined;
    if (hints.domain !== undefined) {
      chosen = hints.domain === 'default' ? this.defaultClient : this.clients.named(hints.domain);
      if (!chosen) return { ok: false, reason: `no TLS client domain named "${hints.domain}"` };
    } else {
      chosen = this.clients.client(remote, hints.sipDomain?.toLowerCase()) ?? this.defaultClient;
    }
    if (!chosen) return { ok: false, reason: 'no TLS client domain is configured' };
    let built: BuiltDomain;
    try {
      built = await chosen.get();
    } catch (err) {
      return { ok: false, reason: errorOf(err).message };
    }
    if (!built.clientOptions)
      return { ok: false, reason: `TLS domain "${built.domain.name}" cannot connect` };
    const name = hints.hostName ?? hints.sipDomain;
    // RFC 6066 forbids IP addresses as SNI; identity is then checked against the address itself.
    const servername = built.domain.serverName ?? (name && isIP(name) === 0 ? name : undefined);
    const expectedHost = name ?? remote.address;
    return {
      ok: true,
      domain: built.domain.name,
      certificate: built.certificate,
      options: { ...built.clientOptions, ...(servername ? { servername } : {}) },
      inspect: (s) => built.inspect(s, expectedHost),
    };
  }
}
