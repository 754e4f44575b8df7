// Peer classification and policy, over real handshakes: every verify_client policy against a
// matrix of client certificates, revocation in both CRL modes, verify_depth, and client domains
// judging servers (CA, RFC 5922 name).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { IssuedCertificate } from '../../src/pki/index.js';
import type { TlsDomainInput, VerifyPolicy } from '../../src/tls/domain.js';
import type { BuildOptions } from '../../src/tls/context.js';
import type { PeerVerification } from '../../src/transport/types.js';
import {
  accept,
  build,
  connect,
  makePki,
  presenting,
  serverOptions,
  tempDir,
  write,
  writePki,
} from './helpers.js';

const pki = await makePki();
const dir = tempDir();
const files = writePki(pki, dir);

/** A server domain trusting the test root, with every genuine CRL in its crl_dir. */
function serverDomain(extra: Partial<TlsDomainInput> = {}, options?: BuildOptions) {
  return build(
    {
      name: 'mtls',
      type: 'server',
      certificate: files.serverCert,
      private_key: files.serverKey,
      ca_list: files.root,
      crl_dir: files.crlDir,
      ...extra,
    },
    undefined,
    options,
  );
}

async function judge(extra: Partial<TlsDomainInput>, cert: IssuedCertificate | undefined) {
  const { server } = await accept(await serverDomain(extra), cert ? presenting(cert) : {});
  assert.ok(server.inspection, `handshake failed: ${server.error}`);
  return server.inspection;
}

const CLEAN = { presented: true, verified: true, revoked: false, expired: false, selfSigned: false };
/** What each client certificate is, whatever the policy (when the server asks for it). */
const CLASSIFIED: Record<string, Partial<PeerVerification>> = {
  none: { presented: false, verified: false, code: 'NO_PEER_CERTIFICATE' },
  valid: { ...CLEAN, code: undefined },
  expired: { ...CLEAN, verified: false, expired: true, code: 'CERT_HAS_EXPIRED' },
  wrongCa: { ...CLEAN, verified: false, code: 'SELF_SIGNED_CERT_IN_CHAIN' },
  revoked: { ...CLEAN, verified: false, revoked: true, code: 'CERT_REVOKED' },
  selfSigned: { ...CLEAN, verified: false, selfSigned: true, code: 'DEPTH_ZERO_SELF_SIGNED_CERT' },
};
const CLIENTS: Record<string, IssuedCertificate | undefined> = {
  none: undefined,
  valid: pki.clients.valid,
  expired: pki.clients.expired,
  wrongCa: pki.clients.wrongCa,
  revoked: pki.clients.revoked,
  selfSigned: pki.clients.selfSigned,
};
/** Which clients each policy admits (OpenSIPS verify_cert/require_cert, Kamailio verify_client). */
const ADMITS: Record<VerifyPolicy, string[]> = {
  off: Object.keys(CLIENTS),
  optional: ['none', 'valid'],
  on: ['valid'],
  optional_no_ca: Object.keys(CLIENTS),
};

function assertClassified(peer: PeerVerification, expected: Partial<PeerVerification>) {
  for (const [key, value] of Object.entries(expected)) {
    assert.equal(peer[key as keyof PeerVerification], value, `${key} (${peer.reason})`);
  }
}

for (const policy of Object.keys(ADMITS) as VerifyPolicy[]) {
  test(`verify_client=${policy}: admits ${ADMITS[policy].join(', ')}`, async (t) => {
    for (const [name, cert] of Object.entries(CLIENTS)) {
      await t.test(name, async () => {
        const { peer, refusal } = await judge({ verify_client: policy }, cert);
        // With verification off no certificate is asked for, so none is presented.
        assertClassified(peer, policy === 'off' ? CLASSIFIED.none! : CLASSIFIED[name]!);
        assert.equal(refusal === undefined, ADMITS[policy].includes(name), refusal);
      });
    }
  });
}

test('refusals name the side, the reason and the code', async () => {
  const none = await judge({ verify_client: 'on' }, undefined);
  assert.equal(none.refusal, 'client presented no certificate (verify on)');
  const expired = await judge({ verify_client: 'on' }, pki.clients.expired);
  assert.equal(expired.refusal, 'client certificate has expired (CERT_HAS_EXPIRED)');
  const revoked = await judge({ verify_client: 'optional' }, pki.clients.revoked);
  assert.match(
    revoked.refusal ?? '',
    /^client certificate is revoked \(serial [0-9a-f]+, since .*\) \(CERT_REVOKED\)$/,
  );
});

