// Every certificate field behind $tls_* is compared with what the openssl command line reads from the
// same certificate, and with the values the certificate was made with.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createCertificateAuthority,
  generateKeyPair,
  issueCertificate,
  signingAlgorithm,
  x509,
} from '../../src/pki/index.js';
import { certificateFields, type NameFields } from '../../src/tls/certificate-fields.js';

/** `openssl x509 -noout <args>` on a PEM. */
function openssl(pem: string, ...args: string[]): string {
  return execFileSync('openssl', ['x509', '-noout', ...args], { input: pem, encoding: 'utf8' }).trim();
}

/** What openssl reads, independently of the code under test. */
function opensslFields(pem: string) {
  const value = (...args: string[]) => openssl(pem, ...args).replace(/^\w+=/, '');
  const version = /Version: \d+ \(0x(\d+)\)/.exec(openssl(pem, '-text'))?.[1];
  const san = { email: [] as string[], hostname: [] as string[], uri: [] as string[], ip: [] as string[] };
  const sanText = /X509v3 Subject Alternative Name:.*\n\s*(.*)/.exec(openssl(pem, '-text'))?.[1] ?? '';
  const labels = { 'DNS:': san.hostname, 'IP Address:': san.ip, 'URI:': san.uri, 'email:': san.email };
  for (const item of sanText.split(', ').filter(Boolean)) {
    const label = Object.keys(labels).find((l) => item.startsWith(l)) as keyof typeof labels | undefined;
    if (label) labels[label].push(item.slice(label.length));
  }
  return {
    version: Number.parseInt(version ?? 'NaN', 16),
    serial: BigInt(`0x${value('-serial')}`).toString(),
    subject: value('-subject', '-nameopt', 'compat'),
    issuer: value('-issuer', '-nameopt', 'compat'),
    subjectComponents: components(openssl(pem, '-subject', '-nameopt', 'sep_multiline,sname,utf8,-esc_msb')),
    issuerComponents: components(openssl(pem, '-issuer', '-nameopt', 'sep_multiline,sname,utf8,-esc_msb')),
    notBefore: value('-startdate'),
    notAfter: value('-enddate'),
    san,
  };
}

/** The first value of each attribute, from openssl's one-attribute-per-line UTF-8 form. */
function components(multiline: string): Omit<NameFields, 'oneline'> {
  const first = new Map<string, string>();
  for (const line of multiline.split('\n').slice(1)) {
    for (const attribute of line.trim().split(' + ')) {
      const eq = attribute.indexOf('=');
      const key = attribute.slice(0, eq);
      if (!first.has(key)) first.set(key, attribute.slice(eq + 1));
    }
  }
  return {
    cn: first.get('CN'),
    locality: first.get('L'),
    country: first.get('C'),
    state: first.get('ST'),
    organization: first.get('O'),
    unit: first.get('OU'),
  };
}

/** Asserts every field equals openssl's reading of the same PEM. */
function assertMatchesOpenssl(pem: string) {
  const fields = certificateFields(new X509Certificate(pem));
  const expected = opensslFields(pem);
  assert.equal(fields.version, expected.version);
  assert.equal(fields.serial, expected.serial);
  assert.equal(fields.subject.oneline, expected.subject);
  assert.equal(fields.issuer.oneline, expected.issuer);
  assert.deepEqual(
    { ...fields.subject, oneline: undefined },
    { ...expected.subjectComponents, oneline: undefined },
  );
  assert.deepEqual(
    { ...fields.issuer, oneline: undefined },
    { ...expected.issuerComponents, oneline: undefined },
  );
  assert.equal(fields.notBefore, expected.notBefore);
  assert.equal(fields.notAfter, expected.notAfter);
  assert.deepEqual(fields.san, expected.san);
  return fields;
}

// Near the 20-byte limit: beyond what a 64-bit integer (OpenSIPS' ASN1_INTEGER_get) can hold.
const LONG_SERIAL = (1n << 158n) + 0x1234567890abcdefn;

test('an issued certificate: names in RDN order, unicode, several SANs of each type, a long serial', async () => {
  const ca = await createCertificateAuthority({ subject: '/C=AT/ST=Wien/L=Wien/O=Prüf-CA/CN=Test Root' });
  const leaf = await issueCertificate({
    ca,
    profile: 'both',
    serial: LONG_SERIAL,
    subject: '/C=AT/ST=Vienna/L=Vienna/O=enum.at Zürich/OU=voip/OU=sip/CN=enum.at',
    subjectAltNames: {
      dns: ['enum.at', 'sip.enum.at', '*.voip.enum.at'],
      ip: ['10.0.0.1', '2001:db8::1', '::1'],
      uri: ['sip:enum.at', 'sips:proxy.enum.at'],
      email: ['admin@enum.at', 'noc@enum.at'],
    },
  });
  const fields = assertMatchesOpenssl(leaf.certificatePem);
  assert.equal(fields.version, 2);
  assert.equal(fields.serial, LONG_SERIAL.toString());
  assert.equal(
    fields.subject.oneline,
    '/C=AT/ST=Vienna/L=Vienna/O=enum.at Z\\xC3\\xBCrich/OU=voip/OU=sip/CN=enum.at',
  );
  assert.deepEqual(fields.subject, {
    oneline: fields.subject.oneline,
    cn: 'enum.at',
    locality: 'Vienna',
    country: 'AT',
    state: 'Vienna',
    organization: 'enum.at Zürich',
    unit: 'voip',
  });
  assert.equal(fields.issuer.oneline, '/C=AT/ST=Wien/L=Wien/O=Pr\\xC3\\xBCf-CA/CN=Test Root');
  assert.equal(fields.issuer.organization, 'Prüf-CA');
  assert.equal(fields.issuer.unit, undefined);
  assert.deepEqual(fields.san, {
    email: ['admin@enum.at', 'noc@enum.at'],
    hostname: ['enum.at', 'sip.enum.at', '*.voip.enum.at'],
    uri: ['sip:enum.at', 'sips:proxy.enum.at'],
    ip: ['10.0.0.1', '2001:DB8:0:0:0:0:0:1', '0:0:0:0:0:0:0:1'],
  });
});

