// Building TLS domains: PEM sources, CA and CRL folders, build errors that name the domain, the
// setting and the file, warnings, and the protocol and cipher settings enforced in real handshakes.
import assert from 'node:assert/strict';
import { createDiffieHellmanGroup } from 'node:crypto';
import { mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { test } from 'node:test';
import { issueCertificate, x509 } from '../../src/pki/index.js';
import { buildDomain, TlsDomainError } from '../../src/tls/context.js';
import type { TlsDomainInput } from '../../src/tls/domain.js';
import { accept, build, domainOf, makePki, presenting, tempDir, write, writePki } from './helpers.js';

const pki = await makePki();
const dir = tempDir();
const files = writePki(pki, dir);
const server: TlsDomainInput = {
  name: 'edge',
  type: 'server',
  certificate: files.serverCert,
  private_key: files.serverKey,
  ca_list: files.root,
};

/** Asserts that building fails with exactly this setting, file and reason. */
async function assertBuildError(
  input: TlsDomainInput,
  field: string,
  file: string | undefined,
  reason: RegExp,
  baseDir?: string,
) {
  await assert.rejects(build(input, baseDir), (err: unknown) => {
    assert.ok(err instanceof TlsDomainError, String(err));
    assert.deepEqual([err.domain, err.field, err.file], [input.name, field, file]);
    assert.match(err.reason, reason);
    assert.equal(
      err.message,
      `TLS domain "${input.name}" (${input.type}): ${field}${file ? ` (${file})` : ''}: ${err.reason}`,
    );
    return true;
  });
}

test('a server domain builds an acceptor serving its certificate chain', async () => {
  const built = await build(server);
  assert.ok(built.acceptor instanceof tls.Server);
  assert.equal(built.clientOptions, undefined);
  assert.equal(built.certificate?.subject, 'CN=sip.example.com');
  assert.deepEqual(built.domain.warnings, []);
  const { server: accepted } = await accept(built, {
    ca: pki.root.certificatePem,
    servername: 'sip.example.com',
  });
  assert.equal(accepted.protocol, 'TLSv1.3');
});

test('the private key may sit in the certificate file', async () => {
  const both = write(dir, 'both.pem', pki.server.chainPem + pki.server.privateKeyPem);
  const built = await build({ ...server, certificate: both, private_key: undefined });
  assert.equal(built.certificate?.subject, 'CN=sip.example.com');
});

test('inline PEM values (database rows) are used as given and named by their label in errors', async () => {
  const domain = domainOf(server);
  domain.certificate = { pem: Buffer.from(pki.server.chainPem), label: 'tls_mgm row 7 certificate' };
  domain.privateKey = { pem: Buffer.from(pki.server.privateKeyPem), label: 'tls_mgm row 7 private_key' };
  assert.equal((await buildDomain(domain)).certificate?.subject, 'CN=sip.example.com');
  domain.privateKey = { pem: Buffer.from('junk'), label: 'tls_mgm row 7 private_key' };
  await assert.rejects(buildDomain(domain), /private_key \(tls_mgm row 7 private_key\): no private key/);
});

test('missing and unreadable files are errors naming the setting and the file', async () => {
  const missing = path.join(dir, 'missing.pem');
  await assertBuildError({ ...server, certificate: missing }, 'certificate', missing, /^file not found$/);
  await assertBuildError({ ...server, private_key: missing }, 'private_key', missing, /^file not found$/);
  await assertBuildError({ ...server, ca_list: missing }, 'ca_list', missing, /^file not found$/);
  await assertBuildError({ ...server, ca_dir: missing }, 'ca_dir', missing, /^folder not found$/);
  await assertBuildError({ ...server, crl_dir: files.root }, 'crl_dir', files.root, /^not a folder$/);
  await assertBuildError({ ...server, certificate: dir }, 'certificate', dir, /folder, expected a file/);
});

test('files that do not hold what the setting needs are errors', async () => {
  const empty = write(dir, 'empty.pem', 'nothing here\n');
  await assertBuildError({ ...server, certificate: empty }, 'certificate', empty, /no certificate/);
  await assertBuildError({ ...server, ca_list: empty }, 'ca_list', empty, /no certificate/);
  await assertBuildError({ ...server, crl: empty }, 'crl', empty, /no CRL/);
  await assertBuildError({ ...server, dh_params: empty }, 'dh_params', empty, /no DH parameters/);
  const broken = write(dir, 'broken.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  await assertBuildError(
    { ...server, certificate: broken },
    'certificate',
    broken,
    /not a valid certificate/,
  );
  const badDh = write(
    dir,
    'bad-dh.pem',
    '-----BEGIN DH PARAMETERS-----\nAAAA\n-----END DH PARAMETERS-----\n',
  );
  await assertBuildError({ ...server, dh_params: badDh }, 'dh_params', badDh, /not valid DH parameters/);
});

test('private key problems are told apart: none, mismatch, passphrase missing or wrong', async () => {
  await assertBuildError(
    { ...server, private_key: undefined },
    'private_key',
    files.serverCert,
    /^no private key: set private_key or put the key in the certificate file$/,
  );
  const otherKey = write(dir, 'other.key', pki.clients.valid.privateKeyPem);
  await assertBuildError(
    { ...server, private_key: otherKey },
    'private_key',
    otherKey,
    /^the private key does not match the certificate$/,
  );

  const secret = 'correct horse battery staple';
  const locked = await issueCertificate({
    ca: pki.root,
    profile: 'server',
    subject: 'CN=locked',
    passphrase: secret,
  });
  const input = {
    ...server,
    certificate: write(dir, 'locked.pem', locked.certificatePem),
    private_key: write(dir, 'locked.key', locked.privateKeyPem),
  };
  assert.equal((await build({ ...input, passphrase: secret })).certificate?.subject, 'CN=locked');
  await assertBuildError(input, 'private_key', input.private_key, /encrypted: set passphrase/);
  const wrong = 'not the passphrase';
  await assertBuildError(
    { ...input, passphrase: wrong },
    'passphrase',
    input.private_key,
    /^wrong passphrase/,
  );
  // Secrets never travel in errors.
  await assert.rejects(build({ ...input, passphrase: wrong }), (err: Error) => {
    assert.ok(!err.message.includes(wrong) && !err.message.includes('PRIVATE KEY'));
    return true;
  });
});

test('invalid cipher lists, TLS 1.3 suites and curves are errors naming the setting', async () => {
  await assertBuildError(
    { ...server, cipher_list: 'NO-SUCH-CIPHER' },
    'cipher_list',
    undefined,
    /no cipher match/,
  );
  await assertBuildError(
    { ...server, cipher_suites: 'ECDHE-ECDSA-AES128-GCM-SHA256' },
    'cipher_suites',
    undefined,
    /not a TLS 1.3 cipher suite/,
  );
  await assertBuildError(
    { ...server, cipher_suites: 'TLS_NO_SUCH_SUITE' },
    'cipher_suites',
    undefined,
    /TLS_NO_SUCH/,
  );
  await assertBuildError({ ...server, ec_curve: 'no-such-curve' }, 'ec_curve', undefined, /no-such-curve/);
});

test('a client domain skips a missing default certificate with a warning', async () => {
  const built = await build({ name: 'out', type: 'client', ca_list: files.root }, dir);
  assert.equal(built.certificate, undefined);
  assert.equal(built.acceptor, undefined);
  assert.ok(built.clientOptions?.secureContext);
  assert.equal(built.clientOptions.rejectUnauthorized, false);
  // Without a certificate the default key file is not even looked for.
  assert.deepEqual(built.domain.warnings, [
    `certificate: default ${path.join(dir, 'tls/cert.pem')} not found, none used`,
  ]);
});

test('a server domain without its default certificate is an error', async () => {
  const expected = path.join(dir, 'tls/cert.pem');
  await assertBuildError({ name: 'edge', type: 'server' }, 'certificate', expected, /^file not found$/, dir);
});

test('warnings: no CA to verify clients with, crl_check_all without CRLs, an expired certificate', async () => {
  const noCa = await build({ ...server, ca_list: undefined, verify_client: 'on' });
  assert.match(noCa.domain.warnings.join('\n'), /verify on but no CA/);
  const noCrl = await build({ ...server, ca_list: files.root, crl_check_all: true });
  assert.match(noCrl.domain.warnings.join('\n'), /crl_check_all has no effect/);
  const expired = await build({
    ...server,
    certificate: write(
      dir,
      'expired.pem',
      pki.clients.expired.certificatePem + pki.clients.expired.privateKeyPem,
    ),
    private_key: undefined,
  });
  assert.match(expired.domain.warnings.join('\n'), /expired on/);
});

test('ca_dir: every PEM file counts, hashed names and symlinks included; other files are passed over', async () => {
  const caDir = path.join(dir, 'ca-dir');
  mkdirSync(caDir);
  symlinkSync(files.root, path.join(caDir, 'a1b2c3d4.0'));
  write(caDir, 'README', 'not a certificate');
  write(caDir, 'root.crl', pki.crls.root);
  mkdirSync(path.join(caDir, 'subfolder'));
  const built = await build({ ...server, ca_dir: caDir, verify_client: 'on' });
  assert.deepEqual(built.domain.warnings, []);
  const { server: accepted } = await accept(built, presenting(pki.clients.valid));
  assert.equal(accepted.inspection?.peer.verified, true);

  write(caDir, 'broken.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  await assertBuildError(
    { ...server, ca_dir: caDir },
    'ca_dir',
    path.join(caDir, 'broken.pem'),
    /not a valid certificate/,
  );
});

test('crl_dir: DER CRLs are read too; files that are no CRL are skipped with a warning', async () => {
  const crlDir = path.join(dir, 'crl-der');
  mkdirSync(crlDir);
  write(crlDir, 'issuing.crl', Buffer.from(new x509.X509Crl(pki.crls.issuing).rawData));
  write(crlDir, 'root.crl', pki.crls.root);
  write(crlDir, 'notes.txt', 'not a CRL');
  const built = await build({ ...server, ca_list: files.root, crl_dir: crlDir, verify_client: 'on' });
  assert.deepEqual(built.domain.warnings, [
    `crl_dir: ${path.join(crlDir, 'notes.txt')} is not a CRL, skipped`,
  ]);
  const { server: accepted } = await accept(built, presenting(pki.clients.revoked));
  assert.equal(accepted.inspection?.peer.revoked, true);
});

/** A DER element; lengths up to 64 KiB are all the DH parameters need. */
function der(tag: number, body: Buffer): Buffer {
  const length = body.length < 128 ? [body.length] : [0x82, body.length >> 8, body.length & 0xff];
  return Buffer.concat([Buffer.from([tag, ...length]), body]);
}

test('dh_params: PKCS#3 parameters load', async () => {
  const group = createDiffieHellmanGroup('modp14');
  const integer = (bytes: Buffer) =>
    der(0x02, bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
  const params = der(0x30, Buffer.concat([integer(group.getPrime()), integer(group.getGenerator())]));
  const pem = `-----BEGIN DH PARAMETERS-----\n${params.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END DH PARAMETERS-----\n`;
  const built = await build({ ...server, dh_params: write(dir, 'dh.pem', pem) });
  assert.ok(built.acceptor);
});

test('tls_method: a TLS 1.3-only domain refuses a TLS 1.2 client', async () => {
  const built = await build({ ...server, tls_method: 'TLSv1_3' });
  const refused = await accept(built, { maxVersion: 'TLSv1.2' });
  assert.match(refused.server.error ?? '', /UNSUPPORTED_PROTOCOL|VERSION/);
  assert.equal((await accept(built, {})).server.protocol, 'TLSv1.3');
});

test('cipher_list: a TLS 1.2 domain refuses a client offering only other ciphers', async () => {
  const built = await build({
    ...server,
    tls_method: 'TLSv1_2',
    cipher_list: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  });
  const refused = await accept(built, { ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384' });
  assert.match(refused.server.error ?? '', /NO_SHARED_CIPHER/);
  const admitted = await accept(built, {});
  assert.deepEqual(
    [admitted.server.protocol, admitted.server.cipher],
    ['TLSv1.2', 'ECDHE-ECDSA-AES128-GCM-SHA256'],
  );
});

test('cipher_suites and ec_curve choose what TLS 1.3 negotiates', async () => {
  const built = await build({ ...server, cipher_suites: 'TLS_CHACHA20_POLY1305_SHA256', ec_curve: 'P-256' });
  assert.equal((await accept(built, {})).server.cipher, 'TLS_CHACHA20_POLY1305_SHA256');
  const otherCurve = await accept(built, { ecdhCurve: 'X25519' });
  assert.ok(otherCurve.server.error, 'a client without P-256 has no common group');
});

test('legacy methods: a TLSv1-only domain handshakes with a TLSv1 client (OpenSSL 3 security level 0)', async () => {
  const built = await build({ ...server, tls_method: 'TLSv1' });
  assert.match(built.domain.warnings.join('\n'), /RFC 8996/);
  const legacy = { minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' } as const;
  assert.equal((await accept(built, legacy)).server.protocol, 'TLSv1');
  const modern = await accept(built, {});
  assert.ok(modern.server.error, 'a TLS 1.2+ client is refused');

  const range = await build({ ...server, tls_method: 'TLSv1-TLSv1_3' });
  assert.equal((await accept(range, { ...legacy, maxVersion: 'TLSv1.1' })).server.protocol, 'TLSv1.1');
  assert.equal((await accept(range, {})).server.protocol, 'TLSv1.3');
});
