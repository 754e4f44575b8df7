import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { test } from 'node:test';
import tls from 'node:tls';
import {
  createCertificateAuthority,
  createSelfSignedCertificate,
  issueCertificate,
  loadCertificateAuthority,
  parseSerial,
  randomSerial,
  x509,
  type IssuedCertificate,
} from '../../src/pki/index.js';

const CA_SUBJECT = '/C=AT/ST=Vienna/O=sipsd test/CN=sipsd Test CA';
const ca = await createCertificateAuthority({ subject: CA_SUBJECT, days: 30 });
const caCert = new X509Certificate(ca.certificatePem);

function node(issued: IssuedCertificate): X509Certificate {
  return new X509Certificate(issued.certificatePem);
}

function extension<T extends x509.Extension>(
  issued: IssuedCertificate,
  type: new (raw: ArrayBuffer) => T,
): T {
  const ext = issued.certificate.getExtension(type);
  assert.ok(ext, `missing ${type.name}`);
  return ext;
}

test('a root CA is self-signed with CA extensions and the requested subject and validity', () => {
  assert.equal(caCert.subject, 'C=AT\nST=Vienna\nO=sipsd test\nCN=sipsd Test CA');
  assert.equal(caCert.issuer, caCert.subject);
  assert.ok(caCert.ca);
  assert.ok(caCert.checkIssued(caCert));
  assert.ok(caCert.verify(caCert.publicKey));
  assert.ok(caCert.checkPrivateKey(createPrivateKey(ca.privateKeyPem)));

  const basic = extension(ca, x509.BasicConstraintsExtension);
  assert.ok(basic.ca && basic.critical);
  assert.equal(basic.pathLength, undefined);
  const usage = extension(ca, x509.KeyUsagesExtension);
  assert.equal(usage.usages, x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
  assert.ok(usage.critical);
  const ski = extension(ca, x509.SubjectKeyIdentifierExtension).keyId;
  assert.equal(extension(ca, x509.AuthorityKeyIdentifierExtension).keyId, ski);

  const days = (Date.parse(caCert.validTo) - Date.now()) / 86_400_000;
  assert.ok(days > 29.9 && days <= 30, `validity ${days} days`);
  assert.ok(Date.parse(caCert.validFrom) <= Date.now());
  assert.equal(ca.chainPem, ca.certificatePem);
});

test('a server certificate: chained to the CA, serverAuth, SANs with IPv6 and a SIP URI', async () => {
  const server = await issueCertificate({
    ca,
    profile: 'server',
    subject: { O: 'sipsd test', CN: 'proxy.example.com' },
    subjectAltNames: {
      dns: ['proxy.example.com', '*.sip.example.com'],
      ip: ['192.0.2.10', '2001:db8::10'],
      uri: ['sip:example.com'],
    },
  });
  const cert = node(server);
  assert.equal(cert.subject, 'O=sipsd test\nCN=proxy.example.com');
  assert.equal(cert.issuer, caCert.subject);
  assert.ok(cert.checkIssued(caCert));
  assert.ok(cert.verify(caCert.publicKey));
  assert.ok(!cert.ca);
  assert.ok(cert.checkPrivateKey(createPrivateKey(server.privateKeyPem)));
  assert.equal(
    cert.subjectAltName,
    'DNS:proxy.example.com, DNS:*.sip.example.com, IP Address:192.0.2.10, ' +
      'IP Address:2001:DB8:0:0:0:0:0:10, URI:sip:example.com',
  );
  assert.deepEqual(cert.keyUsage, [x509.ExtendedKeyUsage.serverAuth]);
  assert.equal(extension(server, x509.KeyUsagesExtension).usages, x509.KeyUsageFlags.digitalSignature);
  assert.equal(extension(server, x509.BasicConstraintsExtension).ca, false);
  assert.equal(
    extension(server, x509.AuthorityKeyIdentifierExtension).keyId,
    extension(ca, x509.SubjectKeyIdentifierExtension).keyId,
  );
  // Serial: random, positive, 128 bits, reported in decimal.
  assert.equal(BigInt(`0x${cert.serialNumber}`).toString(), server.serialNumber);
  assert.equal(cert.serialNumber.length, 32);
  assert.equal(server.chainPem, server.certificatePem + ca.certificatePem);
  // Node's own host-name check, as a TLS client would apply it.
  const peer = {
    subject: { CN: 'proxy.example.com' },
    subjectaltname: cert.subjectAltName,
  } as tls.PeerCertificate;
  assert.equal(tls.checkServerIdentity('proxy.example.com', peer), undefined);
  assert.equal(tls.checkServerIdentity('a.sip.example.com', peer), undefined);
  assert.equal(tls.checkServerIdentity('2001:db8::10', peer), undefined);
  assert.ok(tls.checkServerIdentity('other.example.com', peer));
});

test('client and dual-purpose profiles; RSA leaves add keyEncipherment', async () => {
  const client = await issueCertificate({ ca, profile: 'client', subject: 'CN=alice' });
  assert.deepEqual(node(client).keyUsage, [x509.ExtendedKeyUsage.clientAuth]);
  assert.equal(node(client).subjectAltName, undefined);

  const both = await issueCertificate({ ca, profile: 'both', subject: 'CN=proxy', keyType: 'rsa-2048' });
  assert.deepEqual(node(both).keyUsage, [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]);
  assert.equal(
    extension(both, x509.KeyUsagesExtension).usages,
    x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
  );
  assert.equal(node(both).publicKey.asymmetricKeyDetails?.modulusLength, 2048);
  assert.ok(node(both).verify(caCert.publicKey));
});

test('explicit validity windows make expired and not-yet-valid certificates', async () => {
  const day = 86_400_000;
  const expired = await issueCertificate({
    ca,
    profile: 'client',
    subject: 'CN=old',
    notBefore: new Date(Date.now() - 10 * day),
    notAfter: new Date(Date.now() - day),
  });
  assert.ok(Date.parse(node(expired).validTo) < Date.now());
  const future = await issueCertificate({
    ca,
    profile: 'server',
    subject: 'CN=future',
    notBefore: new Date(Date.now() + day),
    days: 10,
  });
  assert.ok(Date.parse(node(future).validFrom) > Date.now());
  assert.equal(Date.parse(node(future).validTo) - Date.parse(node(future).validFrom), 10 * day);
  await assert.rejects(
    issueCertificate({
      ca,
      profile: 'server',
      subject: 'CN=x',
      notBefore: new Date(),
      notAfter: new Date(0),
    }),
    /notAfter .* must be later than notBefore/,
  );
});

test('a chosen serial is used as given', async () => {
  const issued = await issueCertificate({ ca, profile: 'server', subject: 'CN=s', serial: 0xff01n });
  assert.equal(issued.serialNumber, String(0xff01));
  assert.equal(node(issued).serialNumber, 'FF01');
  const serial = randomSerial();
  assert.ok(serial > 0n && serial < 1n << 128n);
  assert.equal(parseSerial('0xFF01'), 0xff01n);
  assert.equal(parseSerial('FF:01'), 0xff01n);
  assert.equal(parseSerial('65281'), 65281n);
  assert.throws(() => parseSerial('0'), /invalid serial number/);
  assert.throws(() => parseSerial(`0x80${'00'.repeat(19)}`), /at most 20 bytes/);
  await assert.rejects(
    issueCertificate({ ca, profile: 'server', subject: 'CN=s', serial: 0n }),
    /not positive/,
  );
});

test('an intermediate CA: pathLength 0, chains to the root, and may not sign further CAs', async () => {
  const intermediate = await createCertificateAuthority({ subject: 'CN=sipsd Issuing CA', issuer: ca });
  const cert = node(intermediate);
  assert.ok(cert.ca && cert.checkIssued(caCert) && cert.verify(caCert.publicKey));
  assert.equal(extension(intermediate, x509.BasicConstraintsExtension).pathLength, 0);
  assert.equal(intermediate.chainPem, intermediate.certificatePem + ca.certificatePem);
  const reloaded = await loadCertificateAuthority({
    certificatePem: intermediate.certificatePem,
    privateKeyPem: intermediate.privateKeyPem,
    issuerChainPem: ca.certificatePem,
  });
  assert.equal(reloaded.chainPem, intermediate.chainPem);

  const leaf = await issueCertificate({ ca: intermediate, profile: 'server', subject: 'CN=leaf' });
  assert.ok(node(leaf).checkIssued(cert));
  assert.equal(leaf.chainPem, leaf.certificatePem + intermediate.certificatePem + ca.certificatePem);
  await assert.rejects(
    createCertificateAuthority({ subject: 'CN=too deep', issuer: intermediate }),
    /'CN=sipsd Issuing CA' may not sign CA certificates \(pathLength 0\)/,
  );
  await assert.rejects(
    issueCertificate({ ca: leaf, profile: 'server', subject: 'CN=x' }),
    /'CN=leaf' is not a CA certificate/,
  );
});

test('a self-signed leaf names itself as issuer and is not a CA', async () => {
  const self = await createSelfSignedCertificate({
    profile: 'server',
    subject: 'localhost',
    subjectAltNames: { dns: ['localhost'] },
  });
  const cert = node(self);
  assert.equal(cert.subject, 'CN=localhost');
  assert.equal(cert.issuer, cert.subject);
  assert.ok(cert.verify(cert.publicKey));
  assert.ok(!cert.ca);
});

test('a CA loads back from PEM, with an encrypted key, and keeps issuing', async () => {
  const made = await createCertificateAuthority({ subject: 'CN=Reloaded CA', passphrase: 'secret' });
  assert.match(made.privateKeyPem, /ENCRYPTED PRIVATE KEY/);
  const loaded = await loadCertificateAuthority({
    certificatePem: made.certificatePem,
    privateKeyPem: made.privateKeyPem,
    passphrase: 'secret',
  });
  const leaf = await issueCertificate({ ca: loaded, profile: 'client', subject: 'CN=bob' });
  assert.ok(node(leaf).verify(new X509Certificate(made.certificatePem).publicKey));

  await assert.rejects(
    loadCertificateAuthority({ certificatePem: made.certificatePem, privateKeyPem: ca.privateKeyPem }),
    /does not belong to the CA certificate/,
  );
  await assert.rejects(
    loadCertificateAuthority({ certificatePem: leaf.certificatePem, privateKeyPem: leaf.privateKeyPem }),
    /is not a CA certificate/,
  );
});

test('subjects and alt names are validated', async () => {
  const issue = (subject: string, dns: string[] = []) =>
    issueCertificate({ ca, profile: 'server', subject, subjectAltNames: { dns } });
  await assert.rejects(issue('/C=Austria/CN=x'), /country \(C\) must be a two-letter code/);
  await assert.rejects(issue('/XX=1/CN=x'), /unknown subject attribute 'XX'/);
  await assert.rejects(issue('/CN'), /not KEY=VALUE/);
  await assert.rejects(issue(''), /the subject is empty/);
  await assert.rejects(issue('CN=x', ['bad_name!']), /invalid DNS name 'bad_name!'/);
  await assert.rejects(
    issueCertificate({ ca, profile: 'server', subject: 'CN=x', subjectAltNames: { ip: ['300.1.1.1'] } }),
    /invalid IP address/,
  );
  // Escaped separators stay inside a value.
  const escaped = (await issue('/O=a\\/b/CN=x, y')).certificate.subjectName;
  assert.deepEqual([escaped.getField('O'), escaped.getField('CN')], [['a/b'], ['x, y']]);
});
