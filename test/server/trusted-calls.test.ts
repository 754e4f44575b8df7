// The seeds' scenario end to end with scripts/trusted-calls.ts, on loopback: domA and domB, each
// with its own CA (each trusting the other's), users registered with digest auth. alice@doma.test
// calls bob@domb.test: A challenges her, relays over mutually authenticated TLS to B, B marks the
// INVITE with Alert-Info (it came over TLS from a verified peer) and delivers it; the BYE follows
// the recorded route. A TLS client whose certificate B cannot verify is refused.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../../src/db/db.js';
import { defaultAuthConfig } from '../../src/features/auth/config.js';
import { SubscriberTable } from '../../src/features/auth/subscriber-table.js';
import { createTestPki, type TestPkiFiles } from '../../src/pki/index.js';
import { createResponse, parseMessage, serializeMessage, type SipRequest } from '../../src/sip/index.js';
import { answerChallenge } from '../features/helpers.js';
import { TestCa } from '../helpers/domains.js';
import { Phone } from '../helpers/phone.js';
import { options, StreamPeer, startTestServer, statusOf, type TestServer } from '../helpers/peers.js';
import { freePort } from '../helpers/ports.js';
import { sipp, sippSkip } from '../helpers/sipp.js';

const SCRIPT = join(import.meta.dirname, '../../scripts/trusted-calls.ts');
const FIXTURES = join(import.meta.dirname, '../fixtures/sipp');

