// The pure parts of RFC 3263 target selection: which NAPTR records apply and in what order, the SRV
// owner name for a transport, and RFC 2782's ordering of SRV records (priority, then a weighted
// random draw). No I/O here, so the rules are tested with fixed records and a fixed random source.
import type { NaptrRecord, SrvRecord } from 'node:dns';
import type { Proto } from './types.js';

/** A transport the domain offers and the SRV record set that lists its servers. */
export interface SrvService {
  proto: Proto;
  srvName: string;
}

/** RFC 3263 §4.1 NAPTR services sipsd can use; `SIPS+D2T` is TLS over TCP. */
const NAPTR_SERVICES: ReadonlyMap<string, Proto> = new Map([
  ['SIP+D2U', 'udp'],
  ['SIP+D2T', 'tcp'],
  ['SIPS+D2T', 'tls'],
]);

/** Whether a transport can carry requests for the URI: a `sips:` URI needs TLS (RFC 3261 §26.2.2). */
export const transportFits = (proto: Proto, secure: boolean): boolean => !secure || proto === 'tls';

/**
 * The NAPTR records that lead to a transport we use, as SRV services, ordered by `order` then
 * `preference` (RFC 3403 §4.1; ties keep the order received). Records without the `s` flag (SIP
 * NAPTRs point at SRV records, RFC 3263 §4.1), with a regexp, or with an empty replacement are
 * skipped; so are services for transports not in `transports` and, for `sips:`, all but TLS.
 */
export function naptrServices(
  records: readonly NaptrRecord[],
  secure: boolean,
  transports: readonly Proto[],
): SrvService[] {
  const usable: { record: NaptrRecord; proto: Proto }[] = [];
  for (const record of records) {
    const proto = NAPTR_SERVICES.get(record.service.toUpperCase());
    const replacement = trimDot(record.replacement);
    if (!proto || !record.flags.toLowerCase().includes('s') || record.regexp !== '' || replacement === '')
      continue;
    if (!transports.includes(proto) || !transportFits(proto, secure)) continue;
    usable.push({ record: { ...record, replacement }, proto });
  }
  usable.sort((a, b) => a.record.order - b.record.order || a.record.preference - b.record.preference);
  return usable.map(({ record, proto }) => ({ proto, srvName: record.replacement }));
}

/**
 * The SRV owner name for a transport (RFC 3263 §4.2): `_sips._tcp` for TLS, also for `sip:` URIs
 * when TLS is chosen; `_sip._tcp` and `_sip._udp` otherwise.
 */
export function srvName(proto: Proto, domain: string): string {
  const prefix = proto === 'tls' ? '_sips._tcp' : proto === 'tcp' ? '_sip._tcp' : '_sip._udp';
  return `${prefix}.${trimDot(domain)}`;
}

/**
 * SRV records in the order to try them (RFC 2782): by ascending priority; within a priority, by
 * repeated weighted random draws, where a record's chance to come next is proportional to its
 * weight (weight-0 records rarely come first: they are put at the front of the list and win only a
 * draw of exactly 0). Without `loadBalance` a priority keeps the order received. A target of "."
 * ("decidedly not available") is dropped. `random` returns a number in [0, 1), like Math.random.
 */
export function orderSrv(
  records: readonly SrvRecord[],
  loadBalance: boolean,
  random: () => number = Math.random,
): SrvRecord[] {
  const byPriority = new Map<number, SrvRecord[]>();
  for (const record of records) {
    const name = trimDot(record.name);
    if (name === '') continue;
    const group = byPriority.get(record.priority);
    if (group) group.push({ ...record, name });
    else byPriority.set(record.priority, [{ ...record, name }]);
  }
  const ordered: SrvRecord[] = [];
  for (const priority of [...byPriority.keys()].sort((a, b) => a - b)) {
    const group = byPriority.get(priority)!;
    if (loadBalance) ordered.push(...weightedOrder(group, random));
    else ordered.push(...group);
  }
  return ordered;
}

function weightedOrder(group: SrvRecord[], random: () => number): SrvRecord[] {
  // Weight-0 records first, as RFC 2782 asks; the sort is stable, so otherwise as received.
  const left = [...group].sort((a, b) => Number(a.weight !== 0) - Number(b.weight !== 0));
  const out: SrvRecord[] = [];
  while (left.length > 0) {
    const total = left.reduce((sum, r) => sum + r.weight, 0);
    const draw = Math.floor(random() * (total + 1)); // uniform over 0..total, both ends included
    let running = 0;
    let pick = left.length - 1;
    for (let i = 0; i < left.length; i++) {
      running += left[i]!.weight;
      if (running >= draw) {
        pick = i;
        break;
      }
    }
    out.push(...left.splice(pick, 1));
  }
  return out;
}

/** DNS names compare without their trailing root dot; an empty result is the root ("."). */
export function trimDot(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}