test('dates print the day padded with a space, as ASN1_TIME_print does', async () => {
  const ca = await createCertificateAuthority({ subject: 'Dates CA' });
  const leaf = await issueCertificate({
    ca,
    profile: 'client',
    subject: 'dates',
    notBefore: new Date('2025-01-05T12:00:00Z'),
    notAfter: new Date('2035-11-25T08:09:10Z'),
  });
  const fields = assertMatchesOpenssl(leaf.certificatePem);
  assert.equal(fields.notBefore, 'Jan  5 12:00:00 2025 GMT');
  assert.equal(fields.notAfter, 'Nov 25 08:09:10 2035 GMT');
});

test('multi-valued RDNs, BMP/Universal/Numeric strings, escapes and unknown attributes print as OpenSSL does', async () => {
  const keys = await generateKeyPair('ec-p256');
  const name = new x509.Name([
    { C: ['AT'] },
    { O: [{ bmpString: 'Bmp Öst/+' }] },
    { OU: ['first unit'], CN: ['multi'] },
    { L: [{ universalString: 'Graz ü' }] },
    // serialNumber as a NumericString, a type @peculiar/x509 keeps undecoded.
    { '2.5.4.5': ['#12053132333435'] },
    { '1.2.3.4.5': [{ utf8String: 'private' }] },
    { CN: [{ printableString: 'second' }] },
  ]);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name,
    keys,
    signingAlgorithm: signingAlgorithm('ec-p256'),
    notBefore: new Date('2025-01-01T00:00:00Z'),
    notAfter: new Date('2026-01-01T00:00:00Z'),
  });
  const fields = assertMatchesOpenssl(cert.toString('pem'));
  assert.equal(
    fields.subject.oneline,
    '/C=AT/O=\\x00B\\x00m\\x00p\\x00 \\x00\\xD6\\x00s\\x00t\\x00\\/\\x00\\+/OU=first unit+CN=multi' +
      '/L=\\x00\\x00\\x00G\\x00\\x00\\x00r\\x00\\x00\\x00a\\x00\\x00\\x00z\\x00\\x00\\x00 \\x00\\x00\\x00\\xFC' +
      '/serialNumber=12345/1.2.3.4.5=private/CN=second',
  );
  assert.equal(fields.subject.organization, 'Bmp Öst/+');
  assert.equal(fields.subject.locality, 'Graz ü');
  assert.equal(fields.subject.cn, 'multi');
  assert.equal(fields.subject.unit, 'first unit');
});

test('a v1 certificate and a certificate with an otherName SAN made by openssl', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sipsd-fields-'));
  try {
    const key = join(dir, 'key.pem');
    const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    run('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key);
    run('req', '-new', '-key', key, '-subj', '/CN=v1 peer/O=enum.at', '-out', join(dir, 'v1.csr'));
    run('x509', '-req', '-in', 'v1.csr', '-signkey', key, '-days', '2', '-set_serial', '0', '-out', 'v1.pem');
    const v1 = assertMatchesOpenssl(readFileSync(join(dir, 'v1.pem'), 'utf8'));
    assert.equal(v1.version, 0);
    assert.equal(v1.serial, '0');
    assert.equal(v1.subject.oneline, '/CN=v1 peer/O=enum.at');
    assert.deepEqual(v1.san, { email: [], hostname: [], uri: [], ip: [] });

    writeFileSync(
      join(dir, 'san.cnf'),
      '[req]\ndistinguished_name=dn\n[dn]\n[ext]\nsubjectAltName=otherName:1.3.6.1.5.5.7.8.5;UTF8:alice@xmpp.example,' +
        'DNS:sip.enum.at,IP:192.0.2.1,email:alice@enum.at,URI:sip:alice@enum.at,IP:fe80::1:2\n',
    );
    run(
      'req',
      '-x509',
      '-key',
      key,
      '-subj',
      '/CN=xmpp',
      '-days',
      '2',
      '-config',
      'san.cnf',
      '-extensions',
      'ext',
      '-out',
      'san.pem',
    );
    const san = assertMatchesOpenssl(readFileSync(join(dir, 'san.pem'), 'utf8'));
    assert.deepEqual(san.san, {
      email: ['alice@enum.at'],
      hostname: ['sip.enum.at'],
      uri: ['sip:alice@enum.at'],
      ip: ['192.0.2.1', 'FE80:0:0:0:0:0:1:2'],
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
