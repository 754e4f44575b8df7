// Digest authentication end to end on real SIP text: challenge, answer, check, for both
// algorithms, www and proxy; stale nonces, replays, wrong passwords, unknown users and realms,
// plain and HA1 passwords, consume_credentials.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DigestAuth,
  credentialsOf,
  defaultRealm,
  type AuthResult,
  type DigestAuthConfig,
} from '../../../src/features/auth/authenticator.js';
import { defaultAuthConfig } from '../../../src/features/auth/config.js';
import { MemoryCredentialStore, type CredentialStore } from '../../../src/features/auth/credentials.js';
import { computeHa1 } from '../../../src/features/auth/digest.js';
import { NonceIssuer } from '../../../src/features/auth/nonce.js';
import type { SipRequest } from '../../../src/sip/index.js';
import { answerChallenge, register, sipRequest, TestClock, wire, withHeader } from '../helpers.js';

const REALM = 'atlanta.example.com';

/** Alice with a plain-text password (calculate_ha1), Bob with HA1 hashes only. */
function plainStore(): MemoryCredentialStore {
  return new MemoryCredentialStore().add({
    username: 'alice',
    domain: REALM,
    password: 'wonderland',
    ha1Sha256: null,
  });
}

function setup(
  overrides: Partial<DigestAuthConfig> = {},
  store: CredentialStore = plainStore(),
  replayCapacity?: number,
) {
  const clock = new TestClock();
  const config = { ...defaultAuthConfig({ calculate_ha1: true }), ...overrides };
  const auth = new DigestAuth(store, config, { now: clock.now, replayCapacity });
  return { auth, clock };
}

function invite(extra: string[] = []): SipRequest {
  return sipRequest([
    'INVITE sip:bob@biloxi.example.com SIP/2.0',
    'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds',
    'Max-Forwards: 70',
    'To: Bob <sip:bob@biloxi.example.com>',
    `From: Alice <sip:alice@${REALM}>;tag=1928301774`,
    'Call-ID: a84b4c76e66710@pc33.atlanta.example.com',
    'CSeq: 314159 INVITE',
    'Contact: <sip:alice@192.0.2.10>',
    ...extra,
    'Content-Length: 0',
  ]);
}

/** The request again, with credentials answering the challenge header of `algorithm`. */
function answered(
  auth: DigestAuth,
  req: SipRequest,
  kind: 'www' | 'proxy',
  opts: { algorithm?: string; password?: string; username?: string; nc?: number; qop?: boolean } = {},
): SipRequest {
  const response = wire(req, auth.challenge(kind, REALM, { qop: opts.qop ?? true }));
  const header = kind === 'www' ? 'WWW-Authenticate' : 'Proxy-Authenticate';
  const challenge = response
    .getHeaders(header)
    .find((c) => c.includes(`algorithm=${opts.algorithm ?? 'SHA-256'}`));
  assert.ok(challenge, `no ${opts.algorithm} challenge`);
  const credentials = answerChallenge(challenge, {
    username: opts.username ?? 'alice',
    password: opts.password ?? 'wonderland',
    method: req.method,
    uri: req.uri,
    nc: opts.nc,
  });
  return withHeader(req, kind === 'www' ? 'Authorization' : 'Proxy-Authorization', credentials);
}

/** `req` with an Authorization header answering `challenge` (alice's credentials unless given). */
function withCredentials(
  req: SipRequest,
  challenge: string,
  opts: { password?: string; nc?: number } = {},
): SipRequest {
  const answer = {
    username: 'alice',
    password: opts.password ?? 'wonderland',
    method: req.method,
    uri: req.uri,
  };
  return withHeader(req, 'Authorization', answerChallenge(challenge, { ...answer, nc: opts.nc }));
}

function failure(result: AuthResult): string {
  return result.ok ? 'ok' : result.reason;
}

