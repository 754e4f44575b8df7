// The REGISTER part of the seeds' script (000 §1.10) with the libraries, on SQLite, as a script
// would chain them: www_authorize / www_challenge(realm, "0"), the $au == $tU check, save, then
// an INVITE authenticated with proxy_authorize, its credentials consumed, and lookup.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DigestAuth } from '../../src/features/auth/authenticator.js';
import { defaultAuthConfig } from '../../src/features/auth/config.js';
import { SubscriberTable, subscriberStore } from '../../src/features/auth/subscriber-table.js';
import { defaultRegistrarConfig } from '../../src/features/registrar/config.js';
import { openRegistrar } from '../../src/features/registrar/registrar.js';
import { applyBinding } from '../../src/features/registrar/binding.js';
import { openTestDb, testDatabases, uniqueTable } from '../db/helpers.js';
import { answerChallenge, register, sipRequest, TestClock, wire, withHeader } from './helpers.js';

const REALM = 'domA.net';

test("the seeds' registration and call with digest auth, subscriber and location tables", async () => {
  const sqlite = testDatabases()[0]!;
  const subscribers = uniqueTable('subscriber_t');
  const locations = uniqueTable('location_t');
  const { db } = openTestDb(sqlite, { db_table: subscribers });
  openTestDb(sqlite, { db_table: locations });
  const clock = new TestClock();
  // modparam("auth_db", "password_column", "password"); modparam("auth_db", "calculate_ha1", 1)
  const authConfig = defaultAuthConfig({
    subscriber_table: subscribers,
    password_column: 'password',
    calculate_ha1: true,
  });
  const table = new SubscriberTable(db, authConfig);
  await table.init();
  await table.add({ username: 'alice', domain: REALM, password: 'wonderland' });
  const auth = new DigestAuth(subscriberStore(db, authConfig, clock.now), authConfig, { now: clock.now });
  const { registrar } = await openRegistrar(
    defaultRegistrarConfig({ usrloc_db_mode: 1, location_table: locations }),
    { db, createTable: true, now: clock.now },
  );

  // REGISTER without credentials: www_challenge("domA.net", "0").
  const first = register({ domain: REALM, cseq: 1, contacts: ['<sip:alice@192.0.2.10:5060>'] });
  const denied = await auth.wwwAuthorize(first, REALM);
  assert.equal(denied.ok ? 'ok' : denied.reason, 'no-credentials');
  const challenge = wire(first, auth.challengeFor(denied, { qop: false })!);
  assert.equal(challenge.status, 401);

  // The phone answers the MD5 challenge without qop, as old phones do.
  const second = withHeader(
    register({ domain: REALM, cseq: 2, contacts: ['<sip:alice@192.0.2.10:5060>'] }),
    'Authorization',
    answerChallenge(
      challenge.getHeaders('WWW-Authenticate').find((c) => c.includes('MD5'))!,
      {
        username: 'alice',
        password: 'wonderland',
        method: 'REGISTER',
        uri: `sip:${REALM}`,
      },
    ),
  );
  const authorized = await auth.wwwAuthorize(second, REALM);
  assert.ok(authorized.ok);
  const to = second.to().uri;
  assert.equal(to.kind === 'sip' ? to.user : '', authorized.user.username, '$au == $tU');
  const saved = await registrar.save(second, { source: { proto: 'udp', address: '192.0.2.10', port: 5060 } });
  assert.ok(saved.ok);
  const ok = wire(second, saved);
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.getHeaders('Contact'), ['<sip:alice@192.0.2.10:5060>;expires=3600']);

  // An INVITE from alice to alice: proxy_authorize, consume_credentials, lookup.
  const invite = sipRequest([
    `INVITE sip:alice@${REALM} SIP/2.0`,
    'Via: SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bK74bf9',
    'Max-Forwards: 70',
    `To: <sip:alice@${REALM}>`,
    `From: <sip:alice@${REALM}>;tag=9fxced76sl`,
    'Call-ID: 3848276298220188511@192.0.2.20',
    'CSeq: 1 INVITE',
    'Content-Length: 0',
  ]);
  const proxyChallenge = auth.challenge('proxy', REALM);
  const withCredentials = withHeader(
    invite,
    'Proxy-Authorization',
    answerChallenge(proxyChallenge.headers[0]![1], {
      username: 'alice',
      password: 'wonderland',
      method: 'INVITE',
      uri: invite.uri,
    }),
  );
  const caller = await auth.proxyAuthorize(withCredentials);
  assert.ok(caller.ok);
  assert.ok(auth.consumeCredentials(withCredentials, caller));
  assert.ok(!withCredentials.hasHeader('Proxy-Authorization'));
  const [binding] = registrar.lookup(withCredentials.uri);
  assert.ok(binding);
  assert.equal(applyBinding(withCredentials, binding), undefined);
  assert.equal(withCredentials.uri, 'sip:alice@192.0.2.10:5060');
  await registrar.location.close();
});
