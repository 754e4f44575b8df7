// An immutable snapshot of all TLS domains, built off to the side and swapped on reload (see
// manager.ts). Every domain is read and checked before the snapshot is used (prepareDomain), so a
// broken certificate is reported at load time and never half-applied; a broken file the operator
// wrote fails the load, a broken database row is skipped. OpenSSL contexts, the costly part, are
// built on first use, one for all the domains whose material and settings are the same, and a
// reload keeps the built contexts and domains whose files and settings did not change.
import { hash, type X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Endpoint } from '../transport/types.js';
import {
  builtDomain,
  contextError,
  createContext,
  prepareDomain,
  TlsDomainError,
  type BuildOptions,
  type BuiltDomain,
  type DomainContext,
  type PreparedDomain,
} from './context.js';
import { normalizeDomain, type TlsDomain } from './domain.js';
import { DomainIndex } from './domain-index.js';
import { digestOf, LoadCache, type ParsedMaterial } from './load-cache.js';
import type { ClientChoice, ClientHints, ServerChoice, TlsProvider } from './provider.js';

/** TLS alert 112 (RFC 6066): the server has no certificate for the name the client asked for. */
export const ALERT_UNRECOGNIZED_NAME = 112;

export interface SnapshotReport {
  warnings: string[];
  /** Told how far a long load is, about once a second. */
  progress?(prepared: number, total: number): void;
  /**
   * Told, once per domain, that OpenSSL refused to build its context on first use (everything
   * else was checked at load); the domain's handshakes are refused, the others go on.
   */
  contextFailed?(error: TlsDomainError): void;
}

/** Domains prepared at once: their file reads overlap; the parsing in between is synchronous. */
const PREPARE_CONCURRENCY = 64;
/** Longest synchronous stretch of a load before SIP traffic gets a turn of the event loop. */
const SLICE_MS = 10;
const PROGRESS_INTERVAL_MS = 1000;

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

/** Identity of a domain's settings and material: an equal fingerprint may keep the built domain. */
function fingerprint(p: PreparedDomain): string {
  const d = p.domain;
  // Inline PEMs enter by their digests (made once per buffer by the load); the rest as JSON,
  // without the notices builds append to.
  const settings: Record<string, unknown> = { ...d, source: undefined, warnings: undefined };
  for (const field of PEM_FIELDS) {
    const ref = d[field];
    if (ref && 'pem' in ref) settings[field] = digestOf(ref.pem);
  }
  // File contents enter through the material key.
  return hash('sha256', `${JSON.stringify(settings)}\n${p.materialKey}`, 'base64');
}

/** One OpenSSL context for every domain with the same context key, built once, on first use. */
class SharedContext {
  private outcome: { context: DomainContext } | { error: unknown } | undefined;

  constructor(private readonly options: BuildOptions) {}

  get built(): boolean {
    return this.outcome !== undefined && 'context' in this.outcome;
  }

  /** Throws what OpenSSL threw, every time: building again would fail again. */
  get(p: PreparedDomain): DomainContext {
    if (!this.outcome) {
      try {
        this.outcome = { context: createContext(p, this.options) };
      } catch (error) {
        this.outcome = { error };
      }
    }
    if ('error' in this.outcome) throw this.outcome.error;
    return this.outcome.context;
  }
}

/** One domain of a snapshot, with its context built on first use. */
export class DomainSlot {
  private failure: TlsDomainError | undefined;

  constructor(
    readonly prepared: PreparedDomain,
    private readonly context: SharedContext,
    private builtDomain: BuiltDomain | undefined,
    private readonly report: SnapshotReport,
    /** Made by the reload that compared it with the slot it replaces, for the next to reuse. */
    private settingsFingerprint?: string,
  ) {}

  get domain(): TlsDomain {
    return this.prepared.domain;
  }

  /** The leaf certificate, known before the context is built (for tls_list). */
  get leaf(): X509Certificate | undefined {
    return this.prepared.certificate;
  }

  get built(): BuiltDomain | undefined {
    return this.builtDomain;
  }

  /** Made only when a reload looks for a built domain to keep: hashing every domain costs. */
  get fingerprint(): string {
    return (this.settingsFingerprint ??= fingerprint(this.prepared));
  }

