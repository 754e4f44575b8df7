// RFC 3263 resolution end to end: Node's resolver asks a DNS server of ours on loopback, which serves
// NAPTR, SRV, A and AAAA records with TTLs and logs every question, so each test checks both the
// targets and which queries were (and were not) sent.
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { SipResolver, type SipResolverOptions, type SipTarget } from '../../src/dns/index.js';
import { TestDnsServer } from './dns-server.js';
import { prng } from '../helpers/prng.js';

const dns = new TestDnsServer();
let server = '';

before(async () => {
  server = await dns.start();
});
after(() => dns.close());
beforeEach(() => {
  dns.silent = false;
  dns.queries.length = 0;
});

const resolver = (options: SipResolverOptions = {}) =>
  new SipResolver({ servers: [server], timeoutMs: 300, tries: 1, ...options });

/** proto:address:port of each target, compact for assertions. */
const where = (targets: readonly SipTarget[]) => targets.map((t) => `${t.proto}:${t.address}:${t.port}`);

/** A domain with three NAPTR services (served out of order), one SRV target and address each. */
function naptrDomain(domain: string): void {
  const naptr = (order: number, preference: number, services: string, replacement: string) => ({
    order,
    preference,
    flags: 'S',
    services,
    regexp: '',
    replacement,
  });
  dns.set(domain, 'NAPTR', [
    naptr(20, 10, 'SIP+D2U', `_sip._udp.${domain}`),
    naptr(5, 1, 'SIP+D2W', `_sip._ws.${domain}`), // unusable: first in order, must be skipped
    naptr(10, 20, 'SIP+D2T', `_sip._tcp.${domain}`),
    naptr(10, 10, 'SIPS+D2T', `_sips._tcp.${domain}`),
  ]);
  dns.set(`_sips._tcp.${domain}`, 'SRV', [{ priority: 1, weight: 1, port: 5061, target: `tls.${domain}` }]);
  dns.set(`_sip._tcp.${domain}`, 'SRV', [{ priority: 1, weight: 1, port: 5060, target: `tcp.${domain}` }]);
  dns.set(`_sip._udp.${domain}`, 'SRV', [{ priority: 1, weight: 1, port: 5070, target: `udp.${domain}` }]);
  dns.set(`_sip._ws.${domain}`, 'SRV', [{ priority: 1, weight: 1, port: 80, target: `ws.${domain}` }]);
  dns.set(`tls.${domain}`, 'A', ['192.0.2.11']);
  dns.set(`tcp.${domain}`, 'A', ['192.0.2.12']);
  dns.set(`udp.${domain}`, 'A', ['192.0.2.13']);
  dns.set(`ws.${domain}`, 'A', ['192.0.2.14']);
}

test('NAPTR: services in order/preference order, each through its SRV records', async () => {
  naptrDomain('naptr.test');
  const { targets, failure } = await resolver().resolve('sip:alice@naptr.test');
  assert.deepEqual(where(targets), ['tls:192.0.2.11:5061', 'tcp:192.0.2.12:5060', 'udp:192.0.2.13:5070']);
  assert.equal(failure, undefined);
  assert.deepEqual(targets[0], {
    proto: 'tls',
    address: '192.0.2.11',
    port: 5061,
    family: 4,
    serverName: 'naptr.test', // RFC 5922: the URI's domain, not the SRV target
    hostName: 'tls.naptr.test',
    srvName: '_sips._tcp.naptr.test',
    origin: 'naptr',
  });
  assert.equal(dns.count('SRV', '_sip._ws.naptr.test'), 0, 'no lookup for an unusable service');
});

test('targets are found lazily: the first costs only the lookups that lead to it', async () => {
  naptrDomain('lazy.test');
  const targets = resolver().targets('sip:lazy.test');
  const first = await targets.next();
  assert.equal(first?.address, '192.0.2.11');
  assert.deepEqual(dns.queries, ['NAPTR lazy.test', 'SRV _sips._tcp.lazy.test', 'A tls.lazy.test']);
  assert.equal((await targets.next())?.address, '192.0.2.12');
  assert.equal(dns.count('SRV', '_sip._udp.lazy.test'), 0);
});

