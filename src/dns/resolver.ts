// RFC 3263 §4 server location for SIP and SIPS URIs: numeric host → used as is; explicit port →
// A/AAAA; transport parameter → SRV for that transport; otherwise NAPTR, then SRV, then A/AAAA. The
// targets come lazily from an iterator, so a request that succeeds on its first target costs no
// lookups for the others, and a transport failure asks for the next one (RFC 3263 §4.3).
// Answers are cached by name and type for their TTL (bounded by a floor and a ceiling), NXDOMAIN
// and NODATA for a negative TTL; the cache holds records, not orderings, so each resolution draws
// its own SRV weighted order and load spreads across targets.
import { isIP } from 'node:net';
import { parseUri, type SipUri } from '../sip/index.js';
import { SIP_PORT } from '../transport/listen-spec.js';
import { monotonicClock, TtlCache, type Clock } from './cache.js';
import { NodeDnsClient } from './node-client.js';
import { naptrServices, orderSrv, srvName, transportFits, trimDot, type SrvService } from './order.js';
import type {
  DnsClient,
  DnsError,
  DnsErrorKind,
  Proto,
  RecordType,
  RecordsOf,
  SipTarget,
  TargetSpec,
} from './types.js';

export interface SipResolverOptions {
  /** The DNS client; by default Node's resolver with `servers`, `timeoutMs` and `tries`. */
  client?: DnsClient | undefined;
  /** DNS servers (`ip`, `ip:port`, `[ipv6]:port`); the system's when absent or empty. */
  servers?: readonly string[] | undefined;
  /** Milliseconds to wait for the first answer to a query (c-ares doubles it per retry). Default 2000. */
  timeoutMs?: number | undefined;
  /** Attempts per server before a query fails. Default 2. */
  tries?: number | undefined;
  /** Port for TLS targets without one (sipsd's `tls_port`). Default 5061. */
  tlsPort?: number | undefined;
  /**
   * Transports DNS may choose, most preferred first: NAPTR records for others are ignored, and
   * without NAPTR the SRV sets are tried in this order. A transport the URI names explicitly is
   * used whether listed or not. Default `['tls', 'tcp', 'udp']`.
   */
  transports?: readonly Proto[] | undefined;
  /** Look up NAPTR records when neither port nor transport is given. Default true. */
  tryNaptr?: boolean | undefined;
  /** Order SRV records of one priority by RFC 2782 weighted draws; else as received. Default true. */
  srvLoadBalance?: boolean | undefined;
  /** Look up AAAA records too. Default false. */
  tryIpv6?: boolean | undefined;
  /** With `tryIpv6`, try a name's IPv6 addresses before its IPv4 ones. Default false. */
  preferIpv6?: boolean | undefined;
  /** Offer further targets after the first (RFC 3263 §4.3 failover). Default true. */
  failover?: boolean | undefined;
  /** Cache answers. Default true. */
  cache?: boolean | undefined;
  /** Most answers (one per name and type) the cache holds. Default 4096. */
  cacheMaxEntries?: number | undefined;
  /** Seconds: answers are kept at least this long, whatever their TTL. Default 0. */
  cacheMinTtl?: number | undefined;
  /** Seconds: answers are kept at most this long, whatever their TTL. Default 3600. */
  cacheMaxTtl?: number | undefined;
  /** Seconds to keep answers whose TTL the client does not report (NAPTR and SRV with Node's). Default 60. */
  cacheDefaultTtl?: number | undefined;
  /** Seconds to remember that a name or record type does not exist (NXDOMAIN, NODATA). Default 60. */
  negativeTtl?: number | undefined;
  /** Random numbers in [0, 1) for SRV weights (tests fix them). */
  random?: (() => number) | undefined;
  /** Milliseconds, monotonic, for cache expiry (tests move it). */
  clock?: Clock | undefined;
}

/** Everything one URI resolves to, for callers that want the whole list (and for `sipsd` tools). */
export interface Resolution {
  targets: SipTarget[];
  /** Every lookup that failed on the way, negative answers included, in order. */
  errors: DnsError[];
  /** Why there are no (more) targets, when a failure ended the resolution or nothing was found. */
  failure: DnsError | undefined;
}

type Lookup<T> = { ok: true; records: T[] } | { ok: false; error: DnsError };

/** Ends a resolution: the DNS server did not answer, or the input cannot be resolved. */
class Abort extends Error {
  constructor(readonly error: DnsError) {
    super(error.message);
  }
}