  /** The built domain; throws TlsDomainError if OpenSSL refuses its context (reported once). */
  get(): BuiltDomain {
    if (this.builtDomain || this.failure) return this.build();
    try {
      return this.build();
    } catch (err) {
      this.report.contextFailed?.(err as TlsDomainError);
      throw err;
    }
  }

  /** Builds now (the load of a file-defined domain); throws TlsDomainError, reporting nothing. */
  build(): BuiltDomain {
    if (this.builtDomain) return this.builtDomain;
    if (this.failure) throw this.failure;
    try {
      return (this.builtDomain = builtDomain(this.prepared, this.context.get(this.prepared)));
    } catch (err) {
      throw (this.failure = contextError(this.domain, err));
    }
  }
}

/** Unique within a snapshot (the manager refuses duplicates; the file wins over the database). */
const slotName = (d: TlsDomain) => `${d.type}:${d.name}`;

const errorOf = (err: unknown) => (err instanceof Error ? err : new Error(String(err)));

/** Domains named in a notice shared by many; the rest are counted. */
const NAMED_PER_NOTICE = 3;

/**
 * The domains' notices, each text told once per type with the domains it concerns: 100,000 rows
 * without a CA list make one line in the log and the tls_reload answer, not 100,000.
 */
function domainWarnings(slots: readonly DomainSlot[]): string[] {
  const byNotice = new Map<string, { type: string; text: string; names: string[] }>();
  for (const { domain } of slots) {
    for (const text of domain.warnings) {
      const key = `${domain.type}\n${text}`;
      const entry = byNotice.get(key);
      if (entry) entry.names.push(domain.name);
      else byNotice.set(key, { type: domain.type, text, names: [domain.name] });
    }
  }
  return [...byNotice.values()].map(({ type, text, names }) => {
    if (names.length === 1) return `TLS domain "${names[0]}" (${type}): ${text}`;
    const named = names.slice(0, NAMED_PER_NOTICE).map((n) => `"${n}"`);
    const more = names.length - named.length;
    return `TLS domains ${named.join(', ')}${more > 0 ? ` and ${more} more` : ''} (${type}): ${text}`;
  });
}

/**
 * Cuts a long synchronous job into slices of SLICE_MS with a turn of the event loop in between, so
 * SIP traffic keeps flowing during a load. Concurrent workers share the turns: each waiting on its
 * own would run its slices back to back within one turn.
 */
class Slicer {
  private start = performance.now();
  private pause: Promise<void> | undefined;

  /** Resolves at once, or after the next turn when the slice is used up. */
  async breathe(): Promise<void> {
    while (this.pause || performance.now() - this.start >= SLICE_MS) {
      this.pause ??= nextTurn().then(() => {
        this.pause = undefined;
        this.start = performance.now();
      });
      await this.pause;
    }
  }
}

/**
 * Prepares every domain, a bounded number at a time (each in field order, so the first problem of
 * a domain is the one reported); a result is the prepared domain or why it cannot be used.
 */
async function prepareAll(
  domains: readonly TlsDomain[],
  cache: LoadCache,
  options: BuildOptions,
  report: SnapshotReport,
): Promise<Array<PreparedDomain | Error>> {
  const results = new Array<PreparedDomain | Error>(domains.length);
  let next = 0;
  let done = 0;
  let told = performance.now();
  const slicer = new Slicer();
  const worker = async () => {
    while (next < domains.length) {
      const i = next++;
      try {
        results[i] = await prepareDomain(domains[i]!, cache, options);
      } catch (err) {
        results[i] = errorOf(err);
      }
      done++;
      const now = performance.now();
      if (report.progress && now - told >= PROGRESS_INTERVAL_MS) {
        told = now;
        report.progress(done, domains.length);
      }
      await slicer.breathe();
    }
  };
  await Promise.all(Array.from({ length: Math.min(PREPARE_CONCURRENCY, domains.length) }, worker));
  return results;
}

/** The lookup indexes of a snapshot, filled with turns for SIP traffic in between. */
async function indexesOf(
  slots: readonly DomainSlot[],
  defaults: ReadonlyArray<DomainSlot | undefined>,
): Promise<{ servers: DomainIndex<DomainSlot>; clients: DomainIndex<DomainSlot> }> {
  const servers = new DomainIndex<DomainSlot>();
  const clients = new DomainIndex<DomainSlot>();
  const slicer = new Slicer();
  for (const s of slots) {
    // The fallback `default` domains are kept out of the indexes.
    if (!defaults.includes(s)) (s.domain.type === 'server' ? servers : clients).add(s);
    await slicer.breathe();
  }
  return { servers, clients };
}