test('sips: only TLS services and SRV sets are used', async () => {
  naptrDomain('secure.test');
  const viaNaptr = await resolver().resolve('sips:secure.test');
  assert.deepEqual(where(viaNaptr.targets), ['tls:192.0.2.11:5061']);

  // Without NAPTR, only _sips._tcp is asked for.
  dns.remove('secure.test', 'NAPTR');
  dns.queries.length = 0;
  const viaSrv = await resolver().resolve('sips:secure.test');
  assert.deepEqual(where(viaSrv.targets), ['tls:192.0.2.11:5061']);
  assert.equal(viaSrv.targets[0]?.origin, 'srv');
  assert.deepEqual(dns.queries, ['NAPTR secure.test', 'SRV _sips._tcp.secure.test', 'A tls.secure.test']);

  // sips: over UDP does not exist.
  const udp = await resolver().resolve('sips:secure.test;transport=udp');
  assert.deepEqual(udp.targets, []);
  assert.equal(udp.failure?.kind, 'invalid');
  assert.match(udp.failure?.message ?? '', /transport=udp/);
});

test('SRV: without NAPTR, TLS then TCP then UDP sets; records by ascending priority', async () => {
  dns.set('_sip._udp.prio.test', 'SRV', [
    { priority: 30, weight: 5, port: 5060, target: 'c.prio.test' },
    { priority: 10, weight: 5, port: 5062, target: 'a.prio.test' },
    { priority: 20, weight: 5, port: 5064, target: 'b.prio.test' },
  ]);
  dns.set('a.prio.test', 'A', ['192.0.2.21']);
  dns.set('b.prio.test', 'A', ['192.0.2.22']);
  dns.set('c.prio.test', 'A', ['192.0.2.23']);
  const { targets, errors } = await resolver().resolve('sip:prio.test');
  assert.deepEqual(where(targets), ['udp:192.0.2.21:5062', 'udp:192.0.2.22:5064', 'udp:192.0.2.23:5060']);
  assert.deepEqual(dns.queries.slice(0, 4), [
    'NAPTR prio.test',
    'SRV _sips._tcp.prio.test',
    'SRV _sip._tcp.prio.test',
    'SRV _sip._udp.prio.test',
  ]);
  assert.deepEqual(
    errors.map((e) => `${e.type} ${e.name} ${e.kind}`),
    ['NAPTR prio.test nxdomain', 'SRV _sips._tcp.prio.test nxdomain', 'SRV _sip._tcp.prio.test nxdomain'],
  );
});

test('SRV weights: first choices follow the weights (seeded draws)', async () => {
  dns.set('_sip._udp.weights.test', 'SRV', [
    { priority: 10, weight: 10, port: 5060, target: 'w10.weights.test' },
    { priority: 10, weight: 30, port: 5060, target: 'w30.weights.test' },
    { priority: 10, weight: 60, port: 5060, target: 'w60.weights.test' },
    { priority: 20, weight: 100, port: 5060, target: 'backup.weights.test' },
  ]);
  dns.set('w10.weights.test', 'A', ['192.0.2.110']);
  dns.set('w30.weights.test', 'A', ['192.0.2.130']);
  dns.set('w60.weights.test', 'A', ['192.0.2.160']);
  dns.set('backup.weights.test', 'A', ['192.0.2.199']);
  // Seeded, so the test is reproducible: with Math.random a run of bad luck failed CI once.
  const r = resolver({ random: prng(7) });
  const rounds = 2000;
  const firsts = new Map<string, number>();
  for (let i = 0; i < rounds; i++) {
    const first = await r.targets('sip:weights.test;transport=udp').next();
    firsts.set(first!.hostName, (firsts.get(first!.hostName) ?? 0) + 1);
  }
  assert.equal(dns.count('SRV', '_sip._udp.weights.test'), 1, 'records cached, order drawn each time');
  assert.equal(firsts.get('backup.weights.test'), undefined, 'a lower priority never comes first');
  // RFC 2782 draws uniformly over 0..sum (101 values here) and takes the first record whose running
  // sum reaches the draw: w10 wins 0..10, w30 11..40, w60 41..100. ±0.03 is about three standard
  // deviations for 2000 rounds, yet far below the gap to a uniform choice (1/3 each), which fails it.
  for (const [host, wins] of [
    ['w10', 11],
    ['w30', 30],
    ['w60', 60],
  ] as const) {
    const share = (firsts.get(`${host}.weights.test`) ?? 0) / rounds;
    const expected = wins / 101;
    assert.ok(
      Math.abs(share - expected) < 0.03,
      `${host}: share ${share.toFixed(3)}, expected ${expected.toFixed(3)}`,
    );
  }

  // dns_srv_lb off: the order received, every time.
  const plain = resolver({ srvLoadBalance: false });
  for (let i = 0; i < 50; i++) {
    const first = await plain.targets('sip:weights.test;transport=udp').next();
    assert.equal(first?.hostName, 'w10.weights.test');
  }
});

