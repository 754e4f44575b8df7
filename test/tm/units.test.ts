// The pure parts of the transaction layer: its configuration keys, the timer table, transaction
// keys (§17.2.3 and the RFC 2543 fallback), best response selection, and the requests a branch
// builds (the relayed copy, its ACK and its CANCEL).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { parseMessage, type SipRequest, type SipResponse } from '../../src/sip/index.js';
import {
  bestResponseIndex,
  defaultTmSettings,
  timerValues,
  tmConfigShape,
  tmSettings,
} from '../../src/tm/index.js';
import { serverKey } from '../../src/tm/keys.js';
import { buildAck, buildCancel, serializeForBranch } from '../../src/tm/requests.js';

const schema = z.strictObject(tmConfigShape);

/** Parses a message written with bare newlines (as here) or read off the wire (CRLF). */
function parse(text: string | Buffer) {
  const wire = typeof text === 'string' ? Buffer.from(text.replace(/\r?\n/g, '\r\n')) : text;
  const parsed = parseMessage(wire);
  if (!parsed.ok) throw new Error(parsed.error.reason);
  return parsed.message;
}

const INVITE = `INVITE sip:bob@example.test SIP/2.0
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc
Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKfirst
Route: <sip:p1.example.test;lr>
Max-Forwards: 5
From: <sip:alice@example.test>;tag=f1
To: <sip:bob@example.test>
Call-ID: c1@test
CSeq: 7 INVITE
Content-Length: 0

`;

describe('configuration', () => {
  test('defaults follow RFC 3261 and OpenSIPS', () => {
    const config = schema.parse({});
    assert.equal(config.T1_timer, 500);
    assert.equal(config.T2_timer, 4000);
    assert.equal(config.T4_timer, 5000);
    assert.equal(config.fr_timeout, undefined);
    assert.equal(config.fr_inv_timeout, 180);
    const settings = tmSettings(config);
    assert.deepEqual(settings, defaultTmSettings());
    const udp = timerValues(settings, false);
    assert.equal(udp.b, 32_000, 'timer B is 64*T1 without fr_timeout');
    assert.equal(udp.f, 32_000);
    assert.equal(udp.c, 180_000);
  });

  test('fr_timeout and fr_inv_timeout are seconds; the T timers milliseconds; flags accept 0/1', () => {
    const settings = tmSettings(
      schema.parse({ T1_timer: 100, fr_timeout: 5, fr_inv_timeout: 60, auto_100trying: 0 }),
    );
    assert.equal(settings.t1, 100);
    assert.equal(settings.finalTimeout, 5000);
    assert.equal(settings.inviteTimeout, 60_000);
    assert.equal(settings.auto100Trying, false);
    assert.equal(timerValues(settings, false).h, 6400, 'H stays 64*T1');
  });

  test('bad values are refused with a reason', () => {
    for (const bad of [{ T1_timer: 0 }, { fr_timeout: 1.5 }, { fr_inv_timeout: 'long' }, { fr_timer: 5 }]) {
      const result = schema.safeParse(bad);
      assert.equal(result.success, false, JSON.stringify(bad));
    }
  });

  test('the wait states collapse to zero on reliable transports only', () => {
    const s = defaultTmSettings();
    const udp = timerValues(s, false);
    const tcp = timerValues(s, true);
    assert.deepEqual([udp.d, udp.i, udp.j, udp.k], [32_000, 5000, 32_000, 5000]);
    assert.deepEqual([tcp.d, tcp.i, tcp.j, tcp.k], [0, 0, 0, 0]);
    assert.equal(tcp.h, udp.h, 'H waits for the ACK whatever the transport');
  });
});

