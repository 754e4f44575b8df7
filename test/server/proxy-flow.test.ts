// The proxy features through the script API on a running sipsd: a REGISTER is challenged
// (ctx.authorize / ctx.challenge), answered with digest credentials from the subscriber table and
// saved (ctx.save); an INVITE for the registered user is looked up (ctx.lookup) and relayed
// statefully (ctx.relay): the caller gets 100 Trying, then the callee's 180 and 200.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../../src/db/db.js';
import { defaultAuthConfig } from '../../src/features/auth/config.js';
import { SubscriberTable } from '../../src/features/auth/subscriber-table.js';
import { createResponse, parseMessage, serializeMessage, type SipRequest } from '../../src/sip/index.js';
import { answerChallenge } from '../features/helpers.js';
import { startTestServer, statusOf, type TestServer } from '../helpers/peers.js';
import { Phone } from '../helpers/phone.js';

const SCRIPT = `export default {
  async request(ctx) {
    if (ctx.msg.method === 'REGISTER') {
      const auth = await ctx.authorize('www');
      if (!auth.ok) return ctx.challenge(auth);
      ctx.consumeCredentials(auth);
      await ctx.save();
      return;
    }
    if (ctx.msg.method === 'ACK') return ctx.relay();
    if (ctx.isMyself(ctx.msg.requestUri) && !ctx.lookup()) return ctx.reply(404, 'Not Found');
    await ctx.relay();
  },
};\n`;

describe('registration with digest auth, then a call looked up and relayed statefully', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sipsd-proxy-flow-'));
  let proxy: TestServer | undefined;
  let alice: Phone;
  let caller: Phone;

  before(async () => {
    const url = `sqlite://${join(dir, 'auth.db')}`;
    const db = openDb(url, { baseDir: dir, create: true });
    const table = new SubscriberTable(db, defaultAuthConfig());
    await table.init();
    await table.add({ username: 'alice', domain: 'doma.test', password: 'wonderland' });
    await db.close();
    writeFileSync(join(dir, 'proxy.ts'), SCRIPT);
    proxy = await startTestServer(
      [`script: ${join(dir, 'proxy.ts')}`, `auth_db_url: ${url}`, 'alias: [doma.test]', 'T1_timer: 50'].join(
        '\n',
      ),
    );
    alice = await Phone.open();
    caller = await Phone.open();
  });
  after(async () => {
    alice?.close();
    caller?.close();
    await proxy?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const register = (cseq: number, authorization?: string) =>
    `REGISTER sip:doma.test SIP/2.0\r\n` +
    `Via: SIP/2.0/UDP 127.0.0.1:${alice.port};branch=z9hG4bK-reg-${cseq};rport\r\n` +
    'Max-Forwards: 70\r\nFrom: <sip:alice@doma.test>;tag=reg\r\nTo: <sip:alice@doma.test>\r\n' +
    `Call-ID: reg-1@test\r\nCSeq: ${cseq} REGISTER\r\nContact: <sip:alice@127.0.0.1:${alice.port}>\r\n` +
    'Expires: 300\r\n' +
    (authorization ? `Authorization: ${authorization}\r\n` : '') +
    'Content-Length: 0\r\n\r\n';

  test('REGISTER is challenged, then accepted with the right password', async () => {
    assert.ok(proxy);
    alice.send(register(1), proxy.port('udp'));
    const challenge = await alice.next((m) => m.includes('CSeq: 1 REGISTER'), 'the challenge');
    assert.equal(statusOf(challenge), 401, challenge);
    const header = /^WWW-Authenticate: (.*)\r$/m.exec(challenge)?.[1];
    assert.ok(header, challenge);
    const authorization = answerChallenge(header, {
      username: 'alice',
      password: 'wonderland',
      method: 'REGISTER',
      uri: 'sip:doma.test',
    });
    alice.send(register(2, authorization), proxy.port('udp'));
    const ok = await alice.next((m) => m.includes('CSeq: 2 REGISTER'), 'the answer');
    assert.equal(statusOf(ok), 200, ok);
    assert.match(ok, new RegExp(`^Contact: <sip:alice@127\\.0\\.0\\.1:${alice.port}>;expires=\\d+`, 'm'));
  });

  test('an INVITE for alice@doma.test reaches her contact; the caller gets 100, 180 and 200', async () => {
    assert.ok(proxy);
    const invite =
      'INVITE sip:alice@doma.test SIP/2.0\r\n' +
      `Via: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=z9hG4bK-call-1;rport\r\n` +
      'Max-Forwards: 70\r\nFrom: <sip:bob@domb.test>;tag=bob1\r\nTo: <sip:alice@doma.test>\r\n' +
      `Call-ID: call-1@test\r\nCSeq: 1 INVITE\r\nContact: <sip:bob@127.0.0.1:${caller.port}>\r\n` +
      'Content-Length: 0\r\n\r\n';
    caller.send(invite, proxy.port('udp'));
    const arrived = await alice.next((m) => m.startsWith('INVITE '), 'the relayed INVITE');
    assert.match(arrived, new RegExp(`^INVITE sip:alice@127\\.0\\.0\\.1:${alice.port} SIP/2\\.0\\r$`, 'm'));
    const parsed = parseMessage(Buffer.from(arrived));
    assert.ok(parsed.ok && parsed.message.isRequest);
    const req = parsed.message as SipRequest;
    for (const status of [180, 200]) {
      const res = createResponse(req, status, undefined, [], 'alice-tag');
      alice.send(serializeMessage(res), proxy.port('udp'));
    }
    const statuses = async () => {
      await caller.next((m) => statusOf(m) === 200, 'the 200 OK');
      return caller.received.filter((m) => m.includes('CSeq: 1 INVITE')).map(statusOf);
    };
    assert.deepEqual(await statuses(), [100, 180, 200]);
  });

  test('an INVITE for an unregistered user of the domain gets 404', async () => {
    assert.ok(proxy);
    caller.send(
      'INVITE sip:carol@doma.test SIP/2.0\r\n' +
        `Via: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=z9hG4bK-call-2;rport\r\n` +
        'Max-Forwards: 70\r\nFrom: <sip:bob@domb.test>;tag=bob2\r\nTo: <sip:carol@doma.test>\r\n' +
        'Call-ID: call-2@test\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n',
      proxy.port('udp'),
    );
    const res = await caller.next((m) => m.includes('Call-ID: call-2@test') && statusOf(m) >= 200, 'the 404');
    assert.equal(statusOf(res), 404, res);
  });
});