const ENDS_RESOLUTION: ReadonlySet<DnsErrorKind> = new Set(['timeout', 'unreachable', 'invalid']);
const NEGATIVE: ReadonlySet<DnsErrorKind> = new Set(['nxdomain', 'nodata']);

const KIND_OF_CODE: Readonly<Record<string, DnsErrorKind>> = {
  ENOTFOUND: 'nxdomain',
  ENODATA: 'nodata',
  ETIMEOUT: 'timeout',
  ECONNREFUSED: 'unreachable',
  ECANCELLED: 'unreachable',
  EDESTRUCTION: 'unreachable',
  ESERVFAIL: 'servfail',
  EREFUSED: 'refused',
};

function invalid(name: string, message: string): DnsError {
  return { kind: 'invalid', type: undefined, name, code: 'EINVAL', message };
}

/**
 * The RFC 3263 inputs of a SIP or SIPS URI: TARGET is `maddr` if present, else the host; the
 * `transport` parameter (`tls` is the deprecated RFC 2543 spelling; `tcp` on a `sips:` URI means
 * TLS). An error value for transports sipsd does not carry and for `sips:` over UDP.
 */
export function targetSpecOf(uri: SipUri): TargetSpec | DnsError {
  const host = uri.params.get('maddr') || uri.host;
  const secure = uri.scheme === 'sips';
  const param = uri.params.get('transport')?.toLowerCase();
  if (param === undefined || param === null) return { host, port: uri.port, secure };
  if (param !== 'udp' && param !== 'tcp' && param !== 'tls')
    return invalid(host, `${uri.scheme}:${host}: transport=${param} is not supported (udp, tcp, tls)`);
  if (secure && param === 'udp') return invalid(host, `sips:${host}: a SIPS URI cannot use transport=udp`);
  const transport: Proto = secure || param === 'tls' ? 'tls' : param;
  return { host, port: uri.port, transport, secure };
}

export class SipResolver {
  readonly #client: DnsClient;
  readonly #cache: TtlCache<Lookup<unknown>> | undefined;
  readonly #pending = new Map<string, Promise<Lookup<unknown>>>();
  readonly #families: readonly (4 | 6)[];
  readonly #transports: readonly Proto[];
  readonly #options: SipResolverOptions;
  readonly #tlsPort: number;

  constructor(options: SipResolverOptions = {}) {
    this.#options = options;
    this.#client =
      options.client ??
      new NodeDnsClient({
        servers: options.servers,
        timeoutMs: options.timeoutMs ?? 2000,
        tries: options.tries ?? 2,
      });
    this.#cache =
      options.cache === false
        ? undefined
        : new TtlCache(options.cacheMaxEntries ?? 4096, options.clock ?? monotonicClock);
    this.#families = !options.tryIpv6 ? [4] : options.preferIpv6 ? [6, 4] : [4, 6];
    this.#transports = options.transports ?? ['tls', 'tcp', 'udp'];
    this.#tlsPort = options.tlsPort ?? 5061;
  }

  /**
   * The targets for a URI (or a `TargetSpec`, or URI text), most preferred first, found as they are
   * asked for: call `next()` for the first, and again after each transport failure.
   */
  targets(input: SipUri | TargetSpec | string): TargetIterator {
    const limit = this.#options.failover === false ? 1 : Number.POSITIVE_INFINITY;
    const spec = this.#spec(input);
    // A numeric host is its own only target: no lookups, so no generator machinery per request.
    const numeric = 'kind' in spec ? undefined : this.#numericTarget(spec);
    if (numeric) return new TargetIterator(() => [numeric][Symbol.iterator](), limit);
    return new TargetIterator((errors) => this.#generate(spec, errors), limit);
  }

  /** All targets at once (every lookup made up front); `targets()` is cheaper for sending. */
  async resolve(input: SipUri | TargetSpec | string): Promise<Resolution> {
    const iterator = this.targets(input);
    const targets: SipTarget[] = [];
    for await (const target of iterator) targets.push(target);
    return { targets, errors: [...iterator.errors], failure: iterator.failure };
  }

  get cacheSize(): number {
    return this.#cache?.size ?? 0;
  }

  flushCache(): void {
    this.#cache?.clear();
  }

  /** Abandons queries in progress (their resolutions end with an `unreachable` failure). */
  close(): void {
    this.#client.cancel();
  }

  /** RFC 3263 §4.1/§4.2: a numeric host is used as is, with the default transport and port. */
  #numericTarget(spec: TargetSpec): SipTarget | undefined {
    const family = isIP(spec.host);
    if (family !== 4 && family !== 6) return undefined;
    const proto = spec.transport ?? this.#defaultProto(spec.secure ?? false);
    return {
      proto,
      address: spec.host,
      port: spec.port ?? this.#defaultPort(proto),
      family,
      serverName: undefined,
      hostName: spec.host,
      origin: 'numeric',
    };
  }

