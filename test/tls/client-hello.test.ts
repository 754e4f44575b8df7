import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { connect } from 'node:tls';
import { readClientHello } from '../../src/tls/client-hello.js';

/** Captures the first bytes a real Node TLS client sends (its ClientHello). */
async function captureHello(servername: string | undefined): Promise<Buffer> {
  const server = createServer();
  const captured = new Promise<Buffer>((resolve) => {
    server.on('connection', (sock) => {
      let buf = Buffer.alloc(0);
      sock.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (readClientHello(buf).status !== 'need-more') {
          resolve(buf);
          sock.destroy();
        }
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const client = connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false });
  client.on('error', () => undefined);
  const hello = await captured;
  client.destroy();
  server.close();
  return hello;
}

test('reads the SNI of a real ClientHello, lower-cased', async () => {
  const hello = await captureHello('Proxy.Example.COM');
  assert.deepEqual(readClientHello(hello), { status: 'ok', serverName: 'proxy.example.com' });
});

test('a ClientHello without SNI yields no name', async () => {
  const hello = await captureHello(undefined);
  assert.deepEqual(readClientHello(hello), { status: 'ok', serverName: undefined });
});

test('needs more bytes at every truncation point, and works when split across records', async () => {
  const hello = await captureHello('a.example.org');
  for (let cut = 0; cut < hello.length; cut++) {
    assert.equal(readClientHello(hello.subarray(0, cut)).status, 'need-more', `cut at ${cut}`);
  }
  // Re-frame the same handshake message into two TLS records, as large ClientHellos are.
  const body = hello.subarray(5);
  const half = Math.floor(body.length / 2);
  const record = (frag: Buffer) =>
    Buffer.concat([Buffer.from([0x16, 0x03, 0x01, frag.length >> 8, frag.length & 0xff]), frag]);
  const split = Buffer.concat([record(body.subarray(0, half)), record(body.subarray(half))]);
  assert.deepEqual(readClientHello(split), { status: 'ok', serverName: 'a.example.org' });
});

test('plain SIP or garbage is recognised as not TLS', () => {
  const sip = Buffer.from('OPTIONS sip:a SIP/2.0\r\n');
  assert.equal(readClientHello(sip).status, 'not-tls');
  assert.equal(readClientHello(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00])).status, 'not-tls');
  // A handshake record whose message is not a ClientHello.
  assert.equal(
    readClientHello(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00])).status,
    'not-tls',
  );
});
