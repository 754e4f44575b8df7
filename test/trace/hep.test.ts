// Unit tests of HEP tracing's parts: the HEP3 encoder (against bytes laid out by hand from the HEP3
// specification), trace_destination parsing, the event payload, and the collector senders on real
// sockets, including a collector that is down.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createTestPki } from '../../src/pki/index.js';
import { encodeHep, HEP_MAX_LENGTH, ipBytes } from '../../src/trace/hep.js';
import { parseTraceDestination } from '../../src/trace/destination.js';
import { oneline, tlsFields } from '../../src/trace/payload.js';
import { createHepSender } from '../../src/trace/sender.js';
import type { ConnectionView } from '../../src/transport/events.js';
import { decodeHep, TcpCollector, UdpCollector } from './collector.js';

const packet = (payload: string, over: Partial<Parameters<typeof encodeHep>[0]> = {}) =>
  encodeHep({
    ipProto: 22,
    src: { address: '192.0.2.1', port: 5061 },
    dst: { address: '198.51.100.2', port: 40000 },
    timeUs: 1_700_000_000_123_456,
    protoType: 1,
    captureId: 7,
    correlationId: '9',
    payload: Buffer.from(payload),
    ...over,
  });

/** A logger whose lines the test reads. */
function captureLog() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'info' }, stream), lines };
}