export class TlsSnapshot implements TlsProvider {
  private constructor(
    readonly domains: readonly DomainSlot[],
    private readonly defaultServer: DomainSlot | undefined,
    private readonly defaultClient: DomainSlot | undefined,
    private readonly servers: DomainIndex<DomainSlot>,
    private readonly clients: DomainIndex<DomainSlot>,
    /** Contexts by context key, for the next reload to keep. */
    private readonly contexts: ReadonlyMap<string, SharedContext>,
    /** Parsed PEM content, for the next reload to take over. */
    private readonly parsed: ParsedMaterial,
    readonly createdAt = new Date(),
  ) {}

  /**
   * Builds a snapshot; a domain named `default` replaces the built-in default of its type. Throws
   * an AggregateError of TlsDomainError listing every broken domain, except database rows, which
   * are skipped with a warning. `previous` lends what did not change: parsed PEMs, built contexts
   * and domains, so a reload costs little more than reading the files.
   */
  static async build(
    domains: readonly TlsDomain[],
    builtinBaseDir: string,
    report: SnapshotReport,
    previous?: TlsSnapshot,
    options: BuildOptions = {},
  ): Promise<TlsSnapshot> {
    const cache = new LoadCache(previous?.parsed);
    const prepared = await prepareAll(domains, cache, options, report);

    const builtBefore = new Map<string, DomainSlot>();
    for (const s of previous?.domains ?? []) if (s.built) builtBefore.set(slotName(s.domain), s);
    const contexts = new Map<string, SharedContext>();
    const slotOf = (p: PreparedDomain): DomainSlot => {
      let context = contexts.get(p.contextKey);
      if (!context) {
        const before = previous?.contexts.get(p.contextKey);
        // A context OpenSSL refused is tried again: the reload is how an operator asks for that.
        context = before?.built ? before : new SharedContext(options);
        contexts.set(p.contextKey, context);
      }
      const before = builtBefore.get(slotName(p.domain));
      const print = before && fingerprint(p);
      const kept = before && before.fingerprint === print ? before.built : undefined;
      return new DomainSlot(p, context, kept, report, print);
    };

    const errors: Error[] = [];
    const slots: DomainSlot[] = [];
    const slicer = new Slicer();
    for (const [i, p] of prepared.entries()) {
      const d = domains[i]!;
      if (!(p instanceof Error)) slots.push(slotOf(p));
      // One broken row among thousands provisioned in SQL must not block the rest (OpenSIPS
      // semantics); a broken file the operator wrote fails the whole load or reload.
      else if (d.source.kind === 'db')
        report.warnings.push(`skipped tls_mgm row ${String(d.source.row)}: ${p.message}`);
      else errors.push(p);
      await slicer.breathe();
    }
    // Domains the operator wrote in files get their contexts now (shared ones once), so what only
    // OpenSSL refuses (a key too weak for the security level, say) fails the load or reload like
    // any other error and the running snapshot stays. Database rows, which can number hundreds of
    // thousands, keep theirs for first use.
    for (const slot of slots) {
      if (slot.domain.source.kind === 'db' || slot.built) continue;
      try {
        slot.build();
      } catch (err) {
        errors.push(errorOf(err));
      }
      await slicer.breathe();
    }
    if (errors.length > 0) throw new AggregateError(errors, errors.map((e) => e.message).join('; '));
    const fallback = async (type: 'server' | 'client'): Promise<DomainSlot | undefined> => {
      const configured = slots.find((s) => s.domain.type === type && s.domain.name === 'default');
      if (configured) return configured;
      try {
        return slotOf(await prepareDomain(builtinDefault(type, builtinBaseDir), cache, options));
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
    report.warnings.push(...domainWarnings(all));
    cache.parsed.settle();
    const { servers, clients } = await indexesOf(all, [defaultServer, defaultClient]);
    return new TlsSnapshot(all, defaultServer, defaultClient, servers, clients, contexts, cache.parsed);
  }

  get hasServerDomain(): boolean {
    // Checked at load, a server domain gets its acceptor on first use.
    return this.domains.some((d) => d.domain.type === 'server');
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
      built = chosen.get();
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
      built = chosen.get();
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
