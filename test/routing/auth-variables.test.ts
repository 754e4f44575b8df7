// $au, $ar and $adu read the request's digest credentials as sent, Proxy-Authorization first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage, type SipRequest } from '../../src/sip/index.js';
import { coreVariables } from '../../src/router/core-variables.js';
import { PvRegistry } from '../../src/router/pv.js';
import type { MessageContext } from '../../src/router/context.js';

const pvs = new PvRegistry<MessageContext>();
pvs.register(...coreVariables);

function read(headers: string, expr: string) {
  const text =
    'INVITE sip:bob@domb.test SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-1\r\n' +
    'From: <sip:alice@doma.test>;tag=a\r\nTo: <sip:bob@domb.test>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n' +
    `${headers}Content-Length: 0\r\n\r\n`;
  const parsed = parseMessage(Buffer.from(text));
  assert.ok(parsed.ok);
  // The variables read only the message: a context with just that is enough here.
  const ctx = { msg: parsed.message as SipRequest } as unknown as MessageContext;
  return pvs.get(ctx, expr);
}

test('digest credential variables', () => {
  const proxyAuth =
    'Proxy-Authorization: Digest username="alice", realm="doma.test", nonce="n", uri="sip:bob@domb.test", response="00"\r\n';
  const wwwAuth =
    'Authorization: Digest username="other", realm="elsewhere", nonce="n", uri="sip:x", response="00"\r\n';
  assert.equal(read(proxyAuth + wwwAuth, '$au'), 'alice');
  assert.equal(read(proxyAuth, '$ar'), 'doma.test');
  assert.equal(read(proxyAuth, '$adu'), 'sip:bob@domb.test');
  assert.equal(read(wwwAuth, '$au'), 'other');
  assert.equal(read('', '$au'), undefined);
});
