// The router runs scripts synchronously when they are: a script may answer without a promise,
// return an action's promise, throw, or reject, and each failure is answered 500 unless the script
// had already acted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isStatus, startProxy, UacRequest, UdpPeer } from '../tm/peers.js';

test('sync answer, returned promise, throw and rejection: 200, 202, 500, 500; no 500 after an answer', async () => {
  const uac = await UdpPeer.open();
  const proxy = await startProxy(() => undefined);
  proxy.server.server.router.setScript({
    request(ctx) {
      switch (ctx.msg.getHeader('Subject')) {
        case 'sync':
          void ctx.reply(200, 'OK');
          return;
        case 'returned':
          return ctx.reply(202, 'Accepted');
        case 'throws':
          throw new Error('script bug');
        case 'rejects':
          return Promise.reject(new Error('async script bug'));
        case 'answered-then-rejects':
          return ctx.reply(486, 'Busy Here').then(() => Promise.reject(new Error('late bug')));
      }
      return undefined;
    },
  });
  const cases: Array<[string, number]> = [
    ['sync', 200],
    ['returned', 202],
    ['throws', 500],
    ['rejects', 500],
    ['answered-then-rejects', 486],
  ];
  for (const [subject, status] of cases) {
    const req = new UacRequest('MESSAGE', uac.port);
    uac.send(req.text(`Subject: ${subject}\r\n`), proxy.udp);
    const answer = await uac.next((r) => isStatus(status)(r) && r.msg.callId === req.callId);
    assert.equal(answer.msg.isRequest, false);
  }
  // Only the one answer each: the 486 was not followed by a 500.
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(uac.all(isStatus(500)).length, 2);
  assert.equal(uac.received.length, cases.length);
});
