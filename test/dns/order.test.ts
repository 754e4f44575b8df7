// The pure rules of target selection (NAPTR filtering and order, SRV order with fixed random draws),
// the bounded TTL cache on a fake clock, and the configuration keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NaptrRecord, SrvRecord } from 'node:dns';
import { z } from 'zod';
import {
  NodeDnsClient,
  TtlCache,
  dnsConfigShape,
  dnsResolverOptions,
  naptrServices,
  orderSrv,
  parseDnsServer,
  srvName,
} from '../../src/dns/index.js';

const naptr = (order: number, preference: number, service: string, replacement: string, flags = 's') =>
  ({ order, preference, service, replacement, flags, regexp: '' }) satisfies NaptrRecord;
const srv = (priority: number, weight: number, name: string, port = 5060) =>
  ({ priority, weight, name, port }) satisfies SrvRecord;

test('NAPTR: usable SIP services only, by order then preference', () => {
  const records = [
    naptr(20, 10, 'SIP+D2U', '_sip._udp.example.com.'),
    naptr(10, 20, 'SIP+D2T', '_sip._tcp.example.com'),
    naptr(10, 10, 'sips+d2t', '_sips._tcp.example.com'),
    naptr(1, 1, 'SIP+D2W', '_sip._ws.example.com'), // WebSocket: not a transport of ours
    naptr(1, 1, 'SIP+D2S', '_sip._sctp.example.com'), // SCTP: neither
    naptr(1, 2, 'SIP+D2U', '_sip._udp.other.com', 'a'), // not an SRV pointer
    { ...naptr(1, 3, 'SIP+D2U', ''), regexp: '!^.*$!sip:x@y!' }, // a rewrite, not for SIP
  ];
  assert.deepEqual(naptrServices(records, false, ['tls', 'tcp', 'udp']), [
    { proto: 'tls', srvName: '_sips._tcp.example.com' },
    { proto: 'tcp', srvName: '_sip._tcp.example.com' },
    { proto: 'udp', srvName: '_sip._udp.example.com' },
  ]);
  // sips: only TLS; and transports switched off are left out.
  assert.deepEqual(naptrServices(records, true, ['tls', 'tcp', 'udp']), [
    { proto: 'tls', srvName: '_sips._tcp.example.com' },
  ]);
  assert.deepEqual(naptrServices(records, false, ['udp']), [
    { proto: 'udp', srvName: '_sip._udp.example.com' },
  ]);
});

test('SRV owner names per transport', () => {
  assert.equal(srvName('tls', 'example.com.'), '_sips._tcp.example.com');
  assert.equal(srvName('tcp', 'example.com'), '_sip._tcp.example.com');
  assert.equal(srvName('udp', 'example.com'), '_sip._udp.example.com');
});

test('SRV: ascending priority; weighted draws within a priority (RFC 2782)', () => {
  const records = [srv(20, 0, 'backup'), srv(10, 1, 'light'), srv(10, 0, 'zero'), srv(10, 9, 'heavy')];
  // Draws: first over 0..10 (weights zero, light, heavy = 0, 1, 9); then over what is left.
  const draws = (...values: number[]) => {
    let i = 0;
    return () => values[i++] ?? 0;
  };
  // 0.5 * 11 → 5: running sums 0 (zero), 1 (light), 10 (heavy) → heavy; then 0..1 → 0 → zero.
  assert.deepEqual(
    orderSrv(records, true, draws(0.5, 0, 0)).map((r) => r.name),
    ['heavy', 'zero', 'light', 'backup'],
  );
  // A draw of exactly 0 picks the weight-0 record first; then 0.99 * 11 → 10 → heavy.
  assert.deepEqual(
    orderSrv(records, true, draws(0, 0.99, 0)).map((r) => r.name),
    ['zero', 'heavy', 'light', 'backup'],
  );
  // 1/11 → 1 → light (running sum 1 reaches it before heavy).
  assert.deepEqual(
    orderSrv(records, true, draws(1 / 11 + 0.001, 0.99)).map((r) => r.name),
    ['light', 'heavy', 'zero', 'backup'],
  );
  // Without load balancing, a priority keeps the order received.
  assert.deepEqual(
    orderSrv(records, false).map((r) => r.name),
    ['light', 'zero', 'heavy', 'backup'],
  );
  // "." means the service is not offered: no target.
  assert.deepEqual(orderSrv([srv(0, 0, '.'), srv(1, 0, 'b.example.com.')], true), [
    srv(1, 0, 'b.example.com'),
  ]);
});

test('TTL cache: entries expire, the least recently used go first, TTL 0 is not kept', () => {
  let now = 0;
  const cache = new TtlCache<string>(2, () => now);
  cache.set('a', 'A', 10);
  cache.set('b', 'B', 1);
  assert.equal(cache.get('a'), 'A'); // a is now the most recently used
  cache.set('c', 'C', 10); // full: b, the least recently used, goes
  assert.equal(cache.size, 2);
  assert.equal(cache.get('b'), undefined);
  assert.equal(cache.get('c'), 'C');
  now = 9_999;
  assert.equal(cache.get('a'), 'A');
  now = 10_000;
  assert.equal(cache.get('a'), undefined, 'expired at its TTL');
  cache.set('z', 'Z', 0);
  assert.equal(cache.get('z'), undefined);
  assert.throws(() => new TtlCache(0), /maxEntries/);
});

test('config: defaults, preferences and servers', () => {
  const schema = z.strictObject(dnsConfigShape);
  const defaults = schema.parse({});
  const options = dnsResolverOptions(defaults, 5061);
  assert.deepEqual(options.transports, ['tls', 'tcp', 'udp']);
  assert.equal(options.timeoutMs, 2000);
  assert.equal(options.failover, true);
  assert.equal(options.tryNaptr, true);
  assert.equal(options.cacheMaxTtl, 3600);

  const custom = schema.parse({
    dns_udp_pref: 40,
    dns_tcp_pref: -1,
    dns_try_naptr: 'no',
    disable_dns_failover: 'yes',
    dns_servers: ['127.0.0.1:5353', '[::1]:53', '::1', '192.0.2.1'],
  });
  const o = dnsResolverOptions(custom, 5071);
  assert.deepEqual(o.transports, ['udp', 'tls']);
  assert.equal(o.tryNaptr, false);
  assert.equal(o.failover, false);
  assert.equal(o.tlsPort, 5071);
  // Every form the schema accepts is one Node's resolver takes.
  assert.doesNotThrow(() => new NodeDnsClient({ servers: custom.dns_servers }));

  for (const bad of ['dns.example.com', '[127.0.0.1]:53', '192.0.2.1:', '127.0.0.1:0', '127.0.0.1:70000']) {
    assert.equal(parseDnsServer(bad), undefined, bad);
    assert.equal(schema.safeParse({ dns_servers: [bad] }).success, false, bad);
  }
  assert.deepEqual(parseDnsServer('[2001:db8::1]:5353'), { host: '2001:db8::1', port: 5353 });
  assert.equal(schema.safeParse({ dns_udp_pref: -2 }).success, false);
});
