// Which domain serves a connection, as an index built once per snapshot (flat with 100,000
// domains). Server side: the local socket's address bucket, falling back to less specific buckets
// (ip:port > ip:* > *:port > *), and by SNI inside a bucket. Client side: name or server_id, then
// SIP domain with destination, then destination only.
import { normalizeAddress } from '../transport/connection.js';
import type { Endpoint } from '../transport/types.js';
import type { TlsDomain } from './domain.js';
import { SniIndex, type NameMatch } from './sni-index.js';

export type ServerLookup<T> =
  | { kind: 'match'; value: T; filter: string }
  /** An SNI was sent that no domain on this socket accepts, and none takes any name: refuse. */
  | { kind: 'unrecognized-name' }
  | { kind: 'no-domain' };

/** Bucket keys from most to least specific. */
function bucketKeys(address: string, port: number): string[] {
  const a = normalizeAddress(address);
  return [`${a}|${port}`, `${a}|*`, `*|${port}`, '*|*'];
}

export class DomainIndex<T extends { domain: TlsDomain }> {
  private readonly buckets = new Map<string, SniIndex<T>>();
  private readonly byName = new Map<string, T>();
  private readonly byServerId = new Map<string, T>();

  /** `entries` in definition order; the fallback `default` domain is kept out by the caller. */
  constructor(entries: readonly T[] = []) {
    for (const entry of entries) this.add(entry);
  }

  /** Adds the next entry in definition order (earlier entries win ties). */
  add(entry: T): void {
    const d = entry.domain;
    if (!this.byName.has(d.name)) this.byName.set(d.name, entry);
    if (d.serverId && !this.byServerId.has(d.serverId)) this.byServerId.set(d.serverId, entry);
    const addresses = d.matchAddresses.length > 0 ? d.matchAddresses : [{ address: '*', port: '*' as const }];
    for (const a of addresses) {
      const key = `${a.address === '*' ? '*' : normalizeAddress(a.address)}|${a.port}`;
      let bucket = this.buckets.get(key);
      if (!bucket) this.buckets.set(key, (bucket = new SniIndex<T>()));
      for (const name of d.matchSipDomains) bucket.add(name, entry);
    }
  }

  server(local: Endpoint, serverName: string | undefined): ServerLookup<T> {
    let applicable = 0;
    for (const key of bucketKeys(local.address, local.port)) {
      const bucket = this.buckets.get(key);
      if (!bucket) continue;
      applicable++;
      const m = bucket.match(serverName);
      if (m) return { kind: 'match', value: m.value, filter: m.filter };
    }
    // A `*` filter would have matched any SNI: reaching here with a name means every domain on this
    // socket names its hosts explicitly, so another certificate must not be served silently.
    return serverName && applicable > 0 ? { kind: 'unrecognized-name' } : { kind: 'no-domain' };
  }

  /** By explicit domain name first, then Kamailio server_id. */
  named(name: string): T | undefined {
    return this.byName.get(name) ?? this.byServerId.get(name);
  }

  /**
   * SIP domain together with destination > destination only: a specific SIP-domain match wins
   * over `*`; then the more specific address bucket; then the more specific name.
   */
  client(remote: Endpoint, sipDomain: string | undefined): T | undefined {
    let best: { m: NameMatch<T>; rank: number } | undefined;
    const keys = bucketKeys(remote.address, remote.port);
    keys.forEach((key, i) => {
      const m = this.buckets.get(key)?.match(sipDomain);
      if (!m) return;
      const rank = (m.specificity > 0 ? 1_000 : 0) + (keys.length - i);
      if (!best || rank > best.rank || (rank === best.rank && m.specificity > best.m.specificity))
        best = { m, rank };
    });
    return best?.m.value;
  }
}