test('explicit port: A/AAAA only, UDP for sip:, TLS for sips:', async () => {
  dns.set('host.test', 'A', ['192.0.2.41']);
  dns.set('host.test', 'AAAA', ['2001:db8::41']);
  const sip = await resolver().resolve('sip:host.test:5080');
  assert.deepEqual(where(sip.targets), ['udp:192.0.2.41:5080']);
  assert.equal(sip.targets[0]?.origin, 'address');
  assert.deepEqual(dns.queries, ['A host.test']);

  const sips = await resolver({ tryIpv6: true }).resolve('sips:host.test:5081');
  assert.deepEqual(where(sips.targets), ['tls:192.0.2.41:5081', 'tls:2001:db8::41:5081']);
  assert.equal(sips.targets[1]?.family, 6);
  assert.equal(sips.targets[1]?.serverName, 'host.test');
});

test('transport parameter: SRV for that transport only; A/AAAA on its default port without SRV', async () => {
  dns.set('_sip._tcp.tp.test', 'SRV', [{ priority: 1, weight: 1, port: 5090, target: 'tcp.tp.test' }]);
  dns.set('_sips._tcp.tp.test', 'SRV', [{ priority: 1, weight: 1, port: 5091, target: 'tls.tp.test' }]);
  dns.set('tcp.tp.test', 'A', ['192.0.2.51']);
  dns.set('tls.tp.test', 'A', ['192.0.2.52']);
  dns.set('tp.test', 'A', ['192.0.2.50']);

  const tcp = await resolver().resolve('sip:tp.test;transport=tcp');
  assert.deepEqual(where(tcp.targets), ['tcp:192.0.2.51:5090']);
  assert.deepEqual(dns.queries, ['SRV _sip._tcp.tp.test', 'A tcp.tp.test'], 'no NAPTR with a transport');

  // transport=tls on sip:, and transport=tcp on sips:, both mean _sips._tcp.
  for (const uri of ['sip:tp.test;transport=tls', 'sips:tp.test;transport=tcp']) {
    assert.deepEqual(where((await resolver().resolve(uri)).targets), ['tls:192.0.2.52:5091'], uri);
  }

  dns.queries.length = 0;
  const udp = await resolver().resolve('sip:tp.test;transport=udp');
  assert.deepEqual(where(udp.targets), ['udp:192.0.2.50:5060']);
  assert.deepEqual(dns.queries, ['SRV _sip._udp.tp.test', 'A tp.test']);

  const unsupported = await resolver().resolve('sip:tp.test;transport=sctp');
  assert.equal(unsupported.failure?.kind, 'invalid');
});

