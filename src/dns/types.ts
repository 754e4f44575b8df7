// Shapes of the DNS layer: what a SIP URI resolves to (RFC 3263), what a lookup can fail with, and the
// interface of the DNS client underneath (Node's resolver in production, anything in tests).
import type { NaptrRecord, SrvRecord } from 'node:dns';
import type { Proto } from '../transport/listen-spec.js';

export type { Proto };

/** One place to send a request to, in the order RFC 3263 says to try them. */
export interface SipTarget {
  proto: Proto;
  /** A literal IPv4 or IPv6 address (no brackets). */
  address: string;
  port: number;
  family: 4 | 6;
  /**
   * TLS: the SNI to send and the identity the server's certificate must carry. RFC 5922 §4: it is
   * the SIP domain of the URI (its host, or `maddr`), never a name found through NAPTR or SRV, which
   * an attacker who can spoof DNS could choose. Undefined when the URI holds a numeric address.
   * Same name and meaning as `SendTarget.serverName` of the transport.
   */
  serverName: string | undefined;
  /**
   * The name whose A/AAAA record gave `address`: the SRV target, or the URI's host when no SRV
   * record was used; the address itself for numeric hosts. For logs, not for TLS identity.
   */
  hostName: string;
  /** The SRV record set the target came from (`_sips._tcp.example.com`), when one was used. */
  srvName?: string;
  /** How the target was found: a numeric host, A/AAAA only, SRV, or NAPTR then SRV. */
  origin: 'numeric' | 'address' | 'srv' | 'naptr';
}

/**
 * What to resolve, in RFC 3263 §4 terms. `host` is the TARGET (the URI's `maddr` if present, else
 * its host); `transport` is the URI's transport parameter; `secure` is a `sips:` URI.
 */
export interface TargetSpec {
  host: string;
  port?: number | undefined;
  transport?: Proto | undefined;
  secure?: boolean | undefined;
}

export type RecordType = 'NAPTR' | 'SRV' | 'A' | 'AAAA';

/** The records each query type yields; addresses as text. */
export interface RecordsOf {
  NAPTR: NaptrRecord;
  SRV: SrvRecord;
  A: string;
  AAAA: string;
}

/** A positive answer. `ttl` in seconds, undefined where the client does not report it. */
export interface DnsAnswer<T> {
  records: T[];
  ttl: number | undefined;
}

/**
 * The DNS client the resolver asks. It resolves or rejects with an error carrying a Node-style
 * `code` (`ENOTFOUND`, `ENODATA`, `ETIMEOUT`, ...), as `node:dns` does.
 */
export interface DnsClient {
  query<K extends RecordType>(type: K, name: string): Promise<DnsAnswer<RecordsOf[K]>>;
  /** The servers asked, `ip:port`, for error messages. */
  servers(): string[];
  /** Abandons the queries in progress (they reject); used on shutdown. */
  cancel(): void;
}

/**
 * Why a lookup gave nothing. `nxdomain` and `nodata` are answers (cached as negative entries);
 * `timeout` and `unreachable` mean the DNS server did not answer at all, which ends the resolution
 * (the next query would wait as long for nothing); the others are errors a server sent back.
 */
export type DnsErrorKind =
  'nxdomain' | 'nodata' | 'timeout' | 'unreachable' | 'servfail' | 'refused' | 'other' | 'invalid';

export interface DnsError {
  kind: DnsErrorKind;
  /** The query that failed; undefined for `invalid` (the URI itself cannot be resolved). */
  type: RecordType | undefined;
  name: string;
  /** The client's code (`ETIMEOUT`...), or `EINVAL` for `invalid`. */
  code: string;
  /** One line for logs and the reason phrase of a 503: what was asked, of whom, what happened. */
  message: string;
}
