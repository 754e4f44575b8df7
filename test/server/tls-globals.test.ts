// Global TLS knobs on real sockets: the low-memory guards, disable_tls, tls_port_no,
// ssl_max_send_fragment (record sizes read from `openssl s_client -trace`) and tls_async.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { options, StreamPeer, serverPool, tlsClientOptions, type TestServer } from '../helpers/peers.js';
import { sClient } from '../helpers/openssl.js';
import { validateConfigText } from '../../src/config/load.js';

const server = serverPool();

/** More free heap than any test machine has, in KB: the guard always trips. */
const HUGE_KB = 1_000_000_000_000;

describe('low memory guards', () => {
  test('under low_mem_threshold1 new TLS connections are refused; TCP is unaffected', async () => {
    const t = await server(`low_mem_threshold1: ${HUGE_KB}`);
    await assert.rejects(async () => {
      const peer = await StreamPeer.tls(t.port('tls'), tlsClientOptions(t.pki));
      peer.close();
    });
    const tcp = await StreamPeer.tcp(t.port('tcp'));
    tcp.write(options('TCP'));
    await tcp.until((r) => r.includes('SIP/2.0 200 OK'));
    tcp.close();
  });

  test('under low_mem_threshold2 an established TLS connection is closed when it is used', async () => {
    const t = await server(`low_mem_threshold1: 0\nlow_mem_threshold2: ${HUGE_KB}`);
    const peer = await StreamPeer.tls(t.port('tls'), tlsClientOptions(t.pki));
    peer.write(options('TLS'));
    await peer.untilClosed(3000);
    assert.doesNotMatch(peer.received, /SIP\/2\.0/);
  });

  test('0 turns both guards off', async () => {
    const t = await server(`low_mem_threshold1: 0\nlow_mem_threshold2: 0`);
    const peer = await StreamPeer.tls(t.port('tls'), tlsClientOptions(t.pki));
    peer.write(options('TLS'));
    await peer.until((r) => r.includes('SIP/2.0 200 OK'));
    peer.close();
  });
});

describe('disable_tls', () => {
  test('tls listen entries are skipped and outbound TLS fails with the reason', async () => {
    const t = await server('disable_tls: yes');
    assert.deepEqual(
      t.server.listeners.map((l) => l.proto),
      ['udp', 'tcp'],
    );
    await assert.rejects(
      t.server.transport.send({ proto: 'tls', address: '127.0.0.1', port: 9 }, Buffer.from('x')),
      /TLS is disabled \(disable_tls\)/,
    );
  });
});

describe('tls_port_no (Kamailio core name of tls_port)', () => {
  test('sets tls_port; contradicting tls_port is an error naming both', () => {
    const ok = validateConfigText('tls_port_no: 5071\n', '/tmp/sipsd.yaml');
    assert.ok(ok.ok);
    assert.equal(ok.config.tls_port, 5071);
    const bad = validateConfigText('tls_port: 5061\ntls_port_no: 5071\n', '/tmp/sipsd.yaml');
    assert.ok(!bad.ok);
    assert.deepEqual(
      bad.problems.map((p) => [p.key, p.line, p.message]),
      [['tls_port_no', 2, 'tls_port_no 5071 contradicts tls_port 5061: keep one of them']],
    );
  });
});

describe('tls_async', () => {
  test('0 is accepted (Node never blocks) and the server works as usual', async () => {
    const t = await server('tls_async: 0');
    const peer = await StreamPeer.tls(t.port('tls'), tlsClientOptions(t.pki));
    peer.write(options('TLS'));
    await peer.until((r) => r.includes('SIP/2.0 200 OK'));
    peer.close();
  });
});

describe('ssl_max_send_fragment', () => {
  /** Record lengths of the application data s_client received while sipsd sent it `size` bytes. */
  async function recordLengths(t: TestServer, size: number): Promise<number[]> {
    const run = sClient(t.port('tls'), [
      '-CAfile',
      t.pki.caFile,
      '-servername',
      'localhost',
      '-trace',
      '-quiet',
    ]);
    const deadline = Date.now() + 3000;
    let conn;
    while (!(conn = [...t.server.transport.connections.all()].find((c) => c.proto === 'tls'))) {
      if (Date.now() > deadline) assert.fail('s_client did not connect');
      await new Promise((r) => setTimeout(r, 20));
    }
    await t.server.transport.send(
      { proto: 'tls', address: conn.remote.address, port: conn.remote.port, connectionId: conn.id },
      Buffer.alloc(size, 0x41),
    );
    setTimeout(() => conn.close('test done'), 300);
    const { output } = await run;
    // In TLS 1.3 a record is the payload, 1 byte of inner content type and a 16-byte tag.
    return [...output.matchAll(/Length = (\d+)\n\s*Inner Content Type = ApplicationData/g)].map((m) =>
      Number(m[1]),
    );
  }

  test('512 splits a 1500-byte message into records of at most 512 bytes of plaintext', async () => {
    const lengths = await recordLengths(await server('ssl_max_send_fragment: 512'), 1500);
    assert.deepEqual(lengths, [529, 529, 493]);
  });

  test('by default (-1) the same message leaves in one record', async () => {
    const lengths = await recordLengths(await server(''), 1500);
    assert.deepEqual(lengths, [1517]);
  });

  test('values outside 512–16384 are refused with the accepted range', () => {
    const bad = validateConfigText('ssl_max_send_fragment: 100\n', '/tmp/sipsd.yaml');
    assert.ok(!bad.ok);
    assert.match(bad.problems[0]!.message, /-1 or between 512 and 16384/);
  });
});
