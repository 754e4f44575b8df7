// The trusted-calls scenario with Kamailio as domB: a SIPp caller authenticates at sipsd (domA),
// which relays the INVITE over mutually authenticated TLS to Kamailio; Kamailio (tm, registrar,
// rr) finds bob's registration, marks the call with Alert-Info because it came over TLS from a
// verified peer, and delivers it; ACK and BYE follow the route both proxies recorded.
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
import { Kamailio, kamailioSkip } from '../helpers/kamailio.js';
import { freePort } from '../helpers/ports.js';
import { answerChallenge } from '../features/helpers.js';
import { Phone } from '../helpers/phone.js';
import { startTestServer, statusOf, type TestServer } from '../helpers/peers.js';
import { sipp, sippSkip } from '../helpers/sipp.js';

const ROOT = join(import.meta.dirname, '../..');

/** Two test PKIs (one per domain) and a CA file trusting both, so each side verifies the other. */
async function twoDomainsPki(dir: string) {
  const pkiA = await createTestPki(join(dir, 'pki-a'));
  const pkiB = await createTestPki(join(dir, 'pki-b'));
  const trust = join(dir, 'trust.pem');
  writeFileSync(trust, readFileSync(pkiA.caFile, 'utf8') + readFileSync(pkiB.caFile, 'utf8'));
  return { pkiA, pkiB, trust };
}

/** A sipsd serving `domain` with scripts/trusted-calls.ts and one subscriber. */
async function sipsdDomain(
  dir: string,
  domain: string,
  pki: TestPkiFiles,
  user: { username: string; password: string },
  peers: Record<string, string>,
  extra: string[] = [],
): Promise<TestServer> {
  const url = `sqlite://${join(dir, `${domain}.db`)}`;
  const db = openDb(url, { baseDir: dir, create: true });
  const table = new SubscriberTable(db, defaultAuthConfig());
  await table.init();
  await table.add({ ...user, domain });
  await db.close();
  const script = join(dir, `${domain}.ts`);
  writeFileSync(
    script,
    `import { trustedCalls } from ${JSON.stringify(join(ROOT, 'scripts/trusted-calls.ts'))};\n` +
      `export default trustedCalls(${JSON.stringify({ domain, peers })});\n`,
  );
  // A cold Kamailio can take longer than the 100 ms default to finish a handshake.
  const yaml = [
    `script: ${script}`,
    `auth_db_url: ${url}`,
    `alias: [${domain}]`,
    'tls_handshake_timeout: 3000',
  ];
  return startTestServer([...yaml, ...extra].join('\n'), pki);
}

/** Kamailio's tls.cfg: one profile (certificate and trust) for both its server and client side. */
function kamailioTlsCfg(pki: TestPkiFiles, trust: string): string {
  const profile = `certificate = ${pki.serverCertFile}\nprivate_key = ${pki.serverKeyFile}\nca_list = ${trust}\nverify_certificate = yes\nrequire_certificate = yes\n`;
  return `[server:default]\nmethod = TLSv1.2+\n${profile}\n[client:default]\nmethod = TLSv1.2+\n${profile}`;
}

/** The start of both Kamailio routes: hop limit, in-dialog requests along Route, CANCEL. */
const KAMAILIO_DIALOG_ROUTE = `
  if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
  if (has_totag()) {
    if (loose_route()) { t_relay(); exit; }
    if (is_method("ACK") && t_check_trans()) { t_relay(); }
    exit;
  }
  if (is_method("CANCEL")) { if (t_check_trans()) t_relay(); exit; }`;
const KAMAILIO_MODULES = ['tm.so', 'rr.so', 'maxfwd.so', 'siputils.so'];

