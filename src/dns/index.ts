// The DNS layer: RFC 3263 server location for SIP and SIPS URIs (NAPTR, SRV, A/AAAA), with a cache
// and failover. See docs/dns.md.
export {
  SipResolver,
  TargetIterator,
  targetSpecOf,
  type Resolution,
  type SipResolverOptions,
} from './resolver.js';
export { NodeDnsClient, type NodeDnsClientOptions } from './node-client.js';
export { TtlCache, monotonicClock, type Clock } from './cache.js';
export { naptrServices, orderSrv, srvName, type SrvService } from './order.js';
export {
  dnsConfigSchema,
  dnsConfigShape,
  dnsResolverOptions,
  parseDnsServer,
  type DnsConfig,
} from './config.js';
export type {
  DnsAnswer,
  DnsClient,
  DnsError,
  DnsErrorKind,
  Proto,
  RecordType,
  RecordsOf,
  SipTarget,
  TargetSpec,
} from './types.js';
