// Stream limits on real TCP/TLS connections: the chunk limit, the time to complete a message, the
// idle timeout, and a peer that stops reading being cut off while others keep being served.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { options, StreamPeer, startTestServer, tlsClientOptions, type TestServer } from '../helpers/peers.js';

/** Writes the message in `parts` reads, pausing so each arrives in its own read. */
async function writeInParts(peer: StreamPeer, message: string, parts: number): Promise<void> {
  const size = Math.ceil(message.length / parts);
  for (let i = 0; i < parts; i++) {
    peer.write(message.slice(i * size, (i + 1) * size));
    await sleep(40);
  }
}

describe('stream limits', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer('tls_max_msg_chunks: 4\ntcp_max_msg_time: 1\nconnection_timeout: 2\n');
  });
  after(async () => {
    await t.stop();
  });

  test('a message in 4 reads is accepted; in 5 reads the TLS connection is closed', async () => {
    const ok = await StreamPeer.tls(t.port('tls'), tlsClientOptions(t.pki));
    ok.socket.setNoDelay(true);
    await writeInParts(ok, options('TLS'), 4);
    await ok.until((r) => r.includes('SIP/2.0 200 OK'));
    ok.close();

    const tooMany = await StreamPeer.tls(t.port('tls'), tlsClientOptions(t.pki));
    tooMany.socket.setNoDelay(true);
    await writeInParts(tooMany, options('TLS'), 5);
    await tooMany.untilClosed();
    assert.ok(!tooMany.received.includes('200 OK'));
  });

  test('a message not completed within tcp_max_msg_time closes the connection', async () => {
    const peer = await StreamPeer.tcp(t.port('tcp'));
    const started = Date.now();
    peer.write(options('TCP').slice(0, 40));
    await peer.untilClosed(3000);
    assert.ok(Date.now() - started >= 900, 'not before the limit');
  });

  test('an idle connection is closed after connection_timeout; an active one is not', async () => {
    const idle = await StreamPeer.tcp(t.port('tcp'));
    const busy = await StreamPeer.tcp(t.port('tcp'));
    for (let i = 0; i < 6; i++) {
      busy.write('\r\n\r\n');
      await sleep(500);
    }
    assert.equal(idle.closed, true, 'idle connection closed after 2 s');
    assert.equal(busy.closed, false, 'keepalives keep a connection alive');
    busy.close();
  });

  test('a peer that stops reading is cut off by tls_send_timeout; others are still served', async () => {
    const stuck = await StreamPeer.tcp(t.port('tcp'));
    stuck.socket.pause(); // stop reading: the server's replies pile up
    const bounded = 40_000; // bounded load: at most this many requests
    for (let i = 0; i < bounded && !stuck.closed; i++) {
      if (!stuck.socket.write(options('TCP'))) await new Promise((r) => setTimeout(r, 1));
      if (i % 2000 === 0) {
        const other = await StreamPeer.tcp(t.port('tcp'));
        other.write(options('TCP'));
        await other.until((r) => r.includes('SIP/2.0 200 OK'));
        other.close();
      }
    }
    await stuck.untilClosed(5000);
  });
});
