// HEP tracing end to end on loopback: a real sipsd traces to a real UDP collector socket while a TLS
// client talks to it, and while it relays over TLS to a second sipsd and fails to reach a third.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { oneline } from '../../src/trace/payload.js';
import {
  options,
  startTestServer,
  statusOf,
  StreamPeer,
  tlsClientOptions,
  type TestServer,
} from '../helpers/peers.js';
import { UdpCollector, type Received } from './collector.js';

const NET_EVENT = 0x59;

describe('HEP tracing of TLS connections, end to end', () => {
  let collector: UdpCollector;
  let b: TestServer | undefined;
  let a: TestServer | undefined;
  let deadPort = 0;

  before(async () => {
    collector = await UdpCollector.start();
    b = await startTestServer();
    // A port nobody listens on: connecting there fails.
    const probe = await UdpCollector.start();
    deadPort = probe.port;
    await probe.close();
    const script = join(b.dir, 'relay.ts');
    writeFileSync(
      script,
      `export default {
        async request(ctx) {
          const user = ctx.pv('$rU');
          if (user === 'relay') return ctx.forward('tls:127.0.0.1:${b.port('tls')}');
          if (user === 'dead') {
            try { await ctx.forward('tls:127.0.0.1:${deadPort}'); }
            catch { return ctx.reply(503, 'Unreachable'); }
          }
          return ctx.reply(200, 'OK');
        },
      };\n`,
    );
    a = await startTestServer(
      `script: ${script}\ntrace_destination: udp:127.0.0.1:${collector.port}\ntrace_on: true\ntrace_capture_id: 4242`,
      b.pki,
    );
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await collector.close();
  });

  const byCorrelation = (id: string) => collector.received.filter((r) => r.hep.correlationId === id);

  test('an accepted connection: ACCEPTED with certificates, TLS facts and a key log that matches the session; its SIP both ways; CLOSED', async () => {
    assert.ok(a && b);
    const peer = await StreamPeer.tls(a.port('tls'), tlsClientOptions(a.pki, true));
    const clientKeyLog: string[] = [];
    // The client learns the same secrets; lines logged before secureConnect are read back below.
    (peer.socket as TLSSocket).on('keylog', (line: Buffer) => clientKeyLog.push(line.toString().trim()));
    const clientPort = peer.socket.localPort!;
    const request = options('TLS');
    peer.write(request);
    await peer.until((r) => statusOf(r) === 200);

    await collector.until(
      (all) => all.some((r) => r.json?.Event === 'ACCEPTED' && r.hep.srcPort === clientPort),
      3000,
      'ACCEPTED',
    );
    const accepted = collector.received.find(
      (r) => r.json?.Event === 'ACCEPTED' && r.hep.srcPort === clientPort,
    )!;
    const id = accepted.hep.correlationId!;
    const conn = [...a.server.transport.connections.all()].find((c) => c.remote.port === clientPort)!;
    assert.equal(id, String(conn.id), 'the correlation id is the connection id');

    // HEP envelope: client → server, TLS marked as IP protocol 22, our capture id, the event type.
    assert.equal(accepted.hep.protoType, NET_EVENT);
    assert.equal(accepted.hep.ipProto, 22);
    assert.equal(accepted.hep.captureId, 4242);
    assert.deepEqual(
      [accepted.hep.src, accepted.hep.srcPort, accepted.hep.dst, accepted.hep.dstPort],
      ['127.0.0.1', clientPort, '127.0.0.1', a.port('tls')],
    );
    assert.ok(Math.abs(accepted.hep.timeSec - Date.now() / 1000) < 10);

    const ev = accepted.json!;
    assert.equal(ev.Protocol, 'TLS');
    assert.equal(ev.Status, 'SUCCESS');
    const serverCert = new X509Certificate(readFileSync(a.pki.serverCertFile));
    const clientCert = new X509Certificate(readFileSync(a.pki.clientCertFile));
    assert.equal(ev['client-subject'], oneline(clientCert.subject));
    assert.equal(ev['client-issuer'], oneline(clientCert.issuer));
    assert.equal(ev['server-subject'], oneline(serverCert.subject));
    assert.equal(ev['server-issuer'], oneline(serverCert.issuer));
    assert.equal(ev['tls-version'], (peer.socket as TLSSocket).getProtocol());
    assert.equal(ev.cipher, (peer.socket as TLSSocket).getCipher().name);
    assert.equal(ev['tls-domain'], 'default');
    assert.equal(ev['server-name'], 'localhost');

    // The key log is this session's: the client derived the very same secrets.
    const traced = ev['key-log']!.split('\n');
    assert.ok(traced.length >= 1, 'key log present');
    if (ev['tls-version'] === 'TLSv1.3') {
      assert.deepEqual(traced.map((l) => l.split(' ')[0]).sort(), [
        'CLIENT_HANDSHAKE_TRAFFIC_SECRET',
        'CLIENT_TRAFFIC_SECRET_0',
        'EXPORTER_SECRET',
        'SERVER_HANDSHAKE_TRAFFIC_SECRET',
        'SERVER_TRAFFIC_SECRET_0',
      ]);
    }
    for (const line of clientKeyLog)
      assert.ok(traced.includes(line), `client's ${line.split(' ')[0]} traced`);

    // SIP both ways on the connection, correlated to it.
    await collector.until(
      (all) => all.filter((r) => r.hep.correlationId === id && r.hep.protoType === 1).length >= 2,
    );
    const sip = byCorrelation(id).filter((r) => r.hep.protoType === 1);
    const inbound = sip.find((r) => r.text.startsWith('OPTIONS '))!;
    const outbound = sip.find((r) => r.text.startsWith('SIP/2.0 200'))!;
    assert.equal(inbound.text, request, 'the request exactly as received');
    assert.deepEqual([inbound.hep.srcPort, inbound.hep.dstPort], [clientPort, a.port('tls')]);
    assert.deepEqual([outbound.hep.srcPort, outbound.hep.dstPort], [a.port('tls'), clientPort]);
    assert.ok(outbound.text.includes('Call-ID: ' + /Call-ID: (\S+)/.exec(request)![1]));
    assert.equal(inbound.hep.ipProto, 22);

    peer.close();
    await collector.until((all) => all.some((r) => r.hep.correlationId === id && r.json?.Event === 'CLOSED'));
    const closed = byCorrelation(id).find((r) => r.json?.Event === 'CLOSED')!;
    assert.equal(closed.json!.Status, 'SUCCESS');
    assert.ok(closed.json!.Message, 'the reason is told');
    const order = byCorrelation(id).map((r: Received) => r.json?.Event ?? 'SIP');
    assert.equal(order[0], 'ACCEPTED');
    assert.equal(order.at(-1), 'CLOSED');
  });

  test('an outbound connection: CONNECTED with our client certificate and the peer server one, and the relayed SIP', async () => {
    assert.ok(a && b);
    const peer = await StreamPeer.tls(a.port('tls'), tlsClientOptions(a.pki));
    peer.write(options('TLS').replace('OPTIONS sip:127.0.0.1', 'OPTIONS sip:relay@127.0.0.1'));
    await peer.until((r) => statusOf(r) === 200);
    const found = await collector.until((all) =>
      all.some((r) => r.json?.Event === 'CONNECTED' && r.hep.dstPort === b!.port('tls')),
    );
    const connected = found.find((r) => r.json?.Event === 'CONNECTED')!;
    const ev = connected.json!;
    assert.equal(ev.Status, 'SUCCESS');
    const clientCert = new X509Certificate(readFileSync(a.pki.clientCertFile));
    const serverCert = new X509Certificate(readFileSync(a.pki.serverCertFile));
    assert.equal(ev['client-subject'], oneline(clientCert.subject), 'sipsd is the TLS client here');
    assert.equal(ev['server-subject'], oneline(serverCert.subject));
    assert.ok(ev['key-log']);
    const out = [...a.server.transport.connections.all()].find((c) => c.direction === 'out')!;
    assert.equal(connected.hep.correlationId, String(out.id));
    assert.deepEqual([connected.hep.srcPort, connected.hep.dstPort], [out.local.port, b.port('tls')]);
    const id = connected.hep.correlationId!;
    await collector.until(
      (all) => all.filter((r) => r.hep.correlationId === id && r.hep.protoType === 1).length >= 2,
    );
    const sip = byCorrelation(id).filter((r) => r.hep.protoType === 1);
    assert.ok(sip.some((r) => r.text.startsWith('OPTIONS sip:relay@') && r.hep.dstPort === b!.port('tls')));
    assert.ok(sip.some((r) => r.text.startsWith('SIP/2.0 200') && r.hep.srcPort === b!.port('tls')));
    peer.close();
  });

  test('a connection that cannot be made: CONNECTED FAILURE with the reason', async () => {
    assert.ok(a);
    const peer = await StreamPeer.tls(a.port('tls'), tlsClientOptions(a.pki));
    peer.write(options('TLS').replace('OPTIONS sip:127.0.0.1', 'OPTIONS sip:dead@127.0.0.1'));
    await peer.until((r) => statusOf(r) === 503);
    const isIt = (r: Received) => r.json?.Status === 'FAILURE' && r.hep.dstPort === deadPort;
    const failed = (await collector.until((all) => all.some(isIt))).find(isIt)!;
    assert.equal(failed.json!.Event, 'CONNECTED');
    assert.match(failed.json!.Message!, /ECONNREFUSED|refused/i);
    assert.equal(failed.hep.dstPort, deadPort);
    assert.equal(failed.hep.correlationId, undefined, 'no connection, no correlation id');
    peer.close();
  });
});
