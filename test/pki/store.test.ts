import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import {
  TEST_CLIENT_CN,
  caPaths,
  createTestPki,
  initCa,
  issue,
  list,
  revoke,
  writeCrl,
  x509,
} from '../../src/pki/index.js';
import { handshake, tempDir } from './helpers.js';

const mode = (file: string) => statSync(file).mode & 0o777;
const cert = (file: string) => new X509Certificate(readFileSync(file));

test('initCa lays out the CA folder with private permissions and refuses to overwrite', async () => {
  const dir = path.join(tempDir(), 'ca');
  const paths = await initCa(dir, { subject: '/O=Example/CN=Example CA', days: 100 });
  assert.deepEqual(paths, caPaths(dir));
  assert.equal(mode(dir), 0o700);
  assert.equal(mode(paths.caKeyFile), 0o600);
  assert.equal(mode(paths.caFile), 0o644);
  assert.ok(cert(paths.caFile).ca);
  assert.equal(cert(paths.caFile).subject, 'O=Example\nCN=Example CA');
  assert.equal(new x509.X509Crl(readFileSync(paths.crlFile, 'utf8')).entries.length, 0);
  assert.deepEqual(JSON.parse(readFileSync(paths.indexFile, 'utf8')), {
    version: 1,
    nextCrlNumber: 2,
    certificates: [],
  });
  await assert.rejects(initCa(dir), /ca\.pem already exists/);
});

test('issue, revoke, publish a CRL and list through the CA folder', async () => {
  const dir = tempDir();
  await initCa(dir);
  const server = await issue(dir, 'proxy1', {
    profile: 'both',
    subject: 'CN=proxy1.example.com',
    subjectAltNames: { dns: ['proxy1.example.com'], ip: ['192.0.2.1'] },
  });
  assert.deepEqual(
    [server.certFile, server.keyFile, server.chainFile],
    ['proxy1.pem', 'proxy1.key', 'proxy1-chain.pem'].map((f) => path.join(dir, f)),
  );
  assert.equal(mode(server.keyFile), 0o600);
  const leaf = cert(server.certFile);
  assert.ok(leaf.checkIssued(cert(caPaths(dir).caFile)));
  assert.equal(
    readFileSync(server.chainFile, 'utf8'),
    readFileSync(server.certFile, 'utf8') + readFileSync(caPaths(dir).caFile, 'utf8'),
  );
  assert.equal(server.record.serialNumber, BigInt(`0x${leaf.serialNumber}`).toString());
  await assert.rejects(issue(dir, 'proxy1', { profile: 'server', subject: 'CN=x' }), /revoke it first/);
  await assert.rejects(
    issue(dir, 'ca', { profile: 'server', subject: 'CN=x' }),
    /invalid certificate name 'ca'/,
  );
  await assert.rejects(
    issue(dir, '../x', { profile: 'server', subject: 'CN=x' }),
    /invalid certificate name/,
  );

  const client = await issue(dir, 'alice', { profile: 'client', subject: 'CN=alice' });
  const expired = await issue(dir, 'old', {
    profile: 'client',
    subject: 'CN=old',
    notBefore: new Date(Date.now() - 10 * 86_400_000),
    notAfter: new Date(Date.now() - 86_400_000),
  });

  const revoked = await revoke(dir, { name: 'alice' }, 'keyCompromise', new Date('2026-05-01T00:00:00Z'));
  assert.equal(revoked.serialNumber, client.record.serialNumber);
  assert.equal(revoked.revokedAt, '2026-05-01T00:00:00.000Z');
  await assert.rejects(revoke(dir, { name: 'alice' }), /already revoked/);
  await assert.rejects(revoke(dir, { name: 'nobody' }), /no certificate named 'nobody'/);
  // By serial, in the hex form `openssl x509 -serial` prints.
  const hex = `0x${cert(expired.certFile).serialNumber}`;
  assert.equal((await revoke(dir, { serial: hex }, 'superseded')).name, 'old');
  await assert.rejects(revoke(dir, { serial: '12345' }), /no certificate with serial 12345/);

  const crl = await writeCrl(dir, { days: 7 });
  assert.deepEqual(crl, { crlFile: caPaths(dir).crlFile, crlNumber: 2, revokedCount: 2 });
  const parsed = new x509.X509Crl(readFileSync(crl.crlFile, 'utf8'));
  assert.equal(
    parsed.findRevoked(cert(client.certFile).serialNumber)?.reason,
    x509.X509CrlReason.keyCompromise,
  );
  assert.equal(parsed.findRevoked(cert(server.certFile).serialNumber), null);
  assert.equal((await writeCrl(dir)).crlNumber, 3);

  // A revoked name can be issued again.
  const renewed = await issue(dir, 'alice', { profile: 'client', subject: 'CN=alice' });
  assert.notEqual(renewed.record.serialNumber, client.record.serialNumber);
  const listing = (await list(dir)).map((r) => [r.name, r.effectiveStatus, r.profile]);
  assert.deepEqual(listing, [
    ['proxy1', 'valid', 'both'],
    ['alice', 'revoked', 'client'],
    ['old', 'revoked', 'client'],
    ['alice', 'valid', 'client'],
  ]);
});