test('numeric hosts are used as they are, without DNS', async () => {
  const r = resolver({ tlsPort: 5071 });
  assert.deepEqual(where((await r.resolve('sip:bob@192.0.2.7')).targets), ['udp:192.0.2.7:5060']);
  assert.deepEqual(where((await r.resolve('sips:192.0.2.7')).targets), ['tls:192.0.2.7:5071']);
  const v6 = await r.resolve('sip:[2001:db8::7]:5099;transport=tcp');
  assert.deepEqual(where(v6.targets), ['tcp:2001:db8::7:5099']);
  assert.equal(v6.targets[0]?.family, 6);
  assert.equal(v6.targets[0]?.serverName, undefined, 'no name to check a certificate against');
  // maddr is the TARGET (RFC 3263 §4).
  assert.deepEqual(where((await r.resolve('sip:example.com;maddr=192.0.2.8')).targets), [
    'udp:192.0.2.8:5060',
  ]);
  assert.deepEqual(dns.queries, []);
});

test('no NAPTR and no SRV: the domain’s own addresses on the default port', async () => {
  dns.set('plain.test', 'A', ['192.0.2.60']);
  const sip = await resolver().resolve('sip:plain.test');
  assert.deepEqual(where(sip.targets), ['udp:192.0.2.60:5060']);
  const sips = await resolver().resolve('sips:plain.test');
  assert.deepEqual(where(sips.targets), ['tls:192.0.2.60:5061']);
  // With UDP switched off (dns_udp_pref -1), a sip: URI falls back to TCP.
  const noUdp = await resolver({ transports: ['tls', 'tcp'] }).resolve('sip:plain.test');
  assert.deepEqual(where(noUdp.targets), ['tcp:192.0.2.60:5060']);
});

test('IPv6: AAAA only with tryIpv6; preferIpv6 puts it first', async () => {
  dns.set('v6.test', 'A', ['192.0.2.61']);
  dns.set('v6.test', 'AAAA', ['2001:db8::61']);
  assert.deepEqual(where((await resolver().resolve('sip:v6.test:5060')).targets), ['udp:192.0.2.61:5060']);
  assert.equal(dns.count('AAAA', 'v6.test'), 0);
  const both = await resolver({ tryIpv6: true }).resolve('sip:v6.test:5060');
  assert.deepEqual(where(both.targets), ['udp:192.0.2.61:5060', 'udp:2001:db8::61:5060']);
  const preferred = await resolver({ tryIpv6: true, preferIpv6: true }).resolve('sip:v6.test:5060');
  assert.deepEqual(where(preferred.targets), ['udp:2001:db8::61:5060', 'udp:192.0.2.61:5060']);
});

test('failover: next target after each failure, without repeats, then none', async () => {
  dns.set('_sip._udp.fail.test', 'SRV', [
    { priority: 10, weight: 0, port: 5060, target: 'a.fail.test' },
    { priority: 20, weight: 0, port: 5060, target: 'b.fail.test' },
    { priority: 30, weight: 0, port: 5060, target: 'a.fail.test' }, // same servers again
    { priority: 40, weight: 0, port: 5060, target: '.' },
  ]);
  dns.set('a.fail.test', 'A', ['192.0.2.31', '192.0.2.32']);
  dns.set('b.fail.test', 'A', ['192.0.2.33']);
  const targets = resolver().targets('sip:fail.test;transport=udp');
  const tried: string[] = [];
  for (let t = await targets.next(); t; t = await targets.next()) {
    tried.push(t.address);
    if (tried.length === 1) assert.equal(dns.count('A', 'b.fail.test'), 0, 'b looked up only when needed');
  }
  assert.deepEqual(tried, ['192.0.2.31', '192.0.2.32', '192.0.2.33']);
  assert.equal(await targets.next(), undefined, 'stays exhausted');
  assert.equal(targets.failure, undefined);

  // disable_dns_failover: the first target only.
  const single = resolver({ failover: false }).targets('sip:fail.test;transport=udp');
  assert.equal((await single.next())?.address, '192.0.2.31');
  assert.equal(await single.next(), undefined);
});