describe('trusted calls over TLS between two sipsd domains', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sipsd-trusted-'));
  let a: TestServer | undefined;
  let b: TestServer | undefined;
  let alice: Phone;
  let bob: Phone;
  let pkiA: TestPkiFiles;

  /** A proxy for `domain` with its own PKI, trusting `trusted` too, and one subscriber. */
  async function proxy(
    domain: string,
    pki: TestPkiFiles,
    trustedCaFile: string,
    user: string,
    peers: Record<string, string>,
    extra = '',
  ): Promise<TestServer> {
    const url = `sqlite://${join(dir, `${domain}.db`)}`;
    const db = openDb(url, { baseDir: dir, create: true });
    const table = new SubscriberTable(db, defaultAuthConfig());
    await table.init();
    await table.add({ username: user, domain, password: `${user}-secret` });
    await db.close();
    const caFile = join(dir, `${domain}-trust.pem`);
    writeFileSync(caFile, readFileSync(pki.caFile, 'utf8') + readFileSync(trustedCaFile, 'utf8'));
    const script = join(dir, `${domain}.ts`);
    writeFileSync(
      script,
      `import { trustedCalls } from ${JSON.stringify(SCRIPT)};\n` +
        `export default trustedCalls(${JSON.stringify({ domain, peers })});\n`,
    );
    return startTestServer(
      [
        `script: ${script}`,
        `auth_db_url: ${url}`,
        `alias: [${domain}]`,
        'tls_handshake_timeout: 2000',
        extra,
      ].join('\n'),
      { ...pki, caFile },
    );
  }

  before(async () => {
    pkiA = await createTestPki(join(dir, 'pki-a'));
    const pkiB = await createTestPki(join(dir, 'pki-b'));
    b = await proxy('domb.test', pkiB, pkiA.caFile, 'bob', {});
    // SIPp 3.6 answers only the first challenge and knows only MD5: A offers MD5 first.
    a = await proxy(
      'doma.test',
      pkiA,
      pkiB.caFile,
      'alice',
      { 'domb.test': `tls:127.0.0.1:${b.port('tls')}` },
      'auth_algorithms: [MD5, SHA-256]',
    );
    alice = await Phone.open();
    bob = await Phone.open();
  });
  after(async () => {
    alice?.close();
    bob?.close();
    await a?.stop();
    await b?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const via = (phone: Phone, branch: string) =>
    `Via: SIP/2.0/UDP 127.0.0.1:${phone.port};branch=z9hG4bK-${branch};rport\r\n`;

  /** REGISTER (Contact: the phone, or `contact`), answer the challenge, expect 200. */
  async function register(
    phone: Phone,
    user: string,
    domain: string,
    server: TestServer,
    contact = `<sip:${user}@127.0.0.1:${phone.port}>`,
    base = 0,
  ): Promise<void> {
    const request = (n: number, authorization?: string) =>
      registerText(phone, user, domain, contact, base + n, authorization);
    phone.send(request(1), server.port('udp'));
    const challenge = await phone.next(
      (m) => m.includes(`CSeq: ${base + 1} REGISTER`),
      `${user}'s challenge`,
    );
    const header = /^WWW-Authenticate: (.*)\r$/m.exec(challenge)?.[1];
    assert.ok(header, challenge);
    const authorization = answerChallenge(header, {
      username: user,
      password: `${user}-secret`,
      method: 'REGISTER',
      uri: `sip:${domain}`,
    });
    phone.send(request(2, authorization), server.port('udp'));
    const ok = await phone.next((m) => m.includes(`CSeq: ${base + 2} REGISTER`), `${user}'s registration`);
    assert.equal(statusOf(ok), 200, ok);
  }

  const registerText = (
    phone: Phone,
    user: string,
    domain: string,
    contact: string,
    cseq: number,
    authorization?: string,
  ) =>
    `REGISTER sip:${domain} SIP/2.0\r\n${via(phone, `reg-${user}-${cseq}`)}Max-Forwards: 70\r\n` +
    `From: <sip:${user}@${domain}>;tag=r\r\nTo: <sip:${user}@${domain}>\r\nCall-ID: reg-${user}\r\n` +
    `CSeq: ${cseq} REGISTER\r\nContact: ${contact}\r\nExpires: 300\r\n` +
    (authorization ? `Authorization: ${authorization}\r\n` : '') +
    'Content-Length: 0\r\n\r\n';

  /**
   * Points bob's registration at a free port for a SIPp callee: registered from that very port (so
   * the registrar sees no NAT), the phone's binding dropped; SIPp then takes the port over.
   */
  async function registerSippCallee(cseqBase: number): Promise<number> {
    assert.ok(b);
    const uasPort = await freePort();
    const registrar = await Phone.open(uasPort);
    try {
      await register(
        registrar,
        'bob',
        'domb.test',
        b,
        `<sip:bob@127.0.0.1:${bob.port}>;expires=0, <sip:bob@127.0.0.1:${uasPort}>`,
        cseqBase,
      );
    } finally {
      registrar.close();
    }
    sippCalleePort = uasPort;
    return uasPort;
  }
  /** The port of the last SIPp callee registered for bob. */
  let sippCalleePort = 0;

  /** The SIPp caller's arguments: alice at A calling bob@domb.test with `scenario`. */
  const sippCaller = (scenario: string) => [
    ...['-sf', join(FIXTURES, scenario), '-s', 'bob', '-au', 'alice', '-ap', 'alice-secret'],
    ...['-set', 'user', 'alice', '-set', 'from_domain', 'doma.test', '-set', 'to_domain', 'domb.test'],
    ...[
      '-m',
      '1',
      '-trace_msg',
      '-message_file',
      '/tmp/uac-' + scenario + '.log',
      `127.0.0.1:${a!.port('udp')}`,
    ],
  ];

  test('users register with digest auth at their own domain', async () => {
    assert.ok(a && b);
    await register(alice, 'alice', 'doma.test', a);
    await register(bob, 'bob', 'domb.test', b);
  });

  test('alice calls bob: challenged at A, relayed over mTLS, Alert-Info at bob, BYE along the route', async () => {
    assert.ok(a && b);
    const invite = (cseq: number, authorization?: string) =>
      `INVITE sip:bob@domb.test SIP/2.0\r\n${via(alice, `inv-${cseq}`)}Max-Forwards: 70\r\n` +
      'From: <sip:alice@doma.test>;tag=alice1\r\nTo: <sip:bob@domb.test>\r\nCall-ID: call-ab\r\n' +
      `CSeq: ${cseq} INVITE\r\nContact: <sip:alice@127.0.0.1:${alice.port}>\r\n` +
      (authorization ? `Proxy-Authorization: ${authorization}\r\n` : '') +
      'Alert-Info: <http://spoofed.example/ring.wav>\r\nContent-Length: 0\r\n\r\n';
    alice.send(invite(1), a.port('udp'));
    const challenge = await alice.next((m) => m.includes('CSeq: 1 INVITE'), 'the 407');
    assert.equal(statusOf(challenge), 407, challenge);
    const header = /^Proxy-Authenticate: (.*)\r$/m.exec(challenge)?.[1];
    assert.ok(header, challenge);
    alice.send(
      invite(
        2,
        answerChallenge(header, {
          username: 'alice',
          password: 'alice-secret',
          method: 'INVITE',
          uri: 'sip:bob@domb.test',
        }),
      ),
      a.port('udp'),
    );

    const arrived = await bob.next((m) => m.startsWith('INVITE '), 'the INVITE at bob');
    assert.deepEqual(
      [...arrived.matchAll(/^Alert-Info: (.*)\r$/gm)].map((m) => m[1]),
      ['1', 'Bellcore-dr4', '<http://foo.bar/x.wav>'],
      'B replaced the caller’s Alert-Info with its own, the call having come over TLS',
    );
    assert.doesNotMatch(arrived, /^Proxy-Authorization:/m, 'A consumed the credentials');
    const parsed = parseMessage(Buffer.from(arrived));
    assert.ok(parsed.ok && parsed.message.isRequest);
    const inviteAtBob = parsed.message as SipRequest;
    const bobContact: [string, string] = ['Contact', `<sip:bob@127.0.0.1:${bob.port}>`];
    bob.send(serializeMessage(createResponse(inviteAtBob, 180, undefined, [], 'bob1')), b.port('udp'));
    bob.send(
      serializeMessage(createResponse(inviteAtBob, 200, undefined, [bobContact], 'bob1')),
      b.port('udp'),
    );

    const ok = await alice.next((m) => m.includes('CSeq: 2 INVITE') && statusOf(m) === 200, 'the 200 OK');
    const statuses = alice.received.filter((m) => m.includes('CSeq: 2 INVITE')).map(statusOf);
    assert.deepEqual(statuses, [100, 180, 200]);
    // Both proxies recorded the route; each on both sides of its transport change (r2).
    const recordRoutes = [...ok.matchAll(/^Record-Route: (.*)\r$/gm)].flatMap((m) => m[1]!.split(/,\s*/));
    assert.equal(recordRoutes.length, 4, ok);

    // The caller's route set is the Record-Route list reversed (RFC 3261 §12.1.2).
    const routes = [...recordRoutes]
      .reverse()
      .map((r) => `Route: ${r}\r\n`)
      .join('');
    alice.send(
      `BYE sip:bob@127.0.0.1:${bob.port} SIP/2.0\r\n${via(alice, 'bye')}Max-Forwards: 70\r\n${routes}` +
        'From: <sip:alice@doma.test>;tag=alice1\r\nTo: <sip:bob@domb.test>;tag=bob1\r\nCall-ID: call-ab\r\n' +
        'CSeq: 3 BYE\r\nContent-Length: 0\r\n\r\n',
      a.port('udp'),
    );
    const bye = await bob.next((m) => m.startsWith('BYE '), 'the BYE at bob');
    const byeParsed = parseMessage(Buffer.from(bye));
    assert.ok(byeParsed.ok && byeParsed.message.isRequest);
    bob.send(serializeMessage(createResponse(byeParsed.message as SipRequest, 200)), b.port('udp'));
    const byeOk = await alice.next((m) => m.includes('CSeq: 3 BYE'), 'the 200 for BYE');
    assert.equal(statusOf(byeOk), 200, byeOk);
  });

  test(
    'SIPp: a SIPp caller authenticates at A and calls a SIPp callee registered at B',
    { skip: sippSkip },
    async () => {
      assert.ok(a && b);
      const uasPort = await registerSippCallee(10);
      const uas = sipp(['-sf', join(FIXTURES, 'uas-alert-info.xml'), '-p', String(uasPort), '-m', '1']);
      const uac = sipp(sippCaller('uac-auth.xml'));
      const [caller, callee] = await Promise.all([uac, uas]);
      assert.equal(caller.code, 0, `SIPp caller failed:\n${caller.output}`);
      assert.equal(callee.code, 0, `SIPp callee failed (no Alert-Info?):\n${callee.output}`);
    },
  );

  test(
    'SIPp: a caller cancels while bob rings: 200 for the CANCEL, 487 for the INVITE, ACKed hop by hop',
    { skip: sippSkip },
    async () => {
      assert.ok(a && b);
      // bob is the phone again (the SIPp callee's binding removed); the SIPp call is told apart by its tags.
      const contacts = `<sip:bob@127.0.0.1:${sippCalleePort}>;expires=0, <sip:bob@127.0.0.1:${bob.port}>`;
      await register(bob, 'bob', 'domb.test', b, contacts, 30);
      const caller = sipp(sippCaller('uac-cancel.xml'));
      const arrived = await bob.next(
        (m) => m.startsWith('INVITE ') && m.includes('SIPpTag'),
        'the INVITE',
        5000,
      );
      const parsed = parseMessage(Buffer.from(arrived));
      assert.ok(parsed.ok && parsed.message.isRequest);
      const invite = parsed.message as SipRequest;
      bob.send(serializeMessage(createResponse(invite, 180, undefined, [], 'bob-cancel')), b.port('udp'));
      const cancel = await bob.next(
        (m) => m.startsWith('CANCEL ') && m.includes('SIPpTag'),
        'the CANCEL relayed by B',
      );
      const cancelParsed = parseMessage(Buffer.from(cancel));
      assert.ok(cancelParsed.ok && cancelParsed.message.isRequest);
      const cancelReq = cancelParsed.message as SipRequest;
      bob.send(serializeMessage(createResponse(cancelReq, 200, undefined, [], 'bob-cancel')), b.port('udp'));
      bob.send(serializeMessage(createResponse(invite, 487, undefined, [], 'bob-cancel')), b.port('udp'));
      // B acknowledges the 487 itself (hop by hop), on the INVITE's branch.
      const ack = await bob.next((m) => m.startsWith('ACK ') && m.includes('SIPpTag'), "B's ACK for the 487");
      assert.equal(/^Via: .*branch=([^;\r]+)/m.exec(ack)?.[1], invite.topVia().branch);
      const result = await caller;
      assert.equal(result.code, 0, `SIPp caller failed:\n${result.output}`);
    },
  );

  test('a TLS client whose certificate B cannot verify is refused before any SIP is read', async () => {
    assert.ok(b);
    const stranger = await TestCa.create('Stranger CA');
    try {
      const cert = await stranger.issue('intruder', 'intruder.example.com', 'client');
      const peer = await StreamPeer.tls(b.port('tls'), {
        ca: readFileSync(join(dir, 'domb.test-trust.pem')),
        servername: 'localhost',
        cert: readFileSync(cert.cert),
        key: readFileSync(cert.key),
      });
      peer.write(options('TLS'));
      // B's server domain verifies client certificates: the connection is refused before any SIP.
      await assert.rejects(
        peer.until((r) => /^SIP\/2\.0 /m.test(r), 3000),
        /connection closed/,
      );
      assert.equal(peer.received, '');
      peer.close();
    } finally {
      stranger.remove();
    }
  });
});