describe('trusted calls from sipsd to Kamailio', { skip: kamailioSkip || sippSkip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'sipsd-kamailio-calls-'));
  let a: TestServer | undefined;
  let kamailio: Kamailio | undefined;
  let kamailioUdp = 0;
  let bob: Phone;

  before(async () => {
    const { pkiA, pkiB, trust } = await twoDomainsPki(dir);
    const kamailioTls = await freePort();
    kamailioUdp = await freePort();
    kamailio = await Kamailio.start({
      udpPort: kamailioUdp,
      tlsPort: kamailioTls,
      tlsCfg: kamailioTlsCfg(pkiB, trust),
      modules: [...KAMAILIO_MODULES, 'usrloc.so', 'registrar.so'],
      globals: 'alias="domb.test"\nmodparam("usrloc", "db_mode", 0)',
      route: `${KAMAILIO_DIALOG_ROUTE}
  if (is_method("REGISTER")) { save("location"); exit; }
  if (proto == TLS && !is_peer_verified()) { sl_send_reply("403", "TLS peer not verified"); exit; }
  record_route();
  if (!lookup("location")) { sl_send_reply("404", "Not Found"); exit; }
  remove_hf("Alert-Info");
  if (is_method("INVITE") && proto == TLS) { append_hf("Alert-Info: Bellcore-dr4\\r\\n"); }
  t_relay();`,
    });
    // SIPp answers only the first challenge, with MD5.
    a = await sipsdDomain(
      dir,
      'doma.test',
      { ...pkiA, caFile: trust },
      { username: 'alice', password: 'alice-secret' },
      { 'domb.test': `tls:127.0.0.1:${kamailioTls}` },
      ['auth_algorithms: [MD5, SHA-256]'],
    );
    bob = await Phone.open();
  });
  after(async () => {
    bob?.close();
    await a?.stop();
    await kamailio?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('bob registers at Kamailio; a SIPp caller at sipsd reaches him with Alert-Info; ACK and BYE follow', async () => {
    assert.ok(a && kamailio);
    bob.send(
      `REGISTER sip:domb.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${bob.port};branch=z9hG4bK-kreg;rport\r\n` +
        'Max-Forwards: 70\r\nFrom: <sip:bob@domb.test>;tag=r\r\nTo: <sip:bob@domb.test>\r\nCall-ID: kreg\r\n' +
        `CSeq: 1 REGISTER\r\nContact: <sip:bob@127.0.0.1:${bob.port}>\r\nExpires: 300\r\nContent-Length: 0\r\n\r\n`,
      kamailioUdp,
    );
    const registered = await bob.next((m) => m.includes('CSeq: 1 REGISTER'), 'the registration');
    assert.equal(statusOf(registered), 200, registered);

    const caller = sipp([
      ...['-sf', join(ROOT, 'test/fixtures/sipp/uac-auth.xml'), '-s', 'bob', '-au', 'alice'],
      ...['-ap', 'alice-secret', '-set', 'user', 'alice', '-set', 'from_domain', 'doma.test'],
      ...['-set', 'to_domain', 'domb.test', '-m', '1', `127.0.0.1:${a.port('udp')}`],
    ]);
    const arrived = await bob
      .next((m) => m.startsWith('INVITE '), 'the INVITE from Kamailio', 8000)
      .catch((err: Error) => {
        throw new Error(`${err.message}\nKamailio log:\n${kamailio!.log}`);
      });
    assert.match(arrived, /^Alert-Info: Bellcore-dr4\r$/m);
    const parsed = parseMessage(Buffer.from(arrived));
    assert.ok(parsed.ok && parsed.message.isRequest);
    const invite = parsed.message as SipRequest;
    const contact: [string, string] = ['Contact', `<sip:bob@127.0.0.1:${bob.port}>`];
    bob.send(serializeMessage(createResponse(invite, 180, undefined, [], 'kbob')), kamailioUdp);
    bob.send(serializeMessage(createResponse(invite, 200, undefined, [contact], 'kbob')), kamailioUdp);
    const bye = await bob.next((m) => m.startsWith('BYE '), 'the BYE', 8000);
    const byeParsed = parseMessage(Buffer.from(bye));
    assert.ok(byeParsed.ok && byeParsed.message.isRequest);
    bob.send(serializeMessage(createResponse(byeParsed.message as SipRequest, 200)), kamailioUdp);
    const result = await caller;
    assert.equal(result.code, 0, `SIPp caller failed:\n${result.output}\nKamailio log:\n${kamailio.log}`);
  });
});

