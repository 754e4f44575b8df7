// Non-INVITE transactions over UDP: timer E doubles up to T2 (every T2 once a provisional response
// came), timer F ends with 408, 100 Trying is neither generated nor relayed, and retransmitted
// requests are absorbed (silently while Trying, with the last response afterwards).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  answer,
  gaps,
  isRequest,
  isStatus,
  sleep,
  startProxy,
  UacRequest,
  UdpPeer,
  type Received,
} from './peers.js';

const callOf = (request: UacRequest) => (r: Received) => r.msg.callId === request.callId;

async function setup(settings: Parameters<typeof startProxy>[1]) {
  const uas = await UdpPeer.open();
  const uac = await UdpPeer.open();
  const proxy = await startProxy(async (ctx, tm) => {
    await tm.relay(ctx.msg, ctx.inbound, `udp:127.0.0.1:${uas.port}`);
  }, settings);
  return { uas, uac, proxy };
}

/**
 * Intervals between retransmissions as received, compared by their running sums (the time of each
 * retransmission after the first): one late receipt on a loaded machine then shifts the schedule a
 * little instead of halving one interval, while a wrong schedule (no doubling, no cap at T2) is
 * still far outside the bounds.
 */
function assertIntervals(actual: number[], expected: number[]): void {
  assert.equal(
    actual.length,
    expected.length,
    `intervals ${actual.join(', ')}; expected ${expected.join(', ')}`,
  );
  let got = 0;
  let want = 0;
  for (const [i, interval] of expected.entries()) {
    got += actual[i]!;
    want += interval;
    assert.ok(
      got >= want * 0.9 - 20 && got < want * 1.1 + 40,
      `retransmission ${i + 1} at ${got.toFixed(1)} ms, expected ${want} ms (intervals ${actual.map((a) => a.toFixed(1)).join(', ')})`,
    );
  }
}

describe('non-INVITE over UDP', () => {
  test('timer E doubles from T1 up to T2, and timer F ends the branch with 408', async () => {
    const { uas, uac, proxy } = await setup({ t1: 20, t2: 80, finalTimeout: 600 });
    const options = new UacRequest('OPTIONS', uac.port);
    const started = performance.now();
    uac.send(options.text(), proxy.udp);
    const timeout = await uac.next(isStatus(408));
    assert.ok(timeout.at - started >= 550, `408 after ${timeout.at - started} ms`);
    // Sent at 0, 20, 60, 140, 220, 300, 380, 460, 540 ms.
    assertIntervals(gaps(uas.all(isRequest('OPTIONS'))), [20, 40, 80, 80, 80, 80, 80, 80]);
    assert.equal(uac.all(isStatus(100)).length, 0, 'no 100 Trying for a non-INVITE');
  });

  test('after a provisional response the request is retransmitted every T2; the 100 stops at the proxy', async () => {
    const { uas, uac, proxy } = await setup({ t1: 20, t2: 200, finalTimeout: 750 });
    const message = new UacRequest('MESSAGE', uac.port);
    uac.send(message.text(), proxy.udp);
    const first = await uas.next(isRequest('MESSAGE'));
    answer(first, 100);
    await uac.next(isStatus(408), 2000);
    // Sent at 0, then about 200, 400 and 600 ms after the 100.
    assertIntervals(gaps(uas.all(isRequest('MESSAGE'))), [200, 200, 200]);
    assert.equal(uac.all(isStatus(100)).length, 0, 'the 100 was not relayed');
  });

  test('a retransmitted request is absorbed while Trying and answered with the last response once Completed', async () => {
    const { uas, uac, proxy } = await setup({ t1: 20, t2: 80 });
    const message = new UacRequest('MESSAGE', uac.port);
    const mine = callOf(message);
    uac.send(message.text(), proxy.udp);
    const atUas = await uas.next(isRequest('MESSAGE'));
    uac.send(message.text(), proxy.udp);
    await sleep(60);
    assert.equal(uac.all(mine).length, 0, 'nothing to re-send yet');
    const branches = new Set(uas.all(isRequest('MESSAGE')).map((r) => r.msg.topVia().branch));
    assert.equal(branches.size, 1, 'only the proxy retransmits: one branch');

    answer(atUas, 202);
    await uac.next(isStatus(202));
    uac.send(message.text(), proxy.udp);
    const answers = await uac.waitFor(isStatus(202), 2);
    assert.equal(answers[1]!.msg.to().tag, 'uas-tag');
    assert.equal(proxy.routed.filter((r) => r.callId === message.callId).length, 1, 'the script ran once');
    await sleep(100);
    assert.equal(uac.all(isStatus(202)).length, 2, 'a non-INVITE final response is not retransmitted');
  });
});
