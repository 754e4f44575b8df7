// Over TCP and TLS nothing is retransmitted (timers A, E and G run on UDP only), and the timeouts
// still end the branch with 408; a response going upstream over TCP is sent once.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { StreamPeer } from '../helpers/peers.js';
import { answer, isRequest, isStatus, sleep, startProxy, StreamUas, UacRequest, UdpPeer } from './peers.js';

const FR_TIMEOUT = 400;

describe('INVITE and non-INVITE over reliable transports', () => {
  for (const proto of ['tcp', 'tls'] as const) {
    test(`no retransmission to a ${proto.toUpperCase()} next hop; 408 when fr_timeout passes`, async () => {
      const next = { hop: '' };
      const proxy = await startProxy(
        async (ctx, tm) => {
          await tm.relay(ctx.msg, ctx.inbound, next.hop);
        },
        { finalTimeout: FR_TIMEOUT },
      );
      const pki = proxy.server.pki;
      const uas = await StreamUas.listen(
        proto === 'tls'
          ? { cert: readFileSync(pki.serverCertFile), key: readFileSync(pki.serverKeyFile) }
          : undefined,
      );
      next.hop = `${proto}:127.0.0.1:${uas.port}`;
      const uac = await UdpPeer.open();
      for (const method of ['INVITE', 'OPTIONS']) {
        const request = new UacRequest(method, uac.port);
        const started = performance.now();
        uac.send(request.text(), proxy.udp);
        const timeout = await uac.next((r) => r.msg.callId === request.callId && isStatus(408)(r));
        assert.ok(timeout.at - started >= FR_TIMEOUT - 50, `${method}: 408 after ${timeout.at - started} ms`);
        const sent = uas.all((r) => r.msg.callId === request.callId && isRequest(method)(r));
        assert.equal(sent.length, 1, `${method} sent once over ${proto}`);
        assert.match(sent[0]!.msg.topVia().transport, new RegExp(`^${proto}$`, 'i'));
      }
      assert.equal(uas.connections, 1, 'one connection for both requests');
    });
  }

  test('a final response to an INVITE that came over TCP is sent once (no timer G)', async () => {
    const uas = await UdpPeer.open();
    const proxy = await startProxy(async (ctx, tm) => {
      await tm.relay(ctx.msg, ctx.inbound, `udp:127.0.0.1:${uas.port}`);
    });
    const uac = await StreamPeer.tcp(proxy.tcp);
    try {
      const invite = new UacRequest('INVITE', uac.socket.localPort!, undefined, 'TCP');
      uac.write(invite.text());
      const atUas = await uas.next(isRequest('INVITE'));
      answer(atUas, 480);
      await uac.until((text) => text.includes('SIP/2.0 480'));
      await sleep(300); // fifteen T1: over UDP the 480 would have come several times by now
      assert.equal(uac.received.match(/^SIP\/2\.0 480/gm)?.length, 1, uac.received);
      assert.equal(uac.received.match(/^SIP\/2\.0 100/gm)?.length, 1, 'and one 100 Trying');
    } finally {
      uac.close();
    }
  });
});
