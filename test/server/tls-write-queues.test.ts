// Bounded write queues on real loopback TLS connections: a peer that stops reading is cut off at
// the limit (tls_async_max_postponed_chunks, con_ct_wq_max, ct_wq_max) while others keep flowing.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  options,
  StreamPeer,
  serverPool,
  statusOf,
  tlsClientOptions,
  type TestServer,
} from '../helpers/peers.js';
import type { StreamConnection } from '../../src/transport/connection.js';

const server = serverPool();

/** A TLS peer registered with sipsd (one OPTIONS answered), then deaf: it reads nothing more. */
async function deafPeer(t: TestServer): Promise<{ peer: StreamPeer; conn: StreamConnection }> {
  const peer = await StreamPeer.tls(t.port('tls'), tlsClientOptions(t.pki));
  peer.write(options('TLS'));
  await peer.until((r) => r.includes('SIP/2.0 200 OK'));
  const conn = [...t.server.transport.connections.all()].find(
    (c) => c.direction === 'in' && c.remote.port === peer.socket.localPort,
  )!;
  peer.socket.pause();
  return { peer, conn };
}

/**
 * Sends `size`-byte messages to the connection until a send fails (at most `max` sends or 10 s);
 * returns the failure. Sends are not awaited one by one: a deaf peer never lets them finish.
 */
async function floodUntilRefused(
  t: TestServer,
  conn: StreamConnection,
  size: number,
  max = 20_000,
): Promise<Error> {
  const message = Buffer.alloc(size, 0x41);
  const deadline = Date.now() + 10_000;
  for (let i = 0; i < max && Date.now() < deadline; i++) {
    const failed = await Promise.race([
      t.server.transport
        .send(
          { proto: 'tls', address: conn.remote.address, port: conn.remote.port, connectionId: conn.id },
          message,
        )
        .then(
          () => undefined,
          (err: Error) => err,
        ),
      // A send that neither fails nor completes within a tick is queued: go on.
      new Promise<undefined>((r) => setImmediate(() => r(undefined))),
    ]);
    if (failed) return failed;
  }
  assert.fail('no send was refused');
}

async function stillServes(t: TestServer): Promise<void> {
  const other = await StreamPeer.tls(t.port('tls'), tlsClientOptions(t.pki));
  other.write(options('TLS'));
  assert.equal(statusOf(await other.until((r) => r.includes('SIP/2.0 200 OK'))), 200);
  other.close();
}

describe('write queues', () => {
  test('a burst of replies written in one turn is not a slow peer: all are delivered', async () => {
    // 400 requests in one write: their replies (about 130 KB) are written in one turn of the event
    // loop, over Node's buffer mark, con_ct_wq_max and tls_async_max_postponed_chunks at once.
    const t = await server('');
    const peer = await StreamPeer.tls(t.port('tls'), tlsClientOptions(t.pki));
    const count = 400;
    peer.write(Array.from({ length: count }, () => options('TLS')).join(''));
    const all = await peer.until((r) => r.split('SIP/2.0 200 OK').length - 1 === count, 10_000);
    assert.equal(all.split('SIP/2.0 200 OK').length - 1, count);
    assert.equal(peer.closed, false);
    peer.close();
  });

  test('con_ct_wq_max: the deaf peer is cut off at the byte limit; another connection keeps flowing', async () => {
    const t = await server('con_ct_wq_max: 65536\ntls_send_timeout: 60000');
    const { peer, conn } = await deafPeer(t);
    const err = await floodUntilRefused(t, conn, 4096);
    assert.match(err.message, /over con_ct_wq_max 65536/);
    assert.equal(conn.state, 'closed');
    assert.match(conn.closeReason ?? '', /con_ct_wq_max/);
    peer.socket.resume(); // reads what was delivered, then sees the end
    await peer.untilClosed(5000);
    await stillServes(t);
    assert.equal(t.server.transport.queuedBytes, 0, 'the closed connection released its share of ct_wq_max');
  });

  test('tls_async_max_postponed_chunks: the deaf peer is cut off at the message count', async () => {
    const t = await server(
      'tls_async_max_postponed_chunks: 4\ncon_ct_wq_max: 100000000\ntls_send_timeout: 60000',
    );
    const { conn } = await deafPeer(t);
    const err = await floodUntilRefused(t, conn, 1024);
    assert.match(err.message, /4 messages already wait to be written \(tls_async_max_postponed_chunks\)/);
    await stillServes(t);
  });

  test('ct_wq_max: the total over all connections is bounded too', async () => {
    const t = await server('con_ct_wq_max: 100000000\nct_wq_max: 40000\ntls_send_timeout: 60000');
    const a = await deafPeer(t);
    const b = await deafPeer(t);
    // a holds part of the budget; b then hits the total, although its own limit is far away.
    await floodUntilRefused(t, a.conn, 4096, 20_000).catch(() => undefined);
    const err = await floodUntilRefused(t, b.conn, 4096);
    assert.match(err.message, /over ct_wq_max 40000/);
    await stillServes(t);
  });

  test('tls_send_timeout: a connection whose writes make no progress is closed', async () => {
    const t = await server(
      'tls_send_timeout: 300\ncon_ct_wq_max: 100000000\nct_wq_max: 100000000\ntls_async_max_postponed_chunks: 100000',
    );
    const { conn } = await deafPeer(t);
    const message = Buffer.alloc(65536, 0x41);
    const target = {
      proto: 'tls' as const,
      address: conn.remote.address,
      port: conn.remote.port,
      connectionId: conn.id,
    };
    // Enough to fill the kernel's buffers; then nothing moves and the timer fires.
    for (let i = 0; i < 400 && conn.state === 'open'; i++) {
      t.server.transport.send(target, message).catch(() => undefined);
      await new Promise((r) => setImmediate(r));
    }
    const deadline = Date.now() + 5000;
    while (conn.state === 'open' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.match(conn.closeReason ?? '', /tls_send_timeout/);
  });
});
