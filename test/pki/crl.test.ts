import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createCertificateAuthority,
  createCrl,
  issueCertificate,
  parseRevocationReason,
  x509,
} from '../../src/pki/index.js';
import { hasOpenssl, openssl, tempDir, writeFiles } from './helpers.js';

const ca = await createCertificateAuthority({ subject: '/O=sipsd test/CN=CRL Test CA' });
const good = await issueCertificate({
  ca,
  profile: 'server',
  subject: 'CN=localhost',
  subjectAltNames: { dns: ['localhost'] },
});
const bad = await issueCertificate({ ca, profile: 'client', subject: 'CN=revoked client' });
const superseded = await issueCertificate({ ca, profile: 'client', subject: 'CN=old client' });
const revokedAt = new Date('2026-01-02T03:04:05Z');
const crlPem = await createCrl({
  ca,
  crlNumber: 7n,
  revoked: [
    { serialNumber: bad.serialNumber, revocationDate: revokedAt, reason: 'keyCompromise' },
    { serialNumber: superseded.serialNumber, revocationDate: revokedAt },
  ],
});

test('a CRL is signed by the CA and lists serials, dates, reasons, number and key id', async () => {
  assert.match(crlPem, /^-----BEGIN X509 CRL-----\n/);
  const crl = new x509.X509Crl(crlPem);
  assert.ok(await crl.verify({ publicKey: ca.certificate }));
  assert.equal(crl.issuer, ca.certificate.subject);
  const nextUpdateDays = ((crl.nextUpdate?.getTime() ?? 0) - crl.thisUpdate.getTime()) / 86_400_000;
  assert.equal(nextUpdateDays, 30);

  const entry = crl.findRevoked(bad.certificate);
  assert.equal(entry?.revocationDate.toISOString(), revokedAt.toISOString());
  assert.equal(entry?.reason, x509.X509CrlReason.keyCompromise);
  assert.equal(crl.findRevoked(superseded.certificate)?.reason, x509.X509CrlReason.unspecified);
  assert.equal(crl.findRevoked(good.certificate), null);

  const aki = crl.getExtension(x509.AuthorityKeyIdentifierExtension);
  assert.equal(aki?.keyId, ca.certificate.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId);
  const number = crl.getExtension('2.5.29.20');
  assert.deepEqual([...new Uint8Array(number?.value ?? new ArrayBuffer(0))], [0x02, 0x01, 0x07]);
});

test('an empty CRL with explicit update times', async () => {
  const thisUpdate = new Date('2026-03-01T00:00:00Z');
  const nextUpdate = new Date('2026-03-08T00:00:00Z');
  const crl = new x509.X509Crl(await createCrl({ ca, thisUpdate, nextUpdate }));
  assert.equal(crl.entries.length, 0);
  assert.equal(crl.thisUpdate.toISOString(), thisUpdate.toISOString());
  assert.equal(crl.nextUpdate?.toISOString(), nextUpdate.toISOString());
});

test('revocation reasons parse leniently and reject unknown ones', () => {
  assert.equal(parseRevocationReason('key-compromise'), 'keyCompromise');
  assert.equal(parseRevocationReason('SUPERSEDED'), 'superseded');
  assert.throws(() => parseRevocationReason('bored'), /unknown revocation reason 'bored'/);
});

test(
  'openssl agrees: chains verify, the CRL parses and revokes',
  { skip: !hasOpenssl && 'no openssl' },
  () => {
    const files = writeFiles(tempDir(), {
      'ca.pem': ca.certificatePem,
      'server.pem': good.certificatePem,
      'revoked.pem': bad.certificatePem,
      'crl.pem': crlPem,
    });
    assert.deepEqual(openssl('verify', '-CAfile', files['ca.pem'], files['server.pem']), {
      ok: true,
      output: `${files['server.pem']}: OK\n`,
    });
    // The extended key usage is enforced: a server certificate is no TLS client certificate.
    assert.ok(openssl('verify', '-purpose', 'sslserver', '-CAfile', files['ca.pem'], files['server.pem']).ok);
    assert.ok(
      !openssl('verify', '-purpose', 'sslclient', '-CAfile', files['ca.pem'], files['server.pem']).ok,
    );

    const text = openssl('crl', '-in', files['crl.pem'], '-noout', '-text');
    assert.ok(text.ok, text.output);
    assert.match(text.output, new RegExp(`Serial Number: ${bad.certificate.serialNumber}`, 'i'));
    assert.match(text.output, /Key Compromise/);
    assert.match(text.output, /X509v3 CRL Number: *\n *7\n/);
    assert.ok(openssl('crl', '-in', files['crl.pem'], '-noout', '-CAfile', files['ca.pem']).ok);

    const crlArgs = ['verify', '-crl_check', '-CAfile', files['ca.pem'], '-CRLfile', files['crl.pem']];
    const revoked = openssl(...crlArgs, files['revoked.pem']);
    assert.ok(!revoked.ok);
    assert.match(revoked.output, /certificate revoked/);
    assert.ok(openssl(...crlArgs, files['server.pem']).ok);
  },
);
