// The DNS client on Node's own resolver (c-ares): NAPTR, SRV, A and AAAA queries sent to the
// configured servers, or to the system's (/etc/resolv.conf) when none are set. It is not the
// system's getaddrinfo, so /etc/hosts and nsswitch are not consulted, as in Kamailio's resolver.
//
// Node reports TTLs for A and AAAA answers only (`{ ttl: true }`); NAPTR and SRV answers come
// without theirs, so those answers carry `ttl: undefined` and the resolver caches them for its
// configured default (see docs/dns.md). Node 20 turns off c-ares' own query cache (nodejs/node
// #57640), so every query reaches the server and the resolver's cache is the only one.
import { Resolver } from 'node:dns/promises';
import type { DnsAnswer, DnsClient, RecordType, RecordsOf } from './types.js';

export interface NodeDnsClientOptions {
  /** `ip`, `ip:port` or `[ipv6]:port`; the system's servers when absent or empty. */
  servers?: readonly string[] | undefined;
  /** Milliseconds c-ares waits for the first answer; it doubles the wait on each retry. */
  timeoutMs?: number | undefined;
  /** Attempts per server before a query fails with ETIMEOUT. */
  tries?: number | undefined;
}

type Queries = { [K in RecordType]: (name: string) => Promise<DnsAnswer<RecordsOf[K]>> };

/** The smallest TTL of a record set: the set is only as fresh as its shortest-lived record. */
const minTtl = (records: readonly { ttl: number }[]) =>
  records.length === 0 ? undefined : Math.min(...records.map((r) => r.ttl));

export class NodeDnsClient implements DnsClient {
  readonly #resolver: Resolver;
  readonly #queries: Queries;

  constructor(options: NodeDnsClientOptions = {}) {
    this.#resolver = new Resolver({ timeout: options.timeoutMs ?? -1, tries: options.tries ?? 4 });
    // Throws on a malformed entry; the config schema checks them first, with a message.
    if (options.servers && options.servers.length > 0) this.#resolver.setServers([...options.servers]);
    const r = this.#resolver;
    this.#queries = {
      NAPTR: async (name) => ({ records: await r.resolveNaptr(name), ttl: undefined }),
      SRV: async (name) => ({ records: await r.resolveSrv(name), ttl: undefined }),
      A: async (name) => {
        const records = await r.resolve4(name, { ttl: true });
        return { records: records.map((x) => x.address), ttl: minTtl(records) };
      },
      AAAA: async (name) => {
        const records = await r.resolve6(name, { ttl: true });
        return { records: records.map((x) => x.address), ttl: minTtl(records) };
      },
    };
  }

  query<K extends RecordType>(type: K, name: string): Promise<DnsAnswer<RecordsOf[K]>> {
    return this.#queries[type](name);
  }

  servers(): string[] {
    return this.#resolver.getServers();
  }

  cancel(): void {
    this.#resolver.cancel();
  }
}