describe('challenges', () => {
  test('401 with one WWW-Authenticate per algorithm, strongest first, same nonce, qop offered', () => {
    const { auth } = setup();
    const req = register();
    const res = wire(req, auth.challenge('www', REALM));
    assert.equal(res.status, 401);
    assert.equal(res.reason, 'Unauthorized');
    assert.ok(res.to().tag, 'the 401 has a To tag');
    const challenges = res.getHeaders('WWW-Authenticate');
    assert.equal(challenges.length, 2);
    assert.match(
      challenges[0]!,
      /^Digest realm="atlanta\.example\.com", nonce="[A-Za-z0-9_-]{32}", algorithm=SHA-256, qop="auth"$/,
    );
    assert.match(challenges[1]!, /algorithm=MD5/);
    assert.equal(challenges[0]!.match(/nonce="([^"]+)"/)![1], challenges[1]!.match(/nonce="([^"]+)"/)![1]);
    assert.ok(!res.hasHeader('Proxy-Authenticate'));
  });

  test('407 with Proxy-Authenticate; no qop for old phones; stale; a chosen algorithm only', () => {
    const { auth } = setup();
    const res = wire(
      invite(),
      auth.challenge('proxy', REALM, { qop: false, stale: true, algorithms: ['MD5'] }),
    );
    assert.equal(res.status, 407);
    assert.equal(res.reason, 'Proxy Authentication Required');
    const challenges = res.getHeaders('Proxy-Authenticate');
    assert.equal(challenges.length, 1);
    assert.match(challenges[0]!, /algorithm=MD5, stale=true$/);
    assert.doesNotMatch(challenges[0]!, /qop/);
  });

  test('auth_algorithms chooses what is offered', () => {
    const { auth } = setup({ auth_algorithms: ['MD5'] });
    const res = wire(register(), auth.challenge('www', REALM));
    assert.deepEqual(
      res.getHeaders('WWW-Authenticate').map((c) => c.match(/algorithm=([\w-]+)/)![1]),
      ['MD5'],
    );
  });

  test('each challenge has a new nonce', () => {
    const { auth } = setup();
    const nonce = () => auth.challenge('www', REALM).headers[0]![1].match(/nonce="([^"]+)"/)![1];
    assert.notEqual(nonce(), nonce());
  });
});

