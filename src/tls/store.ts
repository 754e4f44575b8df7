// An immutable snapshot of all TLS domains: every context built before the snapshot is used, so a
// broken certificate is reported at load time and never half-applied. Reload builds a new snapshot
// off to the side and swaps it (see manager.ts).
import { isIP } from 'node:net';
import type { Endpoint } from '../transport/types.js';
import { buildDomain, TlsDomainError, type BuiltDomain } from './context.js';
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

export class TlsSnapshot implements TlsProvider {
  private readonly servers: DomainIndex<BuiltDomain>;
  private readonly clients: DomainIndex<BuiltDomain>;

  private constructor(
    readonly domains: readonly BuiltDomain[],
    private readonly defaultServer: BuiltDomain | undefined,
    private readonly defaultClient: BuiltDomain | undefined,
    readonly createdAt = new Date(),
  ) {
    const rest = (type: 'server' | 'client', fallback: BuiltDomain | undefined) =>
      domains.filter((d) => d.domain.type === type && d !== fallback);
    this.servers = new DomainIndex(rest('server', defaultServer));
    this.clients = new DomainIndex(rest('client', defaultClient));
  }

  /**
   * Builds every domain; a domain named `default` replaces the built-in default of its type.
   * Throws an AggregateError of TlsDomainError listing every broken domain, except database
   * rows, which are skipped with a warning.
   */
  static async build(
    domains: readonly TlsDomain[],
    builtinBaseDir: string,
    report: SnapshotReport,
  ): Promise<TlsSnapshot> {
    const errors: Error[] = [];
    const built: BuiltDomain[] = [];
    for (const d of domains) {
      try {
        built.push(await buildDomain(d));
      } catch (err) {
        const e = err instanceof Error ? err : new Error(String(err));
        // One broken row among thousands provisioned in SQL must not block the rest (OpenSIPS
        // semantics); a broken file the operator wrote fails the whole load or reload.
        if (d.source.kind === 'db')
          report.warnings.push(`skipped tls_mgm row ${String(d.source.row)}: ${e.message}`);
        else errors.push(e);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, errors.map((e) => e.message).join('; '));
    const fallback = async (type: 'server' | 'client'): Promise<BuiltDomain | undefined> => {
      const configured = built.find((b) => b.domain.type === type && b.domain.name === 'default');
      if (configured) return configured;
      try {
        return await buildDomain(builtinDefault(type, builtinBaseDir));
      } catch (err) {
        // The built-in server default points at CFG_DIR/tls/cert.pem, which need not exist.
        if (!(err instanceof TlsDomainError)) throw err;
        report.warnings.push(`no default ${type} domain: ${err.message}`);
        return undefined;
      }
    };
    const defaultServer = await fallback('server');
    const defaultClient = await fallback('client');
    const all = [...built];
    for (const d of [defaultServer, defaultClient]) if (d && !all.includes(d)) all.push(d);
    for (const b of all)
      for (const w of b.domain.warnings)
        report.warnings.push(`TLS domain "${b.domain.name}" (${b.domain.type}): ${w}`);
    return new TlsSnapshot(all, defaultServer, defaultClient);
  }

  get hasServerDomain(): boolean {
    return this.domains.some((d) => d.domain.type === 'server' && d.acceptor !== undefined);
  }

  domainNames(): string[] {
    return this.domains.map((d) => `${d.domain.type}:${d.domain.name}`);
  }

  serverFor(local: Endpoint, serverName: string | undefined): ServerChoice {
    const found = this.servers.server(local, serverName);
    let chosen: BuiltDomain | undefined;
    if (found.kind === 'match') chosen = found.value;
    else if (found.kind === 'unrecognized-name') {
      return {
        ok: false,
        reason: `no TLS domain on ${local.address}:${local.port} for SNI "${serverName}"`,
        alert: ALERT_UNRECOGNIZED_NAME,
      };
    } else chosen = this.defaultServer;
    if (!chosen?.acceptor)
      return { ok: false, reason: `no TLS server domain for ${local.address}:${local.port}` };
    const built = chosen;
    return {
      ok: true,
      domain: built.domain.name,
      acceptor: chosen.acceptor,
      inspect: (s) => built.inspect(s),
    };
  }

  clientFor(remote: Endpoint, hints: ClientHints): ClientChoice {
    let chosen: BuiltDomain | undefined;
    if (hints.domain !== undefined) {
      chosen = hints.domain === 'default' ? this.defaultClient : this.clients.named(hints.domain);
      if (!chosen) return { ok: false, reason: `no TLS client domain named "${hints.domain}"` };
    } else {
      chosen = this.clients.client(remote, hints.sipDomain?.toLowerCase()) ?? this.defaultClient;
    }
    if (!chosen?.clientOptions) return { ok: false, reason: 'no TLS client domain is configured' };
    const built = chosen;
    const name = hints.hostName ?? hints.sipDomain;
    // RFC 6066 forbids IP addresses as SNI; identity is then checked against the address itself.
    const servername = built.domain.serverName ?? (name && isIP(name) === 0 ? name : undefined);
    const expectedHost = name ?? remote.address;
    return {
      ok: true,
      domain: built.domain.name,
      options: { ...built.clientOptions, ...(servername ? { servername } : {}) },
      inspect: (s) => built.inspect(s, expectedHost),
    };
  }
}