  /** The targets of a host name (a numeric host never gets here). */
  async *#generate(spec: TargetSpec | DnsError, errors: DnsError[]): AsyncGenerator<SipTarget> {
    if ('kind' in spec) {
      errors.push(spec);
      throw new Abort(spec);
    }
    const { host } = spec;
    const secure = spec.secure ?? false;
    const run = { domain: host, errors };
    if (spec.port !== undefined) {
      const proto = spec.transport ?? this.#defaultProto(secure);
      yield* this.#addresses(run, host, spec.port, proto, 'address', undefined);
      return;
    }

    let services: SrvService[] = [];
    let origin: 'srv' | 'naptr' = 'srv';
    if (spec.transport) {
      services = [{ proto: spec.transport, srvName: srvName(spec.transport, host) }];
    } else {
      if (this.#options.tryNaptr !== false) {
        const naptr = await this.#lookup(run, 'NAPTR', host);
        if (naptr) services = naptrServices(naptr, secure, this.#transports);
        if (services.length > 0) origin = 'naptr';
      }
      // No usable NAPTR: the client picks the transports it supports, in its order (RFC 3263 §4.1).
      if (services.length === 0)
        services = this.#transports
          .filter((proto) => transportFits(proto, secure))
          .map((proto) => ({ proto, srvName: srvName(proto, host) }));
    }

    let srvFound = false;
    for (const service of services) {
      const records = await this.#lookup(run, 'SRV', service.srvName);
      if (!records) continue;
      srvFound = true;
      const random = this.#options.random ?? Math.random;
      for (const srv of orderSrv(records, this.#options.srvLoadBalance !== false, random))
        yield* this.#addresses(run, srv.name, srv.port, service.proto, origin, service.srvName);
    }
    if (!srvFound) {
      // No SRV records: the domain's own addresses on the default port (RFC 3263 §4.2).
      const proto = spec.transport ?? this.#defaultProto(secure);
      yield* this.#addresses(run, host, this.#defaultPort(proto), proto, 'address', undefined);
    }
  }

  async *#addresses(
    run: { domain: string; errors: DnsError[] },
    name: string,
    port: number,
    proto: Proto,
    origin: SipTarget['origin'],
    srvName: string | undefined,
  ): AsyncGenerator<SipTarget> {
    for (const family of this.#families) {
      const addresses = await this.#lookup(run, family === 4 ? 'A' : 'AAAA', name);
      for (const address of addresses ?? []) {
        const target: SipTarget = {
          proto,
          address,
          port,
          family,
          serverName: run.domain,
          hostName: name,
          origin,
        };
        if (srvName !== undefined) target.srvName = srvName;
        yield target;
      }
    }
  }

  /** Records, or undefined after noting the failure; throws Abort when the server did not answer. */
  async #lookup<K extends RecordType>(
    run: { errors: DnsError[] },
    type: K,
    name: string,
  ): Promise<RecordsOf[K][] | undefined> {
    const result = (await this.#cachedQuery(type, name.toLowerCase())) as Lookup<RecordsOf[K]>;
    if (result.ok) return result.records;
    run.errors.push(result.error);
    if (ENDS_RESOLUTION.has(result.error.kind)) throw new Abort(result.error);
    return undefined;
  }

  #cachedQuery(type: RecordType, name: string): Promise<Lookup<unknown>> {
    const key = `${type} ${name}`;
    const cached = this.#cache?.get(key);
    if (cached) return Promise.resolve(cached);
    // Resolutions of the same name at the same time share one query.
    let pending = this.#pending.get(key);
    if (!pending) {
      pending = this.#query(key, type, name).finally(() => this.#pending.delete(key));
      this.#pending.set(key, pending);
    }
    return pending;
  }

  async #query(key: string, type: RecordType, name: string): Promise<Lookup<unknown>> {
    try {
      const answer = await this.#client.query(type, name);
      const ttl = answer.ttl ?? this.#options.cacheDefaultTtl ?? 60;
      const bounded = Math.min(
        Math.max(ttl, this.#options.cacheMinTtl ?? 0),
        this.#options.cacheMaxTtl ?? 3600,
      );
      const result: Lookup<unknown> = { ok: true, records: answer.records };
      this.#cache?.set(key, result, bounded);
      return result;
    } catch (err) {
      const error = this.#describe(type, name, err);
      const result: Lookup<unknown> = { ok: false, error };
      if (NEGATIVE.has(error.kind)) this.#cache?.set(key, result, this.#options.negativeTtl ?? 60);
      return result;
    }
  }