test('OpenSIPS verify_cert/require_cert map onto the same policies', async () => {
  const optional = await judge({ verify_cert: true, require_cert: false }, undefined);
  assert.equal(optional.refusal, undefined);
  const required = await judge({ verify_cert: true, require_cert: true }, undefined);
  assert.ok(required.refusal);
});

test('revocation: a revoked leaf is caught in both CRL modes', async () => {
  for (const crl_check_all of [false, true]) {
    const { peer, refusal } = await judge({ verify_client: 'on', crl_check_all }, pki.clients.revoked);
    assert.equal(peer.revoked, true, `crl_check_all=${crl_check_all}`);
    assert.equal(peer.code, 'CERT_REVOKED');
    assert.ok(refusal);
  }
});

test('revocation: a revoked intermediate CA is caught only with crl_check_all', async () => {
  const leafOnly = await judge({ verify_client: 'on' }, pki.clients.underRevokedCa);
  assert.equal(leafOnly.refusal, undefined);
  assertClassified(leafOnly.peer, { verified: true, revoked: false });

  const all = await judge({ verify_client: 'on', crl_check_all: true }, pki.clients.underRevokedCa);
  assertClassified(all.peer, { verified: false, revoked: true, code: 'CERT_REVOKED' });
  assert.match(all.peer.reason ?? '', /a CA certificate of its chain/);
  assert.ok(all.refusal);
});

test('revocation: valid certificates pass with CRLs for the whole chain', async () => {
  for (const crl_check_all of [false, true]) {
    const { peer } = await judge({ verify_client: 'on', crl_check_all }, pki.clients.valid);
    assertClassified(peer, CLASSIFIED.valid!);
  }
});

test('revocation, leaf-only: the CRL must come from the leaf issuer and be signed by its key', async () => {
  const only = (name: string, pem: string) => ({ crl_dir: undefined, crl: write(dir, name, pem) });
  // CRLs are configured, but none from the root that issued this leaf.
  const noCrl = await judge(
    { verify_client: 'on', ...only('issuing.pem', pki.crls.issuing) },
    pki.clients.fromRoot,
  );
  assertClassified(noCrl.peer, { verified: false, revoked: false, code: 'UNABLE_TO_GET_CRL' });
  // Same issuer name, other key: the CRL proves nothing.
  const forged = await judge(
    { verify_client: 'on', ...only('impostor.pem', pki.crls.impostor) },
    pki.clients.revoked,
  );
  assertClassified(forged.peer, { verified: false, revoked: false, code: 'CRL_SIGNATURE_FAILURE' });
});

test('revocation, leaf-only: a CRL past nextUpdate still revokes but vouches for nobody', async () => {
  const stale = {
    verify_client: 'optional_no_ca' as const,
    crl_dir: undefined,
    crl: write(dir, 'stale.pem', pki.crls.staleIssuing),
  };
  const revoked = await judge(stale, pki.clients.revoked);
  assertClassified(revoked.peer, { verified: false, revoked: true, code: 'CERT_REVOKED' });
  assert.match(revoked.peer.reason ?? '', /per a CRL past its nextUpdate/);
  const valid = await judge(stale, pki.clients.valid);
  assertClassified(valid.peer, { verified: false, revoked: false, code: 'CRL_HAS_EXPIRED' });
  const built = await serverDomain(stale);
  assert.ok(built.domain.warnings.some((w) => /past its nextUpdate/.test(w)));
});

test('verify_depth limits the intermediate CAs between the peer and the trusted root', async () => {
  const deep = await judge({ verify_client: 'on', verify_depth: 0 }, pki.clients.valid);
  assertClassified(deep.peer, { verified: false, code: 'CERT_CHAIN_TOO_LONG' });
  assert.ok(deep.refusal);
  const direct = await judge({ verify_client: 'on', verify_depth: 0 }, pki.clients.fromRoot);
  assert.equal(direct.peer.verified, true);
  const enough = await judge({ verify_client: 'on', verify_depth: 1 }, pki.clients.valid);
  assert.equal(enough.peer.verified, true);
});