describe('transaction keys', () => {
  test('ACK and CANCEL find their INVITE by branch and sent-by, case-insensitively', () => {
    const invite = parse(INVITE) as SipRequest;
    const ack = parse(
      INVITE.replace('INVITE sip', 'ACK sip')
        .replace('7 INVITE', '7 ACK')
        .replace('z9hG4bKabc', 'z9hG4bKABC'),
    ) as SipRequest;
    const cancel = parse(
      INVITE.replace('INVITE sip', 'CANCEL sip').replace('7 INVITE', '7 CANCEL'),
    ) as SipRequest;
    assert.equal(serverKey(ack).key, serverKey(invite).key);
    assert.notEqual(serverKey(cancel).key, serverKey(invite).key, 'a CANCEL is a transaction of its own');
    assert.equal(serverKey(cancel, 'INVITE').key, serverKey(invite).key);
    const elsewhere = parse(INVITE.replace('192.0.2.1:5060', '192.0.2.1:5070')) as SipRequest;
    assert.notEqual(serverKey(elsewhere).key, serverKey(invite).key, 'sent-by is part of the key');
    assert.equal(serverKey(invite).legacy, false);
  });

  test('RFC 2543 requests (no magic cookie) are keyed by Request-URI, From tag, Call-ID, CSeq and Via', () => {
    const old = INVITE.replace('branch=z9hG4bKabc', 'branch=1');
    const invite = parse(old) as SipRequest;
    const key = serverKey(invite);
    assert.equal(key.legacy, true);
    assert.equal(serverKey(parse(old.replace('tag=f1', 'tag=f2')) as SipRequest).key === key.key, false);
    assert.equal(
      serverKey(parse(old.replace('CSeq: 7', 'CSeq: 8').replace('7 INVITE', '8 INVITE')) as SipRequest)
        .key === key.key,
      false,
    );
    assert.equal(
      serverKey(parse(old.replace('INVITE sip:bob', 'INVITE sip:carol')) as SipRequest).key === key.key,
      false,
    );
  });
});

describe('best response (§16.7 step 6)', () => {
  test('6xx beats everything, else the lowest class, the earliest within it', () => {
    assert.equal(bestResponseIndex([486, 404, 500]), 0);
    assert.equal(bestResponseIndex([500, 404, 486]), 1);
    assert.equal(bestResponseIndex([302, 404]), 0);
    assert.equal(bestResponseIndex([404, 302]), 1);
    assert.equal(bestResponseIndex([404, 603, 302]), 1);
    assert.equal(bestResponseIndex([]), -1);
  });
});

describe('branch requests', () => {
  const via = 'SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bK-sipsd-x1;rport';

  test('the relayed copy has our Via on top and Max-Forwards decremented; the message is left as it was', () => {
    const invite = parse(INVITE) as SipRequest;
    const before = invite.headerFields().map((h) => `${h.name}: ${h.value}`);
    const { data, sent } = serializeForBranch(invite, via);
    const copy = parse(data) as SipRequest;
    assert.equal(copy.vias().length, 3);
    assert.equal(copy.topVia().branch, 'z9hG4bK-sipsd-x1');
    assert.equal(copy.maxForwards(), 4);
    assert.deepEqual(
      invite.headerFields().map((h) => `${h.name}: ${h.value}`),
      before,
    );
    assert.deepEqual(sent.routes, ['<sip:p1.example.test;lr>']);

    const none = parse(INVITE.replace('Max-Forwards: 5\n', '')) as SipRequest;
    const added = parse(serializeForBranch(none, via).data) as SipRequest;
    assert.equal(added.maxForwards(), 70, 'added when absent');
    assert.equal(none.getHeader('Max-Forwards'), undefined);
  });

  test('ACK and CANCEL repeat the branch request with only our Via; the ACK takes the To of the response', () => {
    const { sent } = serializeForBranch(parse(INVITE) as SipRequest, via);
    const response = parse(
      `SIP/2.0 486 Busy Here\nVia: ${via}\nFrom: <sip:alice@example.test>;tag=f1\nTo: <sip:bob@example.test>;tag=t9\nCall-ID: c1@test\nCSeq: 7 INVITE\nContent-Length: 0\n\n`,
    ) as SipResponse;
    const ack = parse(buildAck(sent, response)) as SipRequest;
    assert.equal(ack.method, 'ACK');
    assert.equal(ack.uri, 'sip:bob@example.test');
    assert.equal(ack.vias().length, 1);
    assert.equal(ack.topVia().branch, 'z9hG4bK-sipsd-x1');
    assert.equal(ack.to().tag, 't9');
    assert.deepEqual(ack.cseq(), { seq: 7, method: 'ACK' });
    assert.deepEqual(ack.getHeaders('Route'), ['<sip:p1.example.test;lr>']);

    const cancel = parse(buildCancel(sent)) as SipRequest;
    assert.equal(cancel.method, 'CANCEL');
    assert.equal(cancel.to().tag, undefined);
    assert.deepEqual(cancel.cseq(), { seq: 7, method: 'CANCEL' });
    assert.equal(cancel.topVia().branch, 'z9hG4bK-sipsd-x1');
    assert.equal(cancel.callId, 'c1@test');
  });
});
