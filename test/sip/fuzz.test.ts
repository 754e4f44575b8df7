// Robustness: random and mutated inputs must only ever produce values, never exceptions, and
// whatever parses must be safe to use (validated accessors never throw) and re-serialize cleanly.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage } from '../../src/sip/parser.js';
import { serializeMessage, type SipMessage } from '../../src/sip/message.js';
import { StreamFramer } from '../../src/sip/framing.js';
import { DEFAULT_SIP_LIMITS } from '../../src/sip/limits.js';
import { INVITE, OK_200, OPTIONS, REGISTER } from './fixtures.js';
import { prng } from '../helpers/prng.js';

const SEEDS = [INVITE, OK_200, OPTIONS, REGISTER].map((m) => Buffer.from(m));
/** Bytes that matter to SIP syntax, favoured by the mutations. */
const SPECIAL = Buffer.from('\r\n\t :;,<>"\\@%[]/=?&\x00\x7f\xff0');

function mutate(seed: Buffer, random: () => number): Buffer {
  const bytes = [...seed];
  const pick = (n: number) => Math.floor(random() * n);
  const edits = 1 + pick(6);
  for (let e = 0; e < edits; e++) {
    const at = pick(bytes.length + 1);
    switch (pick(6)) {
      case 0:
        bytes[at] = pick(256);
        break;
      case 1:
        bytes.splice(at, 0, SPECIAL[pick(SPECIAL.length)] ?? 0);
        break;
      case 2:
        bytes.splice(at, 1 + pick(20));
        break;
      case 3:
        bytes.splice(at, 0, ...bytes.slice(pick(bytes.length), pick(bytes.length)));
        break;
      case 4:
        bytes.length = Math.min(bytes.length, at);
        break;
      default:
        bytes[at] = SPECIAL[pick(SPECIAL.length)] ?? 0;
    }
  }
  return Buffer.from(bytes);
}

function randomBuffer(random: () => number): Buffer {
  const length = Math.floor(random() * 600);
  return Buffer.from(Array.from({ length }, () => Math.floor(random() * 256)));
}

/** Everything the router relies on after a successful parse. */
function useAsRouter(msg: SipMessage): void {
  msg.topVia();
  msg.vias();
  void msg.from().tag;
  void msg.to().tag;
  msg.cseq();
  void msg.callId;
  msg.maxForwards();
  msg.contacts();
  msg.routes();
  msg.recordRoutes();
  if (msg.isRequest) void msg.requestUri;
}

function check(data: Buffer, stream: boolean): 'ok' | 'error' {
  const result = parseMessage(data, DEFAULT_SIP_LIMITS, { stream });
  assert.equal(typeof result.ok, 'boolean');
  if (!result.ok) {
    assert.equal(typeof result.error.code, 'string');
    assert.equal(typeof result.error.reason, 'string');
    return 'error';
  }
  useAsRouter(result.message);
  const again = parseMessage(serializeMessage(result.message), DEFAULT_SIP_LIMITS, { stream: true });
  assert.ok(again.ok, `re-serialized message does not parse: ${again.ok ? '' : again.error.reason}`);
  return 'ok';
}

describe('fuzz: parseMessage', () => {
  test('random binary buffers never throw', () => {
    const random = prng(1);
    for (let i = 0; i < 3000; i++) check(randomBuffer(random), i % 2 === 0);
  });

  test('mutated real messages never throw; survivors are safe to route and re-serialize', () => {
    const random = prng(2);
    const outcomes = { ok: 0, error: 0 };
    for (let i = 0; i < 6000; i++) {
      const seed = SEEDS[i % SEEDS.length] as Buffer;
      outcomes[check(mutate(seed, random), i % 3 === 0)]++;
    }
    // Both paths must have been exercised for the test to mean anything.
    assert.ok(outcomes.ok > 300, `only ${outcomes.ok} mutated messages parsed`);
    assert.ok(outcomes.error > 300, `only ${outcomes.error} mutated messages failed`);
  });
});

describe('fuzz: StreamFramer', () => {
  test('random streams cut at random points never throw and keep their invariants', () => {
    const random = prng(3);
    for (let i = 0; i < 1500; i++) {
      const parts = Array.from({ length: 1 + Math.floor(random() * 4) }, () =>
        random() < 0.2
          ? Buffer.from('\r\n\r\n'.slice(0, 1 + Math.floor(random() * 4)))
          : mutate(SEEDS[Math.floor(random() * SEEDS.length)] as Buffer, random),
      );
      const stream = Buffer.concat(parts);
      const f = new StreamFramer({
        limits: { ...DEFAULT_SIP_LIMITS, maxMessageSize: 2000 },
        maxChunks: Math.floor(random() * 4),
        crlfPingPong: random() < 0.5,
        crlfDrop: random() < 0.5,
      });
      let failed = false;
      for (let at = 0; at < stream.length;) {
        const size = 1 + Math.floor(random() * 300);
        for (const event of f.push(stream.subarray(at, at + size))) {
          assert.equal(failed, false, 'no event may follow an error');
          if (event.type === 'error') failed = true;
          if (event.type === 'message') {
            assert.ok(event.data.length > 0 && event.data.length <= 2000);
            assert.notEqual(event.data[0], 13);
            assert.notEqual(event.data[0], 10);
            parseMessage(event.data, DEFAULT_SIP_LIMITS, { stream: true });
          }
        }
        at += size;
      }
    }
  });

  test('valid streams cut at random points always frame back to the same messages', () => {
    const random = prng(4);
    for (let i = 0; i < 300; i++) {
      const messages = Array.from(
        { length: 1 + Math.floor(random() * 5) },
        () => SEEDS[Math.floor(random() * SEEDS.length)] as Buffer,
      );
      const stream = Buffer.concat(messages);
      const f = new StreamFramer({
        limits: DEFAULT_SIP_LIMITS,
        maxChunks: 0,
        crlfPingPong: true,
        crlfDrop: true,
      });
      const out: Buffer[] = [];
      for (let at = 0; at < stream.length;) {
        const size = 1 + Math.floor(random() * 200);
        for (const event of f.push(stream.subarray(at, at + size))) {
          assert.equal(event.type, 'message');
          if (event.type === 'message') out.push(event.data);
        }
        at += size;
      }
      assert.deepEqual(out, messages);
    }
  });
});
