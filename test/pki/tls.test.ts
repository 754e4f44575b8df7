// Real handshakes with Node's TLS stack: the proof that the certificates do what they are for.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createCertificateAuthority,
  createCrl,
  createSelfSignedCertificate,
  issueCertificate,
  loadPrivateKey,
} from '../../src/pki/index.js';
import { handshake } from './helpers.js';

const day = 86_400_000;
const ca = await createCertificateAuthority({ subject: '/C=AT/O=sipsd test/CN=sipsd Test CA' });
const server = await issueCertificate({
  ca,
  profile: 'server',
  subject: 'CN=localhost',
  subjectAltNames: { dns: ['localhost'], ip: ['127.0.0.1', '::1'] },
});
const client = await issueCertificate({ ca, profile: 'client', subject: 'CN=sipsd-test-client' });
const serverOptions = { cert: server.certificatePem, key: server.privateKeyPem };
/** The server demands a client certificate but reports its verdict instead of hanging up. */
const mtlsOptions = { ...serverOptions, ca: ca.certificatePem, requestCert: true, rejectUnauthorized: false };

test('a client trusting the CA accepts the server by name and by IP', async () => {
  const byName = await handshake(serverOptions, { ca: ca.certificatePem, servername: 'localhost' });
  assert.deepEqual(byName.client, { authorized: true, error: undefined });
  const byIp = await handshake(serverOptions, { ca: ca.certificatePem });
  assert.equal(byIp.client.authorized, true);
});

test('a client rejects an unknown CA and a wrong name', async () => {
  const other = await createCertificateAuthority({ subject: 'CN=Other CA' });
  const unknown = await handshake(serverOptions, { ca: other.certificatePem, servername: 'localhost' });
  assert.equal(unknown.client.authorized, false);
  assert.equal(unknown.client.error, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  const wrongName = await handshake(serverOptions, { ca: ca.certificatePem, servername: 'sip.example.com' });
  assert.equal(wrongName.client.authorized, false);
  assert.equal(wrongName.client.error, 'ERR_TLS_CERT_ALTNAME_INVALID');
});

test('mutual TLS: a server with requestCert and rejectUnauthorized accepts the client certificate', async () => {
  const result = await handshake(
    { ...mtlsOptions, rejectUnauthorized: true },
    {
      ca: ca.certificatePem,
      servername: 'localhost',
      cert: client.certificatePem,
      key: client.privateKeyPem,
    },
  );
  assert.deepEqual(result.server, { authorized: true, error: undefined, peerCN: 'sipsd-test-client' });
  assert.equal(result.client.authorized, true);
});

test('mutual TLS: expired and not-yet-valid client certificates are rejected', async () => {
  const expired = await issueCertificate({
    ca,
    profile: 'client',
    subject: 'CN=expired',
    notBefore: new Date(Date.now() - 30 * day),
    notAfter: new Date(Date.now() - day),
  });
  const early = await issueCertificate({
    ca,
    profile: 'client',
    subject: 'CN=early',
    notBefore: new Date(Date.now() + day),
  });
  const connect = (c: typeof client) =>
    handshake(mtlsOptions, {
      ca: ca.certificatePem,
      servername: 'localhost',
      cert: c.certificatePem,
      key: c.privateKeyPem,
    });
  assert.deepEqual((await connect(expired)).server, {
    authorized: false,
    error: 'CERT_HAS_EXPIRED',
    peerCN: 'expired',
  });
  assert.equal((await connect(early)).server.error, 'CERT_NOT_YET_VALID');

  // With rejectUnauthorized the server drops the connection instead of accepting it.
  const strict = await handshake(
    { ...mtlsOptions, rejectUnauthorized: true },
    {
      ca: ca.certificatePem,
      servername: 'localhost',
      cert: expired.certificatePem,
      key: expired.privateKeyPem,
    },
  );
  assert.equal(strict.server.authorized, false);
});

test('mutual TLS: a revoked client certificate is rejected when the server has the CRL', async () => {
  const revoked = await issueCertificate({ ca, profile: 'client', subject: 'CN=revoked' });
  const crl = await createCrl({
    ca,
    revoked: [{ serialNumber: revoked.serialNumber, revocationDate: new Date(), reason: 'keyCompromise' }],
  });
  const connect = (c: typeof client) =>
    handshake(
      { ...mtlsOptions, crl },
      { ca: ca.certificatePem, servername: 'localhost', cert: c.certificatePem, key: c.privateKeyPem },
    );
  assert.equal((await connect(revoked)).server.error, 'CERT_REVOKED');
  assert.equal((await connect(client)).server.authorized, true);
});

test('a server certificate from an intermediate CA verifies when the server sends its chain', async () => {
  const intermediate = await createCertificateAuthority({ subject: 'CN=sipsd Issuing CA', issuer: ca });
  const leaf = await issueCertificate({
    ca: intermediate,
    profile: 'server',
    subject: 'CN=localhost',
    subjectAltNames: { dns: ['localhost'] },
  });
  const withChain = await handshake(
    { cert: leaf.chainPem, key: leaf.privateKeyPem },
    { ca: ca.certificatePem, servername: 'localhost' },
  );
  assert.equal(withChain.client.authorized, true);
  const leafOnly = await handshake(
    { cert: leaf.certificatePem, key: leaf.privateKeyPem },
    { ca: ca.certificatePem, servername: 'localhost' },
  );
  assert.equal(leafOnly.client.error, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
});

test('an expired server certificate is rejected by the client', async () => {
  const expired = await issueCertificate({
    ca,
    profile: 'server',
    subject: 'CN=localhost',
    subjectAltNames: { dns: ['localhost'] },
    notBefore: new Date(Date.now() - 30 * day),
    notAfter: new Date(Date.now() - day),
  });
  const result = await handshake(
    { cert: expired.certificatePem, key: expired.privateKeyPem },
    { ca: ca.certificatePem, servername: 'localhost' },
  );
  assert.equal(result.client.error, 'CERT_HAS_EXPIRED');
});

test('a self-signed server certificate is trusted only when pinned as the CA', async () => {
  const self = await createSelfSignedCertificate({
    profile: 'server',
    subject: 'CN=localhost',
    subjectAltNames: { dns: ['localhost'] },
  });
  const options = { cert: self.certificatePem, key: self.privateKeyPem };
  assert.equal(
    (await handshake(options, { ca: ca.certificatePem, servername: 'localhost' })).client.error,
    'DEPTH_ZERO_SELF_SIGNED_CERT',
  );
  assert.equal(
    (await handshake(options, { ca: self.certificatePem, servername: 'localhost' })).client.authorized,
    true,
  );
});

test('an RSA server certificate with an encrypted key serves TLS given the passphrase', async () => {
  const rsa = await issueCertificate({
    ca,
    profile: 'server',
    subject: 'CN=localhost',
    subjectAltNames: { dns: ['localhost'] },
    keyType: 'rsa-2048',
    passphrase: 'tls secret',
  });
  assert.equal((await loadPrivateKey(rsa.privateKeyPem, 'tls secret')).type, 'rsa-2048');
  const result = await handshake(
    { cert: rsa.certificatePem, key: rsa.privateKeyPem, passphrase: 'tls secret' },
    // TLS 1.2 with an RSA key-exchange suite exercises keyEncipherment.
    { ca: ca.certificatePem, servername: 'localhost', maxVersion: 'TLSv1.2', ciphers: 'AES128-GCM-SHA256' },
  );
  assert.equal(result.client.authorized, true);
});
