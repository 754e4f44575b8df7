// End to end over real loopback sockets: the server on its defaults answers OPTIONS over UDP, TCP
// and TLS, answers keepalives, and contains malformed input to the connection that sent it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import {
  options,
  StreamPeer,
  startTestServer,
  statusOf,
  tlsClientOptions,
  udpRequest,
  type TestServer,
} from '../helpers/peers.js';

describe('OPTIONS round trips on the built-in script', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(async () => {
    await t.stop();
  });

  test('UDP: 200 OK, with received and rport stamped in the Via', async () => {
    const res = await udpRequest(t.port('udp'), options('UDP'));
    assert.equal(statusOf(res), 200);
    assert.match(
      res,
      /^Via: SIP\/2\.0\/UDP 127\.0\.0\.1:9;branch=z9hG4bK-test-\d+;rport=\d+(;received=127\.0\.0\.1)?\r$/m,
    );
    assert.match(res, /^To: <sip:127\.0\.0\.1>;tag=/m);
  });

  test('TCP: 200 OK on the same connection, twice', async () => {
    const peer = await StreamPeer.tcp(t.port('tcp'));
    peer.write(options('TCP'));
    await peer.until((r) => r.includes('SIP/2.0 200 OK'));
    peer.write(options('TCP'));
    const all = await peer.until((r) => r.split('SIP/2.0 200 OK').length === 3);
    assert.equal(all.split('SIP/2.0 200 OK').length, 3);
    peer.close();
  });

  test('TLS: 200 OK, and a CRLFCRLF ping gets a CRLF pong', async () => {
    const peer = await StreamPeer.tls(t.port('tls'), tlsClientOptions(t.pki));
    peer.write('\r\n\r\n');
    await peer.until((r) => r === '\r\n');
    peer.write(options('TLS'));
    const res = await peer.until((r) => r.includes('Content-Length: 0\r\n\r\n'));
    assert.equal(statusOf(res.slice(2)), 200);
    peer.close();
  });

  test('TLS with a client certificate: the connection shows a verified peer', async () => {
    const peer = await StreamPeer.tls(t.port('tls'), tlsClientOptions(t.pki, true));
    peer.write(options('TLS'));
    await peer.until((r) => r.includes('SIP/2.0 200 OK'));
    const conns = [...t.server.transport.connections.all()].filter(
      (c) => c.proto === 'tls' && c.direction === 'in',
    );
    assert.ok(conns.some((c) => c.tls?.peer.verified === true && c.tls.domain === 'default'));
    peer.close();
  });

  test('a request with a bad Content-Length gets 400 with the reason; others on UDP unaffected', async () => {
    const bad = options('UDP').replace('Content-Length: 0', 'Content-Length: -3');
    const res = await udpRequest(t.port('udp'), bad);
    assert.equal(statusOf(res), 400);
    assert.match(res, /^Warning: 399 sipsd ".+"\r$/m);
    assert.equal(statusOf(await udpRequest(t.port('udp'), options('UDP'))), 200);
  });

  test('garbage on one TLS connection closes only that connection', async () => {
    const good = await StreamPeer.tls(t.port('tls'), tlsClientOptions(t.pki));
    const bad = await StreamPeer.tls(t.port('tls'), tlsClientOptions(t.pki));
    bad.write('\x00\xff\x13garbage that is not SIP\r\n\r\n');
    bad.write('INVITE sip:x SIP/2.0\r\nVia: SIP/2.0/TLS h;branch=z9hG4bK1\r\n\r\n'); // no Content-Length on a stream
    await bad.untilClosed();
    good.write(options('TLS'));
    await good.until((r) => r.includes('SIP/2.0 200 OK'));
    good.close();
  });

  test('a TCP client that sends nothing never blocks the TLS handshake of others', async () => {
    const silent = netConnect({ host: '127.0.0.1', port: t.port('tls') });
    silent.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => silent.on('close', () => resolve()));
    const peer = await StreamPeer.tls(t.port('tls'), tlsClientOptions(t.pki));
    peer.write(options('TLS'));
    await peer.until((r) => r.includes('SIP/2.0 200 OK'));
    peer.close();
    await closed; // closed by tls_handshake_timeout (100 ms)
  });

  test('a ClientHello that waits in our own queue past tls_handshake_timeout is still served', async () => {
    // As when thousands of phones reconnect: the connection is accepted (its deadline starts),
    // then the event loop is busy for longer than the timeout while the ClientHello sits in the
    // socket. The deadline bounds the peer, so this client must get its handshake.
    const raw = netConnect({ host: '127.0.0.1', port: t.port('tls') });
    await new Promise<void>((resolve) => raw.once('connect', resolve));
    await new Promise((r) => setTimeout(r, 30)); // the server has accepted: its 100 ms run
    const secure = tlsConnect({ socket: raw, ...tlsClientOptions(t.pki) });
    secure.on('error', () => undefined);
    // Let the ClientHello be written without giving the event loop a turn (the server must not read it yet).
    await new Promise((r) => process.nextTick(r));
    assert.ok(raw.bytesWritten > 0, 'the ClientHello is on its way');
    const busyUntil = Date.now() + 250;
    while (Date.now() < busyUntil); // the whole process is busy: the server reads nothing
    await new Promise<void>((resolve, reject) =>
      secure.once('secureConnect', resolve).once('close', () => reject(new Error('closed by sipsd'))),
    );
    const peer = new StreamPeer(secure);
    peer.write(options('TLS'));
    assert.equal(statusOf(await peer.until((r) => r.includes('SIP/2.0 200 OK'))), 200);
    peer.close();
  });
});