describe('www_authorize and proxy_authorize', () => {
  for (const algorithm of ['SHA-256', 'MD5']) {
    test(`a REGISTER answering the ${algorithm} challenge is authenticated`, async () => {
      const { auth } = setup();
      const first = await auth.wwwAuthorize(register());
      assert.equal(failure(first), 'no-credentials');
      const req = answered(auth, register(), 'www', { algorithm });
      const result = await auth.wwwAuthorize(req, REALM);
      assert.ok(result.ok, failure(result));
      assert.deepEqual(result.user, {
        username: 'alice',
        domain: REALM,
        realm: REALM,
        algorithm,
        qop: true,
      });
    });
  }

  test('an INVITE with Proxy-Authorization passes proxy_authorize, not www_authorize', async () => {
    const { auth } = setup();
    const req = answered(auth, invite(), 'proxy');
    assert.ok((await auth.proxyAuthorize(req)).ok);
    assert.equal(failure(await auth.wwwAuthorize(req, REALM)), 'no-credentials');
  });

  test('no qop (the seeds\' www_challenge(realm, "0")): accepted, and reusable until the nonce expires', async () => {
    const { auth, clock } = setup();
    const req = answered(auth, register(), 'www', { algorithm: 'MD5', qop: false });
    assert.doesNotMatch(req.getHeader('Authorization')!, /qop/);
    const result = await auth.wwwAuthorize(req);
    assert.ok(result.ok);
    assert.equal(result.user.qop, false);
    clock.advance(10);
    assert.ok((await auth.wwwAuthorize(req)).ok, 'RFC 2069 clients reuse the nonce');
    clock.advance(25);
    assert.equal(failure(await auth.wwwAuthorize(req)), 'stale');
  });

  test('wrong password, unknown user, and a user without a password', async () => {
    const store = plainStore().add({ username: 'carol', domain: REALM, password: null, ha1Sha256: null });
    const { auth } = setup({}, store);
    const wrong = await auth.wwwAuthorize(answered(auth, register(), 'www', { password: 'looking-glass' }));
    assert.equal(failure(wrong), 'wrong-password');
    assert.equal(wrong.ok ? '' : wrong.username, 'alice');
    const unknown = await auth.wwwAuthorize(answered(auth, register(), 'www', { username: 'mallory' }));
    assert.equal(failure(unknown), 'unknown-user');
    const carol = await auth.wwwAuthorize(answered(auth, register(), 'www', { username: 'carol' }));
    assert.equal(failure(carol), 'wrong-password');
    assert.match(carol.ok ? '' : carol.detail, /no SHA-256 password or hash stored/);
  });

  test('credentials for another realm are bad-realm; among several, those for ours count', async () => {
    const { auth } = setup();
    const req = register();
    const challenge = auth.challenge('www', REALM).headers[0]![1];
    const other = answerChallenge(challenge, {
      username: 'alice',
      password: 'wonderland',
      method: 'REGISTER',
      uri: req.uri,
      realm: 'biloxi.example.com',
    });
    const onlyOther = withHeader(req, 'Authorization', other);
    const result = await auth.wwwAuthorize(onlyOther, REALM);
    assert.equal(failure(result), 'bad-realm');
    assert.match(result.ok ? '' : result.detail, /biloxi\.example\.com/);
    const both = withHeader(
      onlyOther,
      'Authorization',
      answerChallenge(challenge, {
        username: 'alice',
        password: 'wonderland',
        method: 'REGISTER',
        uri: req.uri,
      }),
    );
    assert.ok((await auth.wwwAuthorize(both, REALM)).ok);
  });

  test('malformed credentials: missing response, unknown or disabled algorithm, other qop, bad nc', async () => {
    const { auth } = setup({ auth_algorithms: ['SHA-256'] });
    const nonce = auth.challenge('www', REALM).headers[0]![1].match(/nonce="([^"]+)"/)![1];
    const base = `Digest username="alice", realm="${REALM}", nonce="${nonce}", uri="sip:${REALM}"`;
    const sha = 'a'.repeat(64);
    const cases: Array<[string, RegExp]> = [
      [base, /missing response/],
      [`${base}, response="${sha}", algorithm=SHA-512-256`, /not offered/],
      [`${base}, response="${'a'.repeat(32)}", algorithm=MD5`, /not offered/],
      [`${base}, response="${'a'.repeat(32)}"`, /not offered/], // no algorithm: MD5
      [`${base}, response="abc", algorithm=SHA-256`, /not a SHA-256 digest/],
      [`${base}, response="${sha}", algorithm=SHA-256, qop=auth-int, nc=00000001, cnonce="x"`, /auth-int/],
      [`${base}, response="${sha}", algorithm=SHA-256, qop=auth, nc=1, cnonce="x"`, /nc/],
      [`${base}, response="${sha}", algorithm=SHA-256, qop=auth, nc=00000001`, /cnonce/],
      ['Digest username="alice", realm', /no value/],
    ];
    for (const [credentials, reason] of cases) {
      const result = await auth.wwwAuthorize(withHeader(register(), 'Authorization', credentials), REALM);
      assert.equal(failure(result), 'malformed', credentials);
      assert.match(result.ok ? '' : result.detail, reason, credentials);
    }
  });

  test('Basic credentials are no credentials', async () => {
    const { auth } = setup();
    const req = withHeader(register(), 'Authorization', 'Basic YWxpY2U6d29uZGVybGFuZA==');
    assert.equal(failure(await auth.wwwAuthorize(req)), 'no-credentials');
  });

  test('a subscriber table that cannot be read is an error, answered by no challenge', async () => {
    const broken: CredentialStore = {
      find: async () => {
        throw new Error('connection refused');
      },
    };
    const { auth } = setup({}, broken);
    const result = await auth.wwwAuthorize(answered(auth, register(), 'www'));
    assert.equal(failure(result), 'error');
    assert.match(result.ok ? '' : result.detail, /connection refused/);
    assert.equal(auth.challengeFor(result), undefined);
  });

  test('use_domain: the realm selects the subscriber among users of the same name', async () => {
    const store = plainStore().add({
      username: 'alice',
      domain: 'biloxi.example.com',
      password: 'other',
      ha1Sha256: null,
    });
    const { auth } = setup({ use_domain: true }, store);
    const req = answered(auth, register(), 'www');
    assert.ok((await auth.wwwAuthorize(req, REALM)).ok);
    const { auth: noDomain } = setup(
      { use_domain: false },
      new MemoryCredentialStore().add({
        username: 'alice',
        domain: 'biloxi.example.com',
        password: 'wonderland',
        ha1Sha256: null,
      }),
    );
    // Without use_domain the user is found by name whatever its domain.
    assert.ok((await noDomain.wwwAuthorize(answered(noDomain, register(), 'www'), REALM)).ok);
    const { auth: withDomain } = setup(
      { use_domain: true },
      new MemoryCredentialStore().add({
        username: 'alice',
        domain: 'biloxi.example.com',
        password: 'wonderland',
        ha1Sha256: null,
      }),
    );
    assert.equal(
      failure(await withDomain.wwwAuthorize(answered(withDomain, register(), 'www'), REALM)),
      'unknown-user',
    );
  });
});