describe('trusted calls from Kamailio to sipsd', { skip: kamailioSkip || sippSkip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'sipsd-kamailio-calls-'));
  let b: TestServer | undefined;
  let kamailio: Kamailio | undefined;
  let kamailioUdp = 0;
  let bob: Phone;

  before(async () => {
    const { pkiA, pkiB, trust } = await twoDomainsPki(dir);
    b = await sipsdDomain(
      dir,
      'domb.test',
      { ...pkiB, caFile: trust },
      { username: 'bob', password: 'bob-secret' },
      {},
    );
    // Kamailio is domA: it relays calls for domb.test to sipsd over TLS with its client profile.
    const kamailioTls = await freePort();
    kamailioUdp = await freePort();
    kamailio = await Kamailio.start({
      udpPort: kamailioUdp,
      tlsPort: kamailioTls,
      tlsCfg: kamailioTlsCfg(pkiA, trust),
      modules: KAMAILIO_MODULES,
      globals: 'alias="doma.test"',
      route: `${KAMAILIO_DIALOG_ROUTE}
  record_route();
  if ($rd == "domb.test") {
    $du = "sip:127.0.0.1:${b.port('tls')};transport=tls";
    t_relay();
    exit;
  }
  sl_send_reply("404", "Unknown domain");`,
    });
    bob = await Phone.open();
  });
  after(async () => {
    bob?.close();
    await kamailio?.stop();
    await b?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('Kamailio relays a SIPp call over mTLS; sipsd verifies it, adds Alert-Info and reaches bob; BYE follows', async () => {
    assert.ok(b && kamailio);
    // bob registers at sipsd (domB) with digest auth.
    const register = (cseq: number, authorization?: string) =>
      `REGISTER sip:domb.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${bob.port};branch=z9hG4bK-breg-${cseq};rport\r\n` +
      'Max-Forwards: 70\r\nFrom: <sip:bob@domb.test>;tag=r\r\nTo: <sip:bob@domb.test>\r\nCall-ID: breg\r\n' +
      `CSeq: ${cseq} REGISTER\r\nContact: <sip:bob@127.0.0.1:${bob.port}>\r\nExpires: 300\r\n` +
      (authorization ? `Authorization: ${authorization}\r\n` : '') +
      'Content-Length: 0\r\n\r\n';
    bob.send(register(1), b.port('udp'));
    const challenge = await bob.next((m) => m.includes('CSeq: 1 REGISTER'), "bob's challenge");
    const header = /^WWW-Authenticate: (.*)\r$/m.exec(challenge)?.[1];
    assert.ok(header, challenge);
    const credentials = { username: 'bob', password: 'bob-secret', method: 'REGISTER', uri: 'sip:domb.test' };
    bob.send(register(2, answerChallenge(header, credentials)), b.port('udp'));
    const registered = await bob.next((m) => m.includes('CSeq: 2 REGISTER'), "bob's registration");
    assert.equal(statusOf(registered), 200, registered);

    const caller = sipp([
      ...['-sf', join(ROOT, 'test/fixtures/sipp/uac-plain.xml'), '-s', 'bob'],
      ...['-set', 'user', 'alice', '-set', 'from_domain', 'doma.test', '-set', 'to_domain', 'domb.test'],
      ...['-m', '1', `127.0.0.1:${kamailioUdp}`],
    ]);
    const arrived = await bob
      .next((m) => m.startsWith('INVITE '), 'the INVITE from sipsd', 8000)
      .catch((err: Error) => {
        throw new Error(`${err.message}\nKamailio log:\n${kamailio!.log}`);
      });
    assert.match(arrived, /^Alert-Info: Bellcore-dr4\r$/m, 'sipsd marked the call received over TLS');
    const invite = parseRequest(arrived);
    const contact: [string, string] = ['Contact', `<sip:bob@127.0.0.1:${bob.port}>`];
    bob.send(serializeMessage(createResponse(invite, 200, undefined, [contact], 'kbob')), b.port('udp'));
    const bye = await bob.next((m) => m.startsWith('BYE '), 'the BYE', 8000);
    bob.send(serializeMessage(createResponse(parseRequest(bye), 200)), b.port('udp'));
    const result = await caller;
    assert.equal(result.code, 0, `SIPp caller failed:\n${result.output}\nKamailio log:\n${kamailio.log}`);
  });
});

function parseRequest(text: string): SipRequest {
  const parsed = parseMessage(Buffer.from(text));
  assert.ok(parsed.ok && parsed.message.isRequest, text);
  return parsed.message as SipRequest;
}