test('TTLs: A records expire with their TTL, NAPTR/SRV after the default TTL, within floor and ceiling', async () => {
  dns.set('ttl.test', 'A', ['192.0.2.71'], 1);
  dns.set('_sip._udp.srvttl.test', 'SRV', [{ priority: 1, weight: 1, port: 5060, target: 'long.test' }]);
  dns.set('long.test', 'A', ['192.0.2.72'], 3600);
  dns.set('zero.test', 'A', ['192.0.2.73'], 0);
  const r = resolver({ cacheDefaultTtl: 1, cacheMaxTtl: 2, cacheMinTtl: 1 });
  const resolveAll = async () => ({
    ttl: where((await r.resolve('sip:ttl.test:5060')).targets),
    srv: where((await r.resolve('sip:srvttl.test;transport=udp')).targets),
    zero: where((await r.resolve('sip:zero.test:5060')).targets),
  });
  await resolveAll();
  dns.set('ttl.test', 'A', ['192.0.2.81'], 1);
  assert.deepEqual((await resolveAll()).ttl, ['udp:192.0.2.71:5060'], 'still cached');
  assert.equal(dns.count('A', 'ttl.test'), 1);
  assert.equal(dns.count('SRV', '_sip._udp.srvttl.test'), 1);
  assert.equal(dns.count('A', 'zero.test'), 1, 'TTL 0 raised to the 1 s floor');

  await sleep(1200);
  assert.deepEqual((await resolveAll()).ttl, ['udp:192.0.2.81:5060'], 'expired after 1 s');
  assert.equal(dns.count('A', 'ttl.test'), 2);
  assert.equal(dns.count('SRV', '_sip._udp.srvttl.test'), 2, 'SRV kept for the default TTL');
  assert.equal(dns.count('A', 'zero.test'), 2);
  assert.equal(dns.count('A', 'long.test'), 1, 'a 3600 s TTL is still cached at 1.2 s');

  await sleep(1000);
  await resolveAll();
  assert.equal(dns.count('A', 'long.test'), 2, 'but no longer than the 2 s ceiling');
});

test('negative caching: NXDOMAIN is remembered for the negative TTL', async () => {
  const r = resolver({ negativeTtl: 1 });
  const missing = await r.resolve('sip:neg.test:5060');
  assert.deepEqual(missing.targets, []);
  assert.equal(missing.failure?.kind, 'nxdomain');
  assert.match(missing.failure?.message ?? '', /^A neg\.test: no such domain/);

  dns.set('neg.test', 'A', ['192.0.2.91']);
  assert.deepEqual((await r.resolve('sip:neg.test:5060')).targets, [], 'still negative');
  assert.equal(dns.count('A', 'neg.test'), 1);
  await sleep(1200);
  assert.deepEqual(where((await r.resolve('sip:neg.test:5060')).targets), ['udp:192.0.2.91:5060']);
  assert.equal(dns.count('A', 'neg.test'), 2);

  // NODATA (the name exists, not the type) is negative too.
  dns.set('nodata.test', 'AAAA', ['2001:db8::92']);
  const nodata = await r.resolve('sip:nodata.test:5060');
  assert.equal(nodata.failure?.kind, 'nodata');
  await r.resolve('sip:nodata.test:5060');
  assert.equal(dns.count('A', 'nodata.test'), 1);
});

test('the cache is bounded: least recently used answers make room', async () => {
  for (const n of [1, 2, 3]) dns.set(`lru${n}.test`, 'A', [`192.0.2.10${n}`]);
  const r = resolver({ cacheMaxEntries: 2 });
  for (const n of [1, 2, 3]) await r.resolve(`sip:lru${n}.test:5060`);
  assert.equal(r.cacheSize, 2);
  await r.resolve('sip:lru3.test:5060');
  assert.equal(dns.count('A', 'lru3.test'), 1, 'recent: cached');
  await r.resolve('sip:lru1.test:5060');
  assert.equal(dns.count('A', 'lru1.test'), 2, 'evicted: asked again');
  r.flushCache();
  assert.equal(r.cacheSize, 0);
});