describe('plain passwords and HA1 hashes', () => {
  test('calculate_ha1 off: the MD5 HA1 of password_column and the SHA-256 HA1 are used', async () => {
    const store = new MemoryCredentialStore().add({
      username: 'alice',
      domain: REALM,
      password: computeHa1('MD5', 'alice', REALM, 'wonderland').toUpperCase(),
      ha1Sha256: computeHa1('SHA-256', 'alice', REALM, 'wonderland'),
    });
    const { auth } = setup({ calculate_ha1: false }, store);
    for (const algorithm of ['MD5', 'SHA-256']) {
      assert.ok((await auth.wwwAuthorize(answered(auth, register(), 'www', { algorithm }))).ok, algorithm);
      const wrong = answered(auth, register(), 'www', { algorithm, password: 'nope' });
      assert.equal(failure(await auth.wwwAuthorize(wrong)), 'wrong-password', algorithm);
    }
  });

  test('calculate_ha1 off: a plain password in password_column is not taken for a hash', async () => {
    const { auth } = setup({ calculate_ha1: false }); // alice's password is 'wonderland', not a hash
    const result = await auth.wwwAuthorize(answered(auth, register(), 'www', { algorithm: 'MD5' }));
    assert.equal(failure(result), 'wrong-password');
  });

  test('calculate_ha1 off without a SHA-256 hash: MD5 works, SHA-256 cannot', async () => {
    const store = new MemoryCredentialStore().add({
      username: 'Mufasa',
      domain: 'testrealm@host.com',
      // RFC 2617 §3.5's HA1 for "Circle Of Life".
      password: '939e7578ed9e3c518a452acee763bce9',
      ha1Sha256: null,
    });
    const clock = new TestClock();
    const auth = new DigestAuth(store, defaultAuthConfig({}), { now: clock.now });
    const req = register({ user: 'Mufasa', domain: 'host.com' });
    const challenges = auth.challenge('www', 'testrealm@host.com').headers.map(([, v]) => v);
    const answer = (algorithm: string) =>
      withHeader(
        req,
        'Authorization',
        answerChallenge(
          challenges.find((c) => c.includes(algorithm))!,
          {
            username: 'Mufasa',
            password: 'Circle Of Life',
            method: 'REGISTER',
            uri: req.uri,
          },
        ),
      );
    assert.ok((await auth.wwwAuthorize(answer('MD5'), 'testrealm@host.com')).ok);
    assert.equal(failure(await auth.wwwAuthorize(answer('SHA-256'), 'testrealm@host.com')), 'wrong-password');
  });
});

