// Sending on open connections: sendNow without promises, writes of one turn gathered into one, and
// errors of a connection that closes while its writes are gathered.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { silentLogger } from '../../src/log/logger.js';
import { DEFAULT_SIP_LIMITS } from '../../src/sip/index.js';
import type { TlsProvider } from '../../src/tls/provider.js';
import { TransportLayer, type TransportSettings } from '../../src/transport/transport-layer.js';
import type { Inbound, SentFrom } from '../../src/transport/types.js';
import { options } from '../helpers/peers.js';

const settings: TransportSettings = {
  listen: [{ proto: 'tcp', host: '127.0.0.1', port: 0 }],
  limits: DEFAULT_SIP_LIMITS,
  maxChunks: 0,
  crlfPingPong: false,
  crlfDrop: false,
  idleTimeoutMs: undefined,
  messageTimeoutMs: 10_000,
  sendTimeoutMs: 10_000,
  handshakeTimeoutMs: 1000,
  connectTimeoutMs: 1000,
  tlsConnectTimeoutMs: 1000,
  maxPostponedMessages: 1000,
  connectionQueueMaxBytes: 1 << 20,
  totalQueueMaxBytes: 1 << 24,
  closeNotify: true,
  reuseOnlySameDomain: false,
  renegotiation: false,
  maxSendFragment: undefined,
  memory: { refuseNewKb: 0, closeEstablishedKb: 0 },
  tlsLogLevel: 'debug',
  disableTls: true,
};

interface Outcome {
  err: Error | null | undefined;
  from: SentFrom | undefined;
  /** The callback ran in the turn of the send (it must not). */
  synchronous: boolean;
}

describe('sendNow', () => {
  const transport = new TransportLayer(settings, {} as TlsProvider, silentLogger);
  const inbound: Inbound[] = [];
  let port = 0;

  before(async () => {
    await transport.start((m) => inbound.push(m));
    port = transport.listeners()[0]!.port;
  });
  after(() => transport.stop());

  /** A client connected to the transport, and the id of its connection there. */
  async function peer(): Promise<{ socket: Socket; connectionId: number; received: () => string }> {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    await new Promise((resolve) => socket.once('connect', resolve));
    const before = inbound.length;
    socket.write(options('TCP'));
    for (let i = 0; i < 200 && inbound.length === before; i++) await new Promise((r) => setTimeout(r, 5));
    const connectionId = inbound.at(-1)!.connectionId!;
    return { socket, connectionId, received: () => text };
  }

  /** Sends and collects how the send ended. */
  function sendNow(connectionId: number, data: string): Promise<Outcome> {
    return new Promise((resolve) => {
      let synchronous = true;
      transport.sendNow(
        { proto: 'tcp', address: '127.0.0.1', port: 1, connectionId },
        Buffer.from(data),
        (err, from) => resolve({ err, from, synchronous }),
      );
      synchronous = false;
    });
  }

  test('messages sent in one turn arrive intact and in order, each send reported', async () => {
    const p = await peer();
    // What the socket is asked to write: the three messages of the turn should go as one writev.
    const socket = transport.connections.get(p.connectionId)!.socket as Socket & {
      _write: (...a: unknown[]) => void;
      _writev: (chunks: unknown[], ...a: unknown[]) => void;
    };
    const writes: number[] = [];
    const write = socket._write.bind(socket);
    const writev = socket._writev.bind(socket);
    socket._write = (...a) => (writes.push(1), write(...a));
    socket._writev = (chunks, ...a) => (writes.push(chunks.length), writev(chunks, ...a));
    const messages = Array.from({ length: 3 }, () => options('TCP'));
    const outcomes = await Promise.all(messages.map((m) => sendNow(p.connectionId, m)));
    for (const o of outcomes) {
      assert.equal(o.err ?? undefined, undefined);
      assert.equal(o.synchronous, false);
      assert.deepEqual(o.from, { proto: 'tcp', local: o.from!.local, connectionId: p.connectionId });
    }
    const all = messages.join('');
    for (let i = 0; i < 200 && p.received().length < all.length; i++)
      await new Promise((r) => setTimeout(r, 5));
    assert.equal(p.received(), all);
    assert.deepEqual(writes, [3]);
    p.socket.destroy();
  });

  test('a connection closed in the turn of the send reports the error to it', async () => {
    const p = await peer();
    const sending = sendNow(p.connectionId, options('TCP'));
    transport.connections.get(p.connectionId)!.destroy('closed for the test');
    const outcome = await sending;
    assert.ok(outcome.err instanceof Error);
    assert.equal(outcome.synchronous, false);
    const closed = await sendNow(p.connectionId, options('TCP'));
    assert.ok(closed.err instanceof Error, 'a send to the closed connection fails');
    assert.equal(closed.synchronous, false);
  });

  test('a graceful close in the turn of the send still delivers the message', async () => {
    const p = await peer();
    const message = options('TCP');
    const sending = sendNow(p.connectionId, message);
    transport.connections.get(p.connectionId)!.close('closed for the test');
    assert.equal((await sending).err ?? undefined, undefined);
    await new Promise((resolve) => p.socket.once('end', resolve));
    assert.equal(p.received(), message);
    p.socket.destroy();
  });

  test('the promise API gives the same outcome', async () => {
    const p = await peer();
    const from = await transport.send(
      { proto: 'tcp', address: '127.0.0.1', port: 1, connectionId: p.connectionId },
      Buffer.from(options('TCP')),
    );
    assert.equal(from.connectionId, p.connectionId);
    transport.connections.get(p.connectionId)!.destroy('closed for the test');
    await assert.rejects(
      transport.send(
        { proto: 'tcp', address: '127.0.0.1', port: 1, connectionId: p.connectionId },
        Buffer.from(options('TCP')),
      ),
    );
  });
});
