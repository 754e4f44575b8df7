// Configuration keys of the DNS resolver, named after the OpenSIPS and Kamailio core parameters where
// those exist (`dns_try_naptr`, `dns_try_ipv6`, `dns_retr_time`, `dns_retr_no`, `dns_srv_lb`,
// `dns_*_pref`, `use_dns_cache`, `dns_cache_*`, `disable_dns_failover`). `dnsConfigShape` is meant to
// be merged into the main schema (src/config/schema.ts), like the trace and db shapes.
import { isIP } from 'node:net';
import { z } from 'zod';
import { flag, int } from '../config/fields.js';
import type { SipResolverOptions } from './resolver.js';
import type { Proto } from './types.js';

/** `ip`, `ip:port` or `[ipv6]:port`, the forms Node's `Resolver.setServers` takes; undefined if not. */
export function parseDnsServer(text: string): { host: string; port: number } | undefined {
  const t = text.trim();
  if (isIP(t) !== 0) return { host: t, port: 53 };
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(t);
  if (!m) return undefined;
  const host = m[1] ?? m[2]!;
  const port = Number(m[3]);
  // Brackets only around IPv6, and IPv6 with a port only in brackets.
  const ok = isIP(host) === (m[1] !== undefined ? 6 : 4) && port >= 1 && port <= 65535;
  return ok ? { host, port } : undefined;
}

/** A transport preference (Kamailio `dns_udp_pref`...): higher first, -1 never chosen by DNS. */
const pref = int(-1, 1000);

export const dnsConfigShape = {
  /** Servers to query instead of the system's (/etc/resolv.conf). */
  dns_servers: z
    .array(
      z.string().refine((s) => parseDnsServer(s) !== undefined, {
        error: (iss) => `"${String(iss.input)}" is not ip, ip:port or [ipv6]:port`,
      }),
    )
    .optional(),
  /** Seconds to wait for the first answer to a query; each retry waits twice as long. */
  dns_retr_time: int(1, 60).default(2),
  /** Attempts per server before a query fails. */
  dns_retr_no: int(1, 10).default(2),
  /** Look up NAPTR records for URIs without port or transport (RFC 3263 §4.1). */
  dns_try_naptr: flag.default(true),
  /** RFC 2782 weighted choice among SRV records of one priority. */
  dns_srv_lb: flag.default(true),
  /** Look up AAAA records (IPv6) too. */
  dns_try_ipv6: flag.default(false),
  /** With dns_try_ipv6, try IPv6 addresses before IPv4 ones. */
  dns_prefer_ipv6: flag.default(false),
  /** Transport preferences when the domain has no NAPTR records; -1: DNS never picks it. */
  dns_tls_pref: pref.default(30),
  dns_tcp_pref: pref.default(20),
  dns_udp_pref: pref.default(10),
  /** Cache DNS answers. */
  use_dns_cache: flag.default(true),
  /** Most answers (one per name and record type) kept in the cache. */
  dns_cache_max_entries: int(1, 10_000_000).default(4096),
  /** Seconds: floor of the time an answer is cached. */
  dns_cache_min_ttl: int(0).default(0),
  /** Seconds: ceiling of the time an answer is cached. */
  dns_cache_max_ttl: int(0).default(3600),
  /** Seconds to cache NAPTR and SRV answers, whose TTL Node's resolver does not report. */
  dns_cache_default_ttl: int(0).default(60),
  /** Seconds to cache NXDOMAIN and NODATA answers. */
  dns_cache_negative_ttl: int(0).default(60),
  /** Only the first target of a URI is tried (OpenSIPS); no RFC 3263 §4.3 failover. */
  disable_dns_failover: flag.default(false),
};

/** The DNS keys alone, e.g. for a tool that reads only them. */
export const dnsConfigSchema = z.object(dnsConfigShape);
export type DnsConfig = z.output<typeof dnsConfigSchema>;

/** Resolver options from the parsed keys; `tlsPort` is the main config's `tls_port`. */
export function dnsResolverOptions(config: DnsConfig, tlsPort: number): SipResolverOptions {
  const prefs: [Proto, number][] = [
    ['tls', config.dns_tls_pref],
    ['tcp', config.dns_tcp_pref],
    ['udp', config.dns_udp_pref],
  ];
  return {
    servers: config.dns_servers,
    timeoutMs: config.dns_retr_time * 1000,
    tries: config.dns_retr_no,
    tlsPort,
    // Stable sort: equal preferences keep TLS, TCP, UDP order.
    transports: prefs
      .filter(([, p]) => p >= 0)
      .sort((a, b) => b[1] - a[1])
      .map(([proto]) => proto),
    tryNaptr: config.dns_try_naptr,
    srvLoadBalance: config.dns_srv_lb,
    tryIpv6: config.dns_try_ipv6,
    preferIpv6: config.dns_prefer_ipv6,
    failover: !config.disable_dns_failover,
    cache: config.use_dns_cache,
    cacheMaxEntries: config.dns_cache_max_entries,
    cacheMinTtl: config.dns_cache_min_ttl,
    cacheMaxTtl: config.dns_cache_max_ttl,
    cacheDefaultTtl: config.dns_cache_default_ttl,
    negativeTtl: config.dns_cache_negative_ttl,
  };
}
