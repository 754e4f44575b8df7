// CANCEL (RFC 3261 §9, §16.10) through a real sipsd: answered 200 by the proxy and applied to the
// INVITE's branches, sent downstream only once a branch had a provisional response (also when that
// response comes after the CANCEL), without effect after the final response, forwarded statelessly
// when no transaction knows it, and a cancelled branch that never answers ends with 487.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  answer,
  isRequest,
  isStatus,
  sleep,
  startProxy,
  UacRequest,
  UdpPeer,
  type Proxy,
  type Received,
} from './peers.js';

describe('CANCEL', () => {
  let proxy: Proxy;
  let uac: UdpPeer;
  let uas: UdpPeer;
  before(async () => {
    uas = await UdpPeer.open();
    uac = await UdpPeer.open();
    proxy = await startProxy(async (ctx, tm) => {
      await tm.relay(ctx.msg, ctx.inbound, `udp:127.0.0.1:${uas.port}`);
    });
  });

  /** Starts an INVITE; returns it and the copy the UAS received. */
  async function call() {
    const invite = new UacRequest('INVITE', uac.port);
    const mine = (r: Received) => r.msg.callId === invite.callId;
    uac.send(invite.text(), proxy.udp);
    const atUas = await uas.next((r) => mine(r) && isRequest('INVITE')(r));
    return { invite, mine, atUas };
  }
  const cseqMethod = (method: string) => (r: Received) => r.msg.cseq().method === method;

  test('after a provisional response: 200 for the CANCEL, CANCEL on the branch, then 487 for the INVITE', async () => {
    const { invite, mine, atUas } = await call();
    answer(atUas, 180);
    await uac.next((r) => mine(r) && isStatus(180)(r));

    uac.send(invite.cancel(), proxy.udp);
    const ok = await uac.next((r) => mine(r) && isStatus(200)(r));
    assert.equal(ok.msg.cseq().method, 'CANCEL');
    const cancel = await uas.next((r) => mine(r) && isRequest('CANCEL')(r));
    assert.equal(cancel.msg.topVia().branch, atUas.msg.topVia().branch, "the INVITE branch's CANCEL");
    assert.equal(cancel.msg.vias().length, 1, 'built by the proxy: its Via only');
    assert.equal(cancel.request.uri, atUas.request.uri);
    assert.equal(cancel.msg.cseq().seq, invite.cseq);
    assert.equal(cancel.msg.to().tag, undefined, 'the To of the INVITE');
    assert.ok(!proxy.routed.some((r) => r.method === 'CANCEL'), 'the script never saw the CANCEL');

    // A retransmitted CANCEL gets its 200 again.
    uac.send(invite.cancel(), proxy.udp);
    await uac.waitFor((r) => mine(r) && isStatus(200)(r), 2);

    answer(cancel, 200);
    const terminated = answer(atUas, 487);
    const final = await uac.next((r) => mine(r) && isStatus(487)(r));
    const ack = await uas.next((r) => mine(r) && isRequest('ACK')(r));
    assert.equal(ack.msg.to().tag, terminated.to().tag, 'the 487 was ACKed hop by hop');
    uac.send(invite.ack(final.msg), proxy.udp);
  });

  test('CANCEL before any provisional response (race): held until the 1xx arrives, then sent', async () => {
    const { invite, mine, atUas } = await call();
    uac.send(invite.cancel(), proxy.udp);
    await uac.next((r) => mine(r) && isStatus(200)(r) && cseqMethod('CANCEL')(r));
    await sleep(150);
    assert.equal(uas.all((r) => mine(r) && isRequest('CANCEL')(r)).length, 0, '§9.1: not before a 1xx');

    const ringingSentAt = performance.now();
    answer(atUas, 180);
    const cancel = await uas.next((r) => mine(r) && isRequest('CANCEL')(r));
    assert.ok(cancel.at >= ringingSentAt);
    assert.equal(cancel.msg.topVia().branch, atUas.msg.topVia().branch);
    answer(cancel, 200);
    answer(atUas, 487);
    const final = await uac.next((r) => mine(r) && isStatus(487)(r));
    uac.send(invite.ack(final.msg), proxy.udp);
  });

  test('CANCEL after the final response: answered 200, without effect', async () => {
    const { invite, mine, atUas } = await call();
    answer(atUas, 486);
    const busy = await uac.next((r) => mine(r) && isStatus(486)(r));
    uac.send(invite.cancel(), proxy.udp);
    await uac.next((r) => mine(r) && isStatus(200)(r) && cseqMethod('CANCEL')(r));
    await sleep(150);
    assert.equal(uas.all((r) => mine(r) && isRequest('CANCEL')(r)).length, 0, 'nothing to cancel');
    assert.equal(
      uac.all((r) => mine(r) && cseqMethod('INVITE')(r) && !isStatus(100)(r) && !isStatus(486)(r)).length,
      0,
    );
    uac.send(invite.ack(busy.msg), proxy.udp);
  });

  test('a CANCEL no transaction knows goes to the script, and relay() forwards it statelessly', async () => {
    const invite = new UacRequest('INVITE', uac.port);
    uac.send(invite.cancel(), proxy.udp);
    const cancel = await uas.next((r) => r.msg.callId === invite.callId && isRequest('CANCEL')(r));
    assert.equal(cancel.msg.vias().length, 2, "the proxy's Via on the UAC's");
    assert.ok(proxy.routed.some((r) => r.method === 'CANCEL' && r.callId === invite.callId));
  });

  test('a cancelled branch that never sends its final response ends with 487 after 64*T1', async () => {
    const { invite, mine, atUas } = await call();
    answer(atUas, 183);
    await uac.next((r) => mine(r) && isStatus(183)(r));
    const cancelledAt = performance.now();
    uac.send(invite.cancel(), proxy.udp);
    await uas.next((r) => mine(r) && isRequest('CANCEL')(r)); // and never answered
    const final = await uac.next((r) => mine(r) && isStatus(487)(r), 4000);
    const waited = final.at - cancelledAt;
    assert.ok(waited >= 64 * 20 - 50 && waited < 64 * 20 + 1000, `487 after ${waited} ms`);
    uac.send(invite.ack(final.msg), proxy.udp);
  });
});

describe('timer C (fr_inv_timeout)', () => {
  test('a branch that rings too long is cancelled and ends with 408', async () => {
    const uas = await UdpPeer.open();
    const uac = await UdpPeer.open();
    const proxy = await startProxy(
      async (ctx, tm) => {
        await tm.relay(ctx.msg, ctx.inbound, `udp:127.0.0.1:${uas.port}`);
      },
      { inviteTimeout: 300 },
    );
    const invite = new UacRequest('INVITE', uac.port);
    uac.send(invite.text(), proxy.udp);
    const atUas = await uas.next(isRequest('INVITE'));
    const ringingAt = performance.now();
    answer(atUas, 180);
    const cancel = await uas.next(isRequest('CANCEL'));
    const waited = cancel.at - ringingAt;
    assert.ok(waited >= 250 && waited < 1500, `CANCEL ${waited} ms after the 180`);
    const final = await uac.next((r) => !r.msg.isRequest && r.msg.status >= 200);
    assert.equal(final.response.status, 408);
    answer(cancel, 200);
    answer(atUas, 487);
    await uas.next(isRequest('ACK'));
    await sleep(50);
    assert.equal(uac.all(isStatus(487)).length, 0, 'the 487 is not relayed');
    uac.send(invite.ack(final.msg), proxy.udp);
  });
});