describe('nonces', () => {
  test('an expired nonce with the right password is stale, and the new challenge says stale=true', async () => {
    const { auth, clock } = setup({ nonce_expire: 30 });
    const challenge = auth.challenge('www', REALM).headers[0]![1];
    const req = register();
    const withNc = (nc: number) => withCredentials(req, challenge, { nc });
    clock.advance(29);
    assert.ok((await auth.wwwAuthorize(withNc(1))).ok);
    clock.advance(2);
    const stale = await auth.wwwAuthorize(withNc(2));
    assert.equal(failure(stale), 'stale');
    assert.match(stale.ok ? '' : stale.detail, /expired/);
    const challengeAgain = auth.challengeFor(stale, { qop: false });
    assert.ok(challengeAgain);
    assert.equal(challengeAgain.status, 401);
    assert.match(challengeAgain.headers[0]![1], /stale=true/);
    assert.doesNotMatch(challengeAgain.headers[0]![1], /qop/);
    assert.ok((await auth.wwwAuthorize(answered(auth, register(), 'www'))).ok, 'a fresh nonce works');
  });

  test('an expired nonce with a wrong password is a wrong password, not stale (RFC 7616 §3.3)', async () => {
    const { auth, clock } = setup();
    const req = answered(auth, register(), 'www', { password: 'nope' });
    clock.advance(3600);
    const result = await auth.wwwAuthorize(req);
    assert.equal(failure(result), 'wrong-password');
    assert.doesNotMatch(auth.challengeFor(result)!.headers[0]![1], /stale/);
  });

  test('a nonce of another server (or from before a restart) is stale when the password is right', async () => {
    const { auth: before } = setup();
    const { auth: after } = setup();
    const req = answered(before, register(), 'www');
    const result = await after.wwwAuthorize(req);
    assert.equal(failure(result), 'stale');
    assert.match(result.ok ? '' : result.detail, /signature/);
    // With a shared auth_secret the other server's nonces are good.
    const secret = 'a shared secret of some length';
    const { auth: a } = setup({ auth_secret: secret });
    const { auth: b } = setup({ auth_secret: secret });
    assert.ok((await b.wwwAuthorize(answered(a, register(), 'www'))).ok);
  });

  test('NonceIssuer: tampering, another realm, dates in the future are refused', () => {
    const clock = new TestClock();
    const issuer = new NonceIssuer(Buffer.from('k'.repeat(32)), 30, clock.now);
    const nonce = issuer.issue('atlanta.example.com');
    assert.deepEqual(issuer.check(nonce, 'atlanta.example.com'), {
      ok: true,
      issuedAt: clock.ms / 1000,
      expired: false,
    });
    assert.ok(!issuer.check(nonce, 'biloxi.example.com').ok);
    const raw = Buffer.from(nonce, 'base64url');
    raw[5]! ^= 1;
    assert.ok(!issuer.check(raw.toString('base64url'), 'atlanta.example.com').ok);
    assert.ok(!issuer.check(`${nonce}x`, 'atlanta.example.com').ok);
    assert.ok(!issuer.check('dcd98b7102dd2f0e8b11d0f600bfb0c093', 'atlanta.example.com').ok);
    clock.advance(-60);
    const check = issuer.check(nonce, 'atlanta.example.com');
    assert.ok(!check.ok);
    assert.match(check.reason, /future/);
    clock.advance(60 + 31);
    assert.deepEqual(issuer.check(nonce, 'atlanta.example.com'), {
      ok: true,
      issuedAt: (clock.ms - 31_000) / 1000,
      expired: true,
    });
  });
});