test('an expired certificate lists as expired and its name may be reused', async () => {
  const dir = tempDir();
  await initCa(dir);
  await issue(dir, 'tmp', {
    profile: 'server',
    subject: 'CN=tmp',
    notAfter: new Date(Date.now() - 1000),
    notBefore: new Date(0),
  });
  assert.equal((await list(dir))[0]?.effectiveStatus, 'expired');
  await issue(dir, 'tmp', { profile: 'server', subject: 'CN=tmp' });
  assert.deepEqual(
    (await list(dir)).map((r) => r.effectiveStatus),
    ['expired', 'valid'],
  );
});

test('an encrypted CA key needs its passphrase for every signing operation', async () => {
  const dir = tempDir();
  await initCa(dir, { passphrase: 'ca secret' });
  assert.match(readFileSync(caPaths(dir).caKeyFile, 'utf8'), /ENCRYPTED PRIVATE KEY/);
  await assert.rejects(
    issue(dir, 'a', { profile: 'server', subject: 'CN=a' }),
    /ca\.key: .*passphrase is needed/,
  );
  await assert.rejects(
    issue(dir, 'a', { profile: 'server', subject: 'CN=a', caPassphrase: 'nope' }),
    /wrong passphrase/,
  );
  const issued = await issue(dir, 'a', { profile: 'server', subject: 'CN=a', caPassphrase: 'ca secret' });
  assert.doesNotMatch(readFileSync(issued.keyFile, 'utf8'), /ENCRYPTED/);
  await assert.rejects(writeCrl(dir), /passphrase is needed/);
  assert.equal((await writeCrl(dir, { caPassphrase: 'ca secret' })).crlNumber, 2);
});

test('a folder without a CA gives a pointed message', async () => {
  await assert.rejects(list(tempDir()), /no CA in .*: index\.json is missing \(create one with init-ca\)/);
  const dir = tempDir();
  await initCa(dir);
  writeFileSync(caPaths(dir).indexFile, '{"hello": 1}');
  await assert.rejects(list(dir), /is not a sipsd CA index/);
});

test('createTestPki makes a working PKI once and then reuses it', async () => {
  const dir = path.join(tempDir(), 'tls');
  const files = await createTestPki(dir);
  const ca = cert(files.caFile);
  const server = cert(files.serverCertFile);
  const client = cert(files.clientCertFile);
  assert.ok(server.checkIssued(ca) && client.checkIssued(ca));
  assert.equal(server.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
  assert.equal(server.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.match(client.subject, new RegExp(`CN=${TEST_CLIENT_CN}$`));
  assert.equal(mode(files.serverKeyFile), 0o600);
  assert.equal(mode(files.clientKeyFile), 0o600);
  assert.equal(new x509.X509Crl(readFileSync(files.crlFile, 'utf8')).entries.length, 0);

  const again = await createTestPki(dir);
  assert.deepEqual(again, files);
  assert.equal(cert(again.serverCertFile).fingerprint256, server.fingerprint256);

  // Mutual TLS with the files as the server would load them.
  const read = (file: string) => readFileSync(file, 'utf8');
  const result = await handshake(
    {
      cert: read(files.serverCertFile),
      key: read(files.serverKeyFile),
      ca: read(files.caFile),
      crl: read(files.crlFile),
      requestCert: true,
      rejectUnauthorized: true,
    },
    {
      ca: read(files.caFile),
      servername: 'localhost',
      cert: read(files.clientCertFile),
      key: read(files.clientKeyFile),
    },
  );
  assert.equal(result.client.authorized, true);
  assert.deepEqual(result.server, { authorized: true, error: undefined, peerCN: TEST_CLIENT_CN });

  // An incomplete set is regenerated as a whole.
  rmSync(files.clientKeyFile);
  await createTestPki(dir);
  assert.ok(existsSync(files.clientKeyFile));
  assert.notEqual(cert(files.caFile).fingerprint256, ca.fingerprint256);
  assert.ok(cert(files.clientCertFile).checkIssued(cert(files.caFile)));
});