test('a resumed session, where OpenSSL keeps only the leaf, is classified as the full handshake was', async () => {
  const session = { cache: true, tickets: true, idContext: 't', lifetimeSeconds: 60, maxEntries: 10 };
  const built = await serverDomain({ verify_client: 'on', verify_depth: 1 }, { session });
  for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
    const client = { ...presenting(pki.clients.valid), maxVersion };
    const first = await accept(built, client);
    const again = await accept(built, { ...client, session: first.session });
    assert.equal(again.server.resumed, true, maxVersion);
    assertClassified(again.server.inspection!.peer, CLASSIFIED.valid!);
  }
});

/** A client domain trusting the test root, optionally presenting the valid client certificate. */
function clientDomain(extra: Partial<TlsDomainInput> = {}) {
  return build({
    name: 'out',
    type: 'client',
    certificate: write(dir, 'client.pem', pki.clients.valid.chainPem + pki.clients.valid.privateKeyPem),
    ca_list: files.root,
    ...extra,
  });
}

function inspected(result: Awaited<ReturnType<typeof connect>>) {
  assert.ok('peer' in result, `handshake failed: ${'error' in result ? result.error : ''}`);
  return result;
}

test('client domain: the server certificate must carry the SIP domain (verify_server_name)', async () => {
  const built = await clientDomain();
  const check = async (expectedHost: string | undefined) =>
    inspected(await connect(built, serverOptions(pki), { servername: 'sip.example.com', expectedHost }));
  assert.equal((await check('sip.example.com')).refusal, undefined);
  assert.equal((await check('SIP.Example.COM')).refusal, undefined);
  assert.equal((await check('example.com')).refusal, undefined, 'URI SAN sip:example.com');
  assert.equal((await check(undefined)).refusal, undefined, 'no host name: the IP SAN 127.0.0.1');
  const wrong = await check('other.example.com');
  assertClassified(wrong.peer, { presented: true, verified: false, code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  assert.equal(
    wrong.refusal,
    'server certificate is not valid for other.example.com (ERR_TLS_CERT_ALTNAME_INVALID)',
  );

  const unchecked = await clientDomain({ verify_server_name: false });
  const any = inspected(await connect(unchecked, serverOptions(pki), { expectedHost: 'other.example.com' }));
  assertClassified(any.peer, { verified: true, code: undefined });
});

test('client domain: a server from an untrusted CA is refused with verify on, recorded with off', async () => {
  const on = await clientDomain({ ca_list: files.other });
  const refused = inspected(await connect(on, serverOptions(pki), { expectedHost: 'sip.example.com' }));
  // The server sends its root along; not being trusted, it ends the chain.
  assertClassified(refused.peer, { presented: true, verified: false, code: 'SELF_SIGNED_CERT_IN_CHAIN' });
  assert.match(refused.refusal ?? '', /^server certificate chains to a self-signed root that is not trusted/);

  const off = await clientDomain({ ca_list: files.other, verify_cert: false });
  const admitted = inspected(await connect(off, serverOptions(pki), { expectedHost: 'sip.example.com' }));
  assert.equal(admitted.refusal, undefined);
  assert.equal(admitted.peer.verified, false);
});

test('client domain without CAs trusts the public roots, not a private CA', async () => {
  const built = await clientDomain({ ca_list: undefined });
  const result = inspected(await connect(built, serverOptions(pki), { expectedHost: 'sip.example.com' }));
  assertClassified(result.peer, { verified: false, code: 'SELF_SIGNED_CERT_IN_CHAIN' });
});

test('mutual TLS between a client domain and a server domain: each side verifies the other', async () => {
  const server = await serverDomain({ verify_client: 'on' });
  const client = await clientDomain();
  const result = await accept(server, { ...client.clientOptions, servername: 'sip.example.com' }, (socket) =>
    client.inspect(socket, 'sip.example.com'),
  );
  assertClassified(result.server.inspection!.peer, CLASSIFIED.valid!);
  assert.equal(result.server.inspection!.refusal, undefined);
  assertClassified(result.client!.peer, CLASSIFIED.valid!);
  assert.equal(result.client!.refusal, undefined);
});