describe('replay protection', () => {
  test('a nonce count is accepted once; higher ones and late lower ones are fine', async () => {
    const { auth } = setup();
    const challenge = auth.challenge('www', REALM).headers[0]![1];
    const req = register();
    const withNc = (nc: number) => withCredentials(req, challenge, { nc });
    assert.ok((await auth.wwwAuthorize(withNc(1))).ok);
    assert.equal(failure(await auth.wwwAuthorize(withNc(1))), 'replay');
    assert.ok((await auth.wwwAuthorize(withNc(3))).ok);
    assert.ok((await auth.wwwAuthorize(withNc(2))).ok, 'out of order over UDP');
    assert.equal(failure(await auth.wwwAuthorize(withNc(2))), 'replay');
    assert.equal(failure(await auth.wwwAuthorize(withNc(3))), 'replay');
    assert.ok((await auth.wwwAuthorize(withNc(100))).ok);
    assert.equal(failure(await auth.wwwAuthorize(withNc(50))), 'replay', 'below the window');
  });

  test('a replay with a wrong response does not burn the count', async () => {
    const { auth } = setup();
    const challenge = auth.challenge('www', REALM).headers[0]![1];
    const req = register();
    const answer = (password: string) => withCredentials(req, challenge, { password });
    assert.equal(failure(await auth.wwwAuthorize(answer('guess'))), 'wrong-password');
    assert.ok((await auth.wwwAuthorize(answer('wonderland'))).ok);
  });

  test('when the table is full, forgotten nonces are stale rather than replayable', async () => {
    const { auth, clock } = setup({}, plainStore(), 2);
    const first = answered(auth, register(), 'www');
    assert.ok((await auth.wwwAuthorize(first)).ok);
    clock.advance(1);
    assert.ok((await auth.wwwAuthorize(answered(auth, register(), 'www'))).ok);
    clock.advance(1);
    assert.ok((await auth.wwwAuthorize(answered(auth, register(), 'www'))).ok); // evicts the first
    const replay = await auth.wwwAuthorize(first);
    assert.equal(failure(replay), 'stale');
    assert.match(replay.ok ? '' : replay.detail, /no longer tracked/);
  });
});

describe('helpers', () => {
  test('consume_credentials removes only the credentials that authenticated', async () => {
    const { auth } = setup();
    const req = withHeader(
      answered(auth, invite(), 'proxy'),
      'Proxy-Authorization',
      'Digest username="alice", realm="biloxi.example.com", nonce="x", uri="sip:bob@biloxi.example.com", response="0"',
    );
    const result = await auth.proxyAuthorize(req, REALM);
    assert.ok(result.ok);
    assert.equal(req.getHeaders('Proxy-Authorization').length, 2);
    assert.ok(auth.consumeCredentials(req, result));
    assert.deepEqual(req.getHeaders('Proxy-Authorization'), [
      'Digest username="alice", realm="biloxi.example.com", nonce="x", uri="sip:bob@biloxi.example.com", response="0"',
    ]);
    assert.ok(!auth.consumeCredentials(req, result), 'already gone');
  });

  test('the default realm: To of a REGISTER, From otherwise', () => {
    const req = sipRequest([
      'REGISTER sip:registrar.biloxi.example.com SIP/2.0',
      'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKnashds7',
      'To: <sip:bob@biloxi.example.com>',
      'From: <sip:admin@atlanta.example.com>;tag=1',
      'Call-ID: 1',
      'CSeq: 1 REGISTER',
      'Content-Length: 0',
    ]);
    assert.equal(defaultRealm(req, 'www'), 'biloxi.example.com');
    assert.equal(defaultRealm(req, 'proxy'), 'atlanta.example.com');
    assert.equal(defaultRealm(invite(), 'www'), REALM);
  });

  test('credentialsOf reads $au and $ar from the first Digest credentials', async () => {
    const { auth } = setup();
    assert.equal(credentialsOf(invite()), undefined);
    const req = answered(auth, invite(), 'proxy');
    assert.deepEqual(credentialsOf(req), {
      username: 'alice',
      realm: REALM,
      uri: 'sip:bob@biloxi.example.com',
    });
  });
});
