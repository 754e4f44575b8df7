// The Accepted state (RFC 6026) in memory: once a 2xx went upstream and every branch has ended, the
// transactions lingering for timers L and M keep neither the request nor its bytes, yet every 2xx
// from downstream (a retransmission, another fork's) still goes upstream on the inbound connection.
// Driven through a TransactionLayer with fake transport and stateless ports, so the test holds no
// reference of its own to what should be freed.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  createResponse,
  parseMessage,
  serializeMessage,
  type SipMessage,
  type SipRequest,
  type SipResponse,
} from '../../src/sip/index.js';
import {
  defaultTmSettings,
  TransactionLayer,
  type StatelessPort,
  type TmSettings,
  type TransportPort,
} from '../../src/tm/index.js';
import type { Inbound, SendTarget } from '../../src/transport/types.js';
import { testLog } from '../helpers/peers.js';
import { sleep, UacRequest } from './peers.js';

const LOCAL = { address: '127.0.0.1', port: 5060 };
const UAC_CONNECTION = 3;

function parse(data: string | Buffer): SipMessage {
  const parsed = parseMessage(typeof data === 'string' ? Buffer.from(data) : data);
  if (!parsed.ok) throw new Error(parsed.error.reason);
  return parsed.message;
}

/** A layer whose downstream sends and upstream replies are recorded as plain values. */
function fakeLayer(settings: Partial<TmSettings> = {}) {
  const down: Array<{ target: SendTarget; data: Buffer }> = [];
  const up: Array<{ status: number; vias: number; connectionId: number | undefined }> = [];
  const transport: TransportPort = {
    send(target, data) {
      down.push({ target, data });
      return Promise.resolve({ proto: target.proto, local: LOCAL, connectionId: 10 + target.port });
    },
    localFor: () => LOCAL,
  };
  const stateless: StatelessPort = {
    reply(inbound, response) {
      up.push({ status: response.status, vias: response.vias().length, connectionId: inbound.connectionId });
      return Promise.resolve();
    },
    forwardRequest: () => Promise.resolve(),
  };
  const layer = new TransactionLayer({
    transport,
    stateless,
    settings: { ...defaultTmSettings(), ...settings },
    tlsPort: 5061,
    log: testLog,
  });
  /** Downstream answers the request that was sent to `port` (a fresh message, as off the wire). */
  const answer = (port: number, status: number, method = 'INVITE') => {
    const sent = down.find((s) => s.target.port === port && s.data.toString().startsWith(method));
    if (!sent) throw new Error(`no ${method} sent to ${port}`);
    const response = createResponse(parse(sent.data) as SipRequest, status, undefined, [], `uas-${port}`);
    return layer.handleResponse(parse(serializeMessage(response)) as SipResponse);
  };
  return { layer, down, up, answer };
}

/** A request from the UAC on its TCP connection. */
function fromUac(text: string): { req: SipRequest; inbound: Inbound } {
  const data = Buffer.from(text);
  const inbound: Inbound = {
    data,
    proto: 'tcp',
    local: LOCAL,
    remote: { address: '127.0.0.1', port: 40000 },
    connectionId: UAC_CONNECTION,
  };
  return { req: parse(data) as SipRequest, inbound };
}

describe('the Accepted state', () => {
  test('keeps neither the request nor its bytes; retransmitted and forked 2xx still go upstream', async () => {
    const { layer, down, up, answer } = fakeLayer();
    const uac = new UacRequest('INVITE', 40000, 'sip:bob@example.test', 'TCP');
    const { request, bytes } = await (async () => {
      const { req, inbound } = fromUac(uac.text());
      const result = await layer.relay(req, inbound, ['tcp:127.0.0.1:5090', 'tcp:127.0.0.1:5091']);
      assert.equal(result.sent, true);
      return { request: new WeakRef(req), bytes: new WeakRef(inbound.data) };
    })();

    answer(5091, 180);
    answer(5090, 200);
    // §16.7 step 10: the other branch is cancelled; its UAS answers the INVITE with a 200 anyway.
    assert.ok(down.some((s) => s.target.port === 5091 && s.data.toString().startsWith('CANCEL')));
    answer(5091, 200, 'CANCEL');
    answer(5091, 200);
    assert.ok(answer(5090, 200), 'the retransmitted 2xx is taken by its client transaction');
    assert.ok(answer(5091, 200));

    assert.deepEqual(
      up.map((r) => r.status),
      [100, 180, 200, 200, 200, 200],
    );
    assert.ok(
      up.every((r) => r.vias === 1 && r.connectionId === UAC_CONNECTION),
      'our Via removed; sent on the connection the INVITE came in on',
    );
    const again = fromUac(uac.text());
    assert.ok(layer.handleRequest(again.req, again.inbound), 'a retransmitted INVITE is absorbed');
    assert.equal(up.length, 6, 'and not answered in Accepted');
    assert.deepEqual(layer.counts(), { server: 1, client: 2 }, 'lingering for timers L and M');

    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    assert.equal(request.deref(), undefined, 'the parsed INVITE was freed');
    assert.equal(bytes.deref(), undefined, 'the bytes of the INVITE were freed');
    assert.deepEqual(layer.counts(), { server: 1, client: 2 });
    layer.stop();
  });

  test('timers L and M end both transactions after 64*T1', async () => {
    const { layer, answer } = fakeLayer({ t1: 5 }); // 64*T1 = 320 ms
    let first = 0;
    for (const port of [5090, 5091, 5092]) {
      const { req, inbound } = fromUac(new UacRequest('INVITE', 40000, undefined, 'TCP').text());
      await layer.relay(req, inbound, `tcp:127.0.0.1:${port}`);
      first ||= performance.now();
      answer(port, 200);
      await sleep(20);
    }
    for (;;) {
      const { server, client } = layer.counts();
      // A call's L and M are queued a moment apart: a look may fall between them, never further.
      assert.ok(Math.abs(server - client) <= 1, `L and M run together (${server} / ${client})`);
      if (server < 3) assert.ok(performance.now() - first >= 320, 'not before 64*T1');
      if (server === 0 || performance.now() - first > 3000) break;
      await sleep(5);
    }
    assert.deepEqual(layer.counts(), { server: 0, client: 0 });
  });

  test('RFC 2543 requests: a retransmission and a CANCEL still find the INVITE by its To tag', async () => {
    const { layer, up, answer } = fakeLayer();
    const uac = new UacRequest('INVITE', 40000, 'sip:bob@example.test', 'TCP');
    // No magic cookie in the branch: matched by Request-URI, From tag, Call-ID, CSeq and Via.
    const legacy = (text: string) => fromUac(text.replace(uac.branch, 'old-1'));
    const invite = legacy(uac.text());
    await layer.relay(invite.req, invite.inbound, 'tcp:127.0.0.1:5090');
    const again = legacy(uac.text());
    assert.ok(layer.handleRequest(again.req, again.inbound), 'retransmission');
    const tagged = legacy(uac.text().replace(/^(To: .*)$/m, '$1;tag=other'));
    assert.equal(layer.handleRequest(tagged.req, tagged.inbound), false, 'another To tag');
    answer(5090, 180);
    const cancel = legacy(uac.cancel());
    assert.ok(layer.handleRequest(cancel.req, cancel.inbound), 'CANCEL matched');
    answer(5090, 487);
    assert.deepEqual(
      up.map((r) => r.status),
      [100, 100, 180, 200, 487],
    );
    layer.stop();
  });
});