const until = async (pred: () => boolean, timeoutMs = 3000) => {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('HEP3 encoder', () => {
  test('lays out the header and every chunk as the HEP3 specification says', () => {
    const expected = [
      '48455033 006d', // "HEP3", total length 109
      '0000 0001 0007 02', // IP family: AF_INET
      '0000 0002 0007 16', // IP protocol: 22, the HEP mark for TLS
      '0000 0003 000a c0000201', // IPv4 source 192.0.2.1
      '0000 0004 000a c6336402', // IPv4 destination 198.51.100.2
      '0000 0007 0008 13c5', // source port 5061
      '0000 0008 0008 9c40', // destination port 40000
      '0000 0009 000a 6553f100', // seconds 1700000000
      '0000 000a 000a 0001e240', // microseconds 123456
      '0000 000b 0007 01', // payload type: SIP
      '0000 000c 000a 00000007', // capture agent id 7
      '0000 0011 0007 39', // correlation id "9"
      '0000 000f 0009 616263', // payload "abc"
    ]
      .join('')
      .replace(/ /g, '');
    assert.equal(packet('abc').toString('hex'), expected);
  });

  test('IPv6 addresses use the IPv6 chunks; a lone IPv4 side is written IPv4-mapped', () => {
    const v6 = decodeHep(
      packet('x', { src: { address: '2001:db8::1', port: 1 }, dst: { address: '::ffff:10.0.0.1', port: 2 } }),
    );
    assert.equal(v6.family, 10);
    assert.deepEqual([v6.src, v6.dst], ['2001:db8:0:0:0:0:0:1', '0:0:0:0:0:ffff:a00:1']);
    assert.ok(v6.types.includes(5) && v6.types.includes(6) && !v6.types.includes(3));
    const mixed = decodeHep(
      packet('x', { src: { address: '::1', port: 1 }, dst: { address: '127.0.0.1', port: 2 } }),
    );
    assert.deepEqual([mixed.family, mixed.src, mixed.dst], [10, '0:0:0:0:0:0:0:1', '0:0:0:0:0:ffff:7f00:1']);
  });

  test('ipBytes reads every IPv6 spelling, and unknown text as 0.0.0.0', () => {
    assert.equal(ipBytes('fe80::1%eth0').toString('hex'), 'fe800000000000000000000000000001');
    assert.equal(ipBytes('1:2:3:4:5:6:7:8').toString('hex'), '00010002000300040005000600070008');
    assert.equal(ipBytes('::').toString('hex'), '0'.repeat(32));
    assert.equal(ipBytes('64:ff9b::192.0.2.33').toString('hex'), '0064ff9b0000000000000000c0000221');
    assert.equal(ipBytes('not-an-ip').toString('hex'), '00000000');
  });

  test('without a correlation id there is no correlation chunk; UTF-8 payloads keep their bytes', () => {
    const p = decodeHep(packet('Grüße ✓', { correlationId: undefined }));
    assert.ok(!p.types.includes(0x11));
    assert.equal(p.payload.toString('utf8'), 'Grüße ✓');
  });

  test('a packet over the 16-bit length limit is refused, not truncated', () => {
    const fits = HEP_MAX_LENGTH - packet('').length;
    assert.equal(packet('a'.repeat(fits)).length, HEP_MAX_LENGTH);
    assert.throws(() => packet('a'.repeat(fits + 1)), RangeError);
  });
});

describe('trace_destination', () => {
  const parse = (t: string) => {
    const r = parseTraceDestination(t);
    return r.ok ? r.destination : r.reason;
  };
  test('sipsd and OpenSIPS hep_id forms', () => {
    assert.deepEqual(parse('udp:127.0.0.1:9060'), { transport: 'udp', host: '127.0.0.1', port: 9060 });
    assert.deepEqual(parse('tcp:[::1]:9061'), { transport: 'tcp', host: '::1', port: 9061 });
    assert.deepEqual(parse('homer.example.com'), { transport: 'udp', host: 'homer.example.com', port: 9060 });
    assert.deepEqual(parse('[hep_dest] 10.0.0.5:9062;transport=tcp;version=3'), {
      transport: 'tcp',
      host: '10.0.0.5',
      port: 9062,
    });
  });
  test('refusals say why', () => {
    assert.match(String(parse('udp:1.2.3.4:9060;version=2')), /only HEP version 3/);
    assert.match(String(parse('udp:1.2.3.4:9060;transport=tcp')), /says udp .* transport=tcp/);
    assert.match(String(parse('sctp:1.2.3.4')), /expected \[udp:\|tcp:\]host/);
    assert.match(String(parse('udp:1.2.3.4:70000')), /out of range/);
    assert.match(String(parse('udp:[1.2.3.4]:9060')), /not an IPv6 address/);
    assert.match(String(parse('1.2.3.4;foo=bar')), /unknown parameter "foo=bar"/);
  });
});

describe('connection event payload', () => {
  test('names TLS roles, gives subjects in OpenSSL one-line form, protocol, cipher and key material', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sipsd-trace-'));
    try {
      const pki = await createTestPki(join(dir, 'pki'));
      const server = new X509Certificate(readFileSync(pki.serverCertFile));
      const client = new X509Certificate(readFileSync(pki.clientCertFile));
      const keyLog = ['CLIENT_RANDOM 00ff 8899aabb'];
      const view = (direction: 'in' | 'out'): ConnectionView => ({
        id: 1,
        proto: 'tls',
        direction,
        local: { address: '127.0.0.1', port: 5061 },
        remote: { address: '127.0.0.1', port: 40000 },
        keyLog,
        tls: {
          domain: 'default',
          serverName: 'localhost',
          protocol: 'TLSv1.2',
          cipher: 'ECDHE-RSA-AES128-GCM-SHA256',
          cipherBits: 128,
          peer: {
            presented: true,
            verified: true,
            revoked: false,
            expired: false,
            selfSigned: false,
            code: undefined,
            reason: undefined,
          },
          peerCertificate: direction === 'in' ? client : server,
          localCertificate: direction === 'in' ? server : client,
        },
      });
      for (const direction of ['in', 'out'] as const) {
        const f = tlsFields(view(direction));
        assert.equal(f['client-subject'], oneline(client.subject), direction);
        assert.equal(f['server-subject'], oneline(server.subject), direction);
        assert.equal(f['server-issuer'], oneline(server.issuer), direction);
        assert.match(f['client-issuer']!, /^\/.*CN=/);
        assert.equal(f['tls-version'], 'TLSv1.2');
        assert.equal(f['cipher'], 'ECDHE-RSA-AES128-GCM-SHA256');
        assert.equal(f['server-name'], 'localhost');
        assert.equal(f['master-key'], '8899aabb', 'TLS 1.2: the master secret of the CLIENT_RANDOM line');
        assert.equal(f['key-log'], keyLog[0]);
      }
      assert.equal(
        oneline('C=SE\nO=Example AB\nCN=sip.example.com'),
        '/C=SE/O=Example AB/CN=sip.example.com',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('collector senders', () => {
  test('UDP: packets reach a real collector socket', async () => {
    const collector = await UdpCollector.start();
    const { log } = captureLog();
    const sender = createHepSender({ transport: 'udp', host: '127.0.0.1', port: collector.port }, log);
    try {
      await until(() => {
        sender.send(packet('ping'));
        return collector.received.length > 0;
      });
      assert.equal(collector.received[0]!.text, 'ping');
    } finally {
      await sender.close();
      await collector.close();
    }
  });

  test('UDP: a collector name that fails to resolve is tried again, and a moved name is followed', async () => {
    const first = await UdpCollector.start();
    const moved = await UdpCollector.start(first.port, '127.0.0.2');
    const answers: Array<string | Error> = [new Error('queryA ENOTFOUND hep.test'), '127.0.0.1'];
    let address = '127.0.0.1';
    const lookups: string[] = [];
    const lookup = async (host: string) => {
      lookups.push(host);
      const answer = answers.shift() ?? address;
      if (answer instanceof Error) throw answer;
      return answer;
    };
    const { log } = captureLog();
    const sender = createHepSender({ transport: 'udp', host: 'hep.test', port: first.port }, log, {
      lookup,
      reconnectMinMs: 20,
      resolveIntervalMs: 50,
    });
    try {
      // Sent while the name does not resolve yet: held, then delivered once it does.
      sender.send(packet('early'));
      await until(() => first.received.length > 0);
      assert.equal(first.received[0]!.text, 'early');
      assert.ok(lookups.length >= 2, 'looked up again after the failure');
      assert.equal(sender.dropped, 0);
      address = '127.0.0.2';
      await until(() => {
        sender.send(packet('after the move'));
        return moved.received.length > 0;
      });
      assert.equal(moved.received[0]!.text, 'after the move');
      assert.deepEqual(new Set(lookups), new Set(['hep.test']));
    } finally {
      await sender.close();
      await first.close();
      await moved.close();
    }
  });

  test('UDP: a collector that is down costs dropped packets and one log line per interval, never a throw', async () => {
    const gone = await UdpCollector.start();
    const port = gone.port;
    await gone.close();
    const { log, lines } = captureLog();
    const sender = createHepSender({ transport: 'udp', host: '127.0.0.1', port }, log, {
      logIntervalMs: 60_000,
    });
    try {
      await until(() => {
        sender.send(packet('lost'));
        return sender.dropped >= 5;
      });
      const warned = lines.filter((l) => l.msg === 'HEP packets dropped');
      assert.equal(warned.length, 1, JSON.stringify(lines));
      assert.match(String(warned[0]!.reason), /ECONNREFUSED/);
    } finally {
      await sender.close();
    }
    const summary = lines.filter((l) => l.msg === 'HEP packets dropped');
    assert.equal(summary.length, 2, 'closing logs the drops not yet told');
    assert.equal(Number(summary[0]!.dropped) + Number(summary[1]!.dropped), sender.dropped);
  });

  test('drops held back by the log interval are told when it ends, without waiting for another drop', async () => {
    const { log, lines } = captureLog();
    const sender = createHepSender({ transport: 'tcp', host: '127.0.0.1', port: 9 }, log, {
      maxQueuedBytes: 0,
      logIntervalMs: 100,
      reconnectMinMs: 60_000,
    });
    try {
      for (let i = 0; i < 3; i++) sender.send(packet('x'));
      const told = () => lines.filter((l) => l.msg === 'HEP packets dropped').map((l) => l.dropped);
      assert.deepEqual(told(), [1]);
      await until(() => told().length === 2);
      assert.deepEqual(told(), [1, 2]);
    } finally {
      await sender.close();
    }
  });

  test('TCP: packets wait (bounded) for the collector, reconnect after it restarts, drop beyond the cap', async () => {
    const probe = await TcpCollector.start();
    const port = probe.port;
    await probe.close();
    const { log, lines } = captureLog();
    const one = packet('queued').length;
    const sender = createHepSender({ transport: 'tcp', host: '127.0.0.1', port }, log, {
      reconnectMinMs: 20,
      reconnectMaxMs: 50,
      maxQueuedBytes: one * 3,
      logIntervalMs: 60_000,
    });
    let collector: TcpCollector | undefined;
    try {
      for (let i = 0; i < 5; i++) sender.send(packet('queued'));
      assert.equal(sender.dropped, 2, 'three fit the queue, two are dropped');
      assert.ok(lines.some((l) => l.msg === 'HEP packets dropped' && /not connected/.test(String(l.reason))));
      collector = await TcpCollector.start(port);
      await collector.until((r) => r.length === 3);
      sender.send(packet('live'));
      await collector.until((r) => r.length === 4);
      assert.deepEqual(
        collector.received.map((r) => r.text),
        ['queued', 'queued', 'queued', 'live'],
      );
      // The collector goes away and comes back: the sender reconnects by itself.
      await collector.close();
      await new Promise((r) => setTimeout(r, 50));
      collector = await TcpCollector.start(port);
      await until(() => {
        sender.send(packet('again'));
        return collector!.received.some((r) => r.text === 'again');
      });
    } finally {
      await sender.close();
      await collector?.close();
    }
  });
});