  #describe(type: RecordType, name: string, err: unknown): DnsError {
    const code = String((err as NodeJS.ErrnoException | undefined)?.code ?? 'EUNKNOWN');
    const kind = KIND_OF_CODE[code] ?? 'other';
    const servers = this.#client.servers().join(', ') || 'the system resolver';
    const what: Record<DnsErrorKind, string> = {
      nxdomain: 'no such domain (NXDOMAIN)',
      nodata: `no ${type} record`,
      timeout: `no answer from DNS server ${servers} (${code})`,
      unreachable:
        code === 'ECONNREFUSED' ? `DNS server ${servers} unreachable (${code})` : `query abandoned (${code})`,
      servfail: `server failure (SERVFAIL) from ${servers}`,
      refused: `query refused by ${servers}`,
      other: `${(err as Error | undefined)?.message ?? 'lookup failed'} (${code})`,
      invalid: 'invalid',
    };
    return { kind, type, name, code, message: `${type} ${name}: ${what[kind]}` };
  }

  /** The RFC 3263 inputs, the host bare (no brackets, no trailing dot) and in lower case. */
  #spec(input: SipUri | TargetSpec | string): TargetSpec | DnsError {
    let spec: TargetSpec | DnsError;
    if (typeof input !== 'string') spec = 'kind' in input ? targetSpecOf(input) : input;
    else {
      const parsed = parseUri(input.trim());
      if (!parsed.ok) return invalid(input, `"${input}": ${parsed.error.reason}`);
      if (parsed.value.kind !== 'sip')
        return invalid(input, `"${input}": a ${parsed.value.scheme}: URI has no host to resolve`);
      spec = targetSpecOf(parsed.value);
    }
    if ('kind' in spec) return spec;
    const host = trimDot(spec.host.replace(/^\[(.*)\]$/, '$1')).toLowerCase();
    return host === '' ? invalid(spec.host, `"${spec.host}" is not a host name`) : { ...spec, host };
  }

  /** RFC 3263 §4.1: UDP for SIP, TLS for SIPS; the next one we use if UDP is not among them. */
  #defaultProto(secure: boolean): Proto {
    if (secure) return 'tls';
    return (['udp', 'tcp', 'tls'] as const).find((p) => this.#transports.includes(p)) ?? 'udp';
  }

  #defaultPort(proto: Proto): number {
    return proto === 'tls' ? this.#tlsPort : SIP_PORT;
  }
}

/**
 * The targets of one resolution, in order and without repeats, found lazily. `next()` gives the
 * next target or undefined when there is none left; `failure` then says why, if something failed.
 * Also an async iterable: `for await (const target of resolver.targets(uri))`.
 */
export class TargetIterator implements AsyncIterable<SipTarget> {
  /** Every lookup that failed so far, negative answers included. */
  readonly errors: DnsError[] = [];
  #source: AsyncIterator<SipTarget> | Iterator<SipTarget> | undefined;
  readonly #seen = new Set<string>();
  #given = 0;
  #ended: DnsError | undefined;

  constructor(
    make: (errors: DnsError[]) => AsyncIterator<SipTarget> | Iterator<SipTarget>,
    private readonly limit: number,
  ) {
    this.#source = make(this.errors);
  }

  async next(): Promise<SipTarget | undefined> {
    while (this.#source && this.#given < this.limit) {
      let step: IteratorResult<SipTarget>;
      try {
        step = await this.#source.next();
      } catch (err) {
        if (!(err instanceof Abort)) throw err;
        this.#ended = err.error;
        break;
      }
      if (step.done) break;
      const target = step.value;
      const key = `${target.proto} ${target.address} ${target.port}`;
      if (this.#seen.has(key)) continue; // the same server reached through another record
      this.#seen.add(key);
      this.#given++;
      return target;
    }
    this.#source = undefined;
    return undefined;
  }

  /**
   * Why the resolution stopped early (the DNS server did not answer, the URI cannot be resolved),
   * or, when it gave no target at all, the last lookup that failed. Undefined otherwise.
   */
  get failure(): DnsError | undefined {
    return this.#ended ?? (this.#given === 0 ? this.errors.at(-1) : undefined);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<SipTarget> {
    for (let target = await this.next(); target; target = await this.next()) yield target;
  }
}
