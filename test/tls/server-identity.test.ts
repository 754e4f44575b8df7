// RFC 5922 §7 SIP domain identity matching, on certificates made with the test PKI.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import { createCertificateAuthority, issueCertificate, type SubjectAltNames } from '../../src/pki/index.js';
import { matchesSipIdentity, parseAltNames } from '../../src/tls/server-identity.js';

const ca = await createCertificateAuthority({ subject: 'CN=Identity Test CA' });

async function cert(subject: string, subjectAltNames?: SubjectAltNames): Promise<X509Certificate> {
  const issued = await issueCertificate({ ca, profile: 'server', subject, subjectAltNames });
  return new X509Certificate(issued.certificatePem);
}

const sans = await cert('CN=cn.example.com', {
  dns: ['proxy.example.com', '*.wild.example.com'],
  uri: [
    'sip:example.com',
    'sips:secure.example.net',
    'sip:alice@users.example.com',
    'http://web.example.org',
  ],
  ip: ['192.0.2.10', '2001:db8::5'],
});

test('DNS subjectAltName entries match whole names, case-insensitively', () => {
  assert.equal(matchesSipIdentity(sans, 'proxy.example.com'), true);
  assert.equal(matchesSipIdentity(sans, 'PROXY.Example.Com'), true);
  assert.equal(matchesSipIdentity(sans, 'proxy.example.com.'), true, 'a trailing dot is the same name');
  assert.equal(matchesSipIdentity(sans, 'example.com.proxy'), false);
  assert.equal(matchesSipIdentity(sans, 'xproxy.example.com'), false);
  assert.equal(matchesSipIdentity(sans, 'other.proxy.example.com'), false, 'no suffix matching');
});

test('sip: and sips: URI entries without a user part are SIP domain identities', () => {
  assert.equal(matchesSipIdentity(sans, 'example.com'), true);
  assert.equal(matchesSipIdentity(sans, 'secure.example.net'), true);
  assert.equal(
    matchesSipIdentity(sans, 'users.example.com'),
    false,
    'sip:alice@... names a user, not a domain',
  );
  assert.equal(matchesSipIdentity(sans, 'web.example.org'), false, 'other schemes are not SIP identities');
});

test('wildcards never match another name (RFC 5922 §7.2)', () => {
  assert.equal(matchesSipIdentity(sans, 'a.wild.example.com'), false);
  assert.equal(matchesSipIdentity(sans, 'wild.example.com'), false);
});

test('the CN counts only when the certificate has no subjectAltName at all', async () => {
  assert.equal(matchesSipIdentity(sans, 'cn.example.com'), false);
  const cnOnly = await cert('CN=Legacy.Example.com');
  assert.equal(matchesSipIdentity(cnOnly, 'legacy.example.com'), true);
  assert.equal(matchesSipIdentity(cnOnly, 'other.example.com'), false);
});

test('an IP address matches IP entries only, in any spelling', async () => {
  assert.equal(matchesSipIdentity(sans, '192.0.2.10'), true);
  assert.equal(matchesSipIdentity(sans, '192.0.2.11'), false);
  assert.equal(matchesSipIdentity(sans, '2001:DB8:0:0:0:0:0:5'), true);
  assert.equal(matchesSipIdentity(sans, '[2001:db8::5]'), true);
  assert.equal(matchesSipIdentity(sans, '::ffff:192.0.2.10'), true, 'an IPv4-mapped peer address');
  const ipAsCn = await cert('CN=192.0.2.10');
  assert.equal(matchesSipIdentity(ipAsCn, '192.0.2.10'), false, 'never the CN for an address');
  assert.equal(matchesSipIdentity(sans, ''), false);
});

test("Node's subjectAltName text splits into entries, quoted values kept whole", () => {
  assert.deepEqual(parseAltNames('DNS:a.example, URI:sip:b.example, IP Address:192.0.2.1'), [
    { type: 'DNS', value: 'a.example' },
    { type: 'URI', value: 'sip:b.example' },
    { type: 'IP Address', value: '192.0.2.1' },
  ]);
  assert.deepEqual(parseAltNames('DNS:"a, b.example", DNS:c.example'), [
    { type: 'DNS', value: 'a, b.example' },
    { type: 'DNS', value: 'c.example' },
  ]);
  assert.deepEqual(parseAltNames(undefined), []);
});