test('concurrent resolutions of one name share its queries', async () => {
  naptrDomain('shared.test');
  const r = resolver();
  const results = await Promise.all([1, 2, 3].map(() => r.resolve('sip:shared.test')));
  for (const { targets } of results) assert.equal(targets.length, 3);
  assert.equal(dns.count('NAPTR', 'shared.test'), 1);
});

test('a DNS server that does not answer: a timeout failure, soon, and no further queries', async () => {
  dns.silent = true;
  const started = Date.now();
  const { targets, failure, errors } = await resolver({ timeoutMs: 200 }).resolve('sip:silent.test');
  const elapsed = Date.now() - started;
  assert.deepEqual(targets, []);
  assert.equal(failure?.kind, 'timeout');
  assert.equal(failure?.code, 'ETIMEOUT');
  assert.equal(failure?.message, `NAPTR silent.test: no answer from DNS server ${server} (ETIMEOUT)`);
  assert.equal(errors.length, 1);
  assert.ok(elapsed < 3000, `took ${elapsed} ms`);
  assert.deepEqual(dns.queries, ['NAPTR silent.test'], 'resolution ended at the first silence');
});

test('a timeout is not cached: once the server answers again, the name resolves', async () => {
  const r = resolver({ timeoutMs: 200 });
  dns.silent = true;
  assert.equal((await r.resolve('sip:back.test')).failure?.kind, 'timeout');
  dns.silent = false;
  dns.set('back.test', 'A', ['192.0.2.98']);
  const { targets } = await r.resolve('sip:back.test');
  assert.deepEqual(where(targets), ['udp:192.0.2.98:5060']);
  assert.equal(dns.count('NAPTR', 'back.test'), 2);
});

test('a DNS server port that is closed: an unreachable failure', async () => {
  const probe = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', resolve));
  const closedPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const r = new SipResolver({ servers: [`127.0.0.1:${closedPort}`], timeoutMs: 200, tries: 1 });
  const started = Date.now();
  const { targets, failure } = await r.resolve('sip:closed.test:5060');
  assert.deepEqual(targets, []);
  // Loopback answers a closed UDP port with ICMP port unreachable, which c-ares reports at once.
  assert.equal(failure?.kind, 'unreachable');
  assert.equal(
    failure?.message,
    `A closed.test: DNS server 127.0.0.1:${closedPort} unreachable (ECONNREFUSED)`,
  );
  assert.ok(Date.now() - started < 2500);
});

test('close() abandons queries in progress', async () => {
  dns.silent = true;
  const r = resolver({ timeoutMs: 5000 });
  const pending = r.resolve('sip:closing.test');
  await sleep(50);
  const started = Date.now();
  r.close();
  const { targets, failure } = await pending;
  assert.deepEqual(targets, []);
  assert.equal(failure?.kind, 'unreachable');
  assert.equal(failure?.code, 'ECANCELLED');
  assert.ok(Date.now() - started < 2500);
});

test('input that cannot be resolved is an error value, not an exception', async () => {
  const r = resolver();
  for (const input of ['tel:+15551234', 'not a uri', 'sip:']) {
    const { targets, failure } = await r.resolve(input);
    assert.deepEqual(targets, [], input);
    assert.equal(failure?.kind, 'invalid', input);
  }
  // A TargetSpec (the router's `tls:host:port` form) works like the URI it stands for.
  dns.set('spec.test', 'A', ['192.0.2.111']);
  const spec = await r.resolve({ host: 'spec.test', port: 5061, transport: 'tls' });
  assert.deepEqual(where(spec.targets), ['tls:192.0.2.111:5061']);
  assert.equal(spec.targets[0]?.serverName, 'spec.test');
  const bracketed = await r.resolve({ host: '[2001:db8::112]', port: 5062, transport: 'tcp' });
  assert.deepEqual(where(bracketed.targets), ['tcp:2001:db8::112:5062']);
  assert.equal((await r.resolve({ host: '.' })).failure?.kind, 'invalid');
});
