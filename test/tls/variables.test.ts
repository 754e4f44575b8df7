// The $tls_* variables on a real mutual-TLS connection over loopback, read through a real PvRegistry
// and compared with what the openssl command line reads from the same certificates and ciphers.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { createCertificateAuthority, issueCertificate, type IssuedCertificate } from '../../src/pki/index.js';
import type { MessageContext } from '../../src/router/context.js';
import { PvRegistry } from '../../src/router/pv.js';
import { sessionInfo } from '../../src/transport/tls-accept.js';
import type { PeerVerification, TlsSessionInfo } from '../../src/transport/types.js';
import { cipherDescription, tlsVariables } from '../../src/tls/variables.js';

const pvs = new PvRegistry<MessageContext>();
pvs.register(...tlsVariables);

/**
 * The $tls_* getters read only `proto` and `tls` of the context, so a message context is stood in
 * for by an object with just those two.
 */
const contextOf = (tls: TlsSessionInfo | undefined, proto: 'tls' | 'udp' = 'tls') =>
  ({ proto, tls }) as unknown as MessageContext;

function openssl(pem: string, ...args: string[]): string {
  return execFileSync('openssl', ['x509', '-noout', ...args], { input: pem, encoding: 'utf8' })
    .trim()
    .replace(/^\w+=/, '');
}

/** `openssl ciphers -v` for every cipher this OpenSSL knows, single-spaced, by cipher name. */
const opensslCiphers = new Map(
  execFileSync(
    'openssl',
    [
      'ciphers',
      '-v',
      '-ciphersuites',
      'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:TLS_AES_128_CCM_SHA256:TLS_AES_128_CCM_8_SHA256',
      'ALL:COMPLEMENTOFALL:@SECLEVEL=0',
    ],
    { encoding: 'utf8' },
  )
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/).join(' '))
    .map((line) => [line.split(' ')[0]!, line]),
);

let ca: IssuedCertificate;
let server: IssuedCertificate;
let client: IssuedCertificate;

before(async () => {
  ca = await createCertificateAuthority({ subject: '/C=AT/O=enum.at/CN=enum.at Root CA' });
  server = await issueCertificate({
    ca,
    profile: 'server',
    subject: '/C=AT/ST=Vienna/L=Vienna/O=enum.at/OU=voip/CN=sip.enum.at',
    subjectAltNames: { dns: ['sip.enum.at'], ip: ['127.0.0.1'] },
  });
  client = await issueCertificate({
    ca,
    profile: 'client',
    subject: '/C=AT/ST=Vienna/L=Vienna/O=enum.at/OU=phones/CN=alice.enum.at',
    subjectAltNames: {
      dns: ['alice.enum.at', 'phone.enum.at', 'desk.enum.at'],
      ip: ['192.0.2.7', '2001:db8::7'],
      uri: ['sip:alice@enum.at'],
      email: ['alice@enum.at'],
    },
  });
});

interface Connection {
  info: TlsSessionInfo;
  close: () => void;
}

/** A loopback TLS connection; `info` is built from the server side as the transport builds it. */
async function tlsConnection(options: {
  clientCertificate: boolean;
  maxVersion?: 'TLSv1.2';
}): Promise<Connection> {
  const listener = createServer({
    key: server.privateKeyPem,
    cert: server.certificatePem,
    ca: ca.certificatePem,
    requestCert: true,
    rejectUnauthorized: false,
    ...(options.maxVersion && { maxVersion: options.maxVersion }),
  });
  const accepted = new Promise<TLSSocket>((resolve) => listener.once('secureConnection', resolve));
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const socket = connect({
    host: '127.0.0.1',
    port: (listener.address() as AddressInfo).port,
    servername: 'sip.enum.at',
    ca: ca.certificatePem,
    ...(options.clientCertificate && { key: client.privateKeyPem, cert: client.certificatePem }),
  });
  await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  const serverSide = await accepted;
  const presented = serverSide.getPeerX509Certificate() !== undefined;
  const peer: PeerVerification = {
    presented,
    verified: presented && serverSide.authorized,
    revoked: false,
    expired: false,
    selfSigned: false,
    code: undefined,
    reason: serverSide.authorized ? undefined : String(serverSide.authorizationError),
  };
  const certificate = serverSide.getPeerX509Certificate();
  const info = sessionInfo(
    serverSide,
    'test',
    serverSide.servername || undefined,
    { peer, certificate },
    serverSide.getX509Certificate(),
  );
  return {
    info,
    close: () => {
      socket.destroy();
      serverSide.destroy();
      listener.close();
    },
  };
}

/** The openssl reading of a certificate, keyed by the variable suffix it should equal. */
function expectedFields(pem: string): Record<string, string | number> {
  const component = (part: 'subject' | 'issuer', key: string) =>
    new RegExp(`^\\s*${key}=(.*)$`, 'm').exec(
      openssl(pem, `-${part}`, '-nameopt', 'sep_multiline,sname,utf8,-esc_msb'),
    )?.[1] ?? '';
  const text = openssl(pem, '-text');
  const expected: Record<string, string | number> = {
    version: Number.parseInt(/Version: \d+ \(0x(\d+)\)/.exec(text)![1]!, 16),
    serial: BigInt(`0x${openssl(pem, '-serial')}`).toString(),
    notBefore: openssl(pem, '-startdate'),
    notAfter: openssl(pem, '-enddate'),
  };
  for (const part of ['subject', 'issuer'] as const) {
    expected[part] = openssl(pem, `-${part}`, '-nameopt', 'compat');
    const keys = { cn: 'CN', locality: 'L', country: 'C', state: 'ST', organization: 'O', unit: 'OU' };
    for (const [suffix, key] of Object.entries(keys)) {
      const value = component(part, key);
      if (value) expected[`${part}_${suffix}`] = value;
    }
  }
  const san = /X509v3 Subject Alternative Name:.*\n\s*(.*)/.exec(text)![1]!.split(', ');
  const first = (label: string) => san.find((s) => s.startsWith(label))?.slice(label.length);
  for (const [suffix, label] of Object.entries({
    hostname: 'DNS:',
    ip: 'IP Address:',
    uri: 'URI:',
    email: 'email:',
  })) {
    const value = first(label);
    if (value !== undefined) expected[`san_${suffix}`] = value;
  }
  return expected;
}

test('TLS 1.3 with a client certificate: every variable against openssl', async () => {
  const conn = await tlsConnection({ clientCertificate: true });
  try {
    const ctx = contextOf(conn.info);
    const cipher = String(pvs.get(ctx, '$tls_cipher_info'));
    assert.equal(pvs.get(ctx, '$tls_version'), 'TLSv1.3');
    assert.match(cipher, /^TLS_/);
    assert.equal(pvs.get(ctx, '$tls_description'), opensslCiphers.get(cipher));
    const opensslBits = /Enc=\S*\((\d+)\)/.exec(opensslCiphers.get(cipher)!)![1];
    assert.equal(pvs.get(ctx, '$tls_cipher_bits'), Number(opensslBits));
    assert.equal(pvs.get(ctx, '$tls_peer_server_name'), 'sip.enum.at');
    assert.equal(pvs.get(ctx, '$tls_peer_verified'), 1);
    assert.equal(pvs.get(ctx, '$tls_peer_revoked'), 0);
    assert.equal(pvs.get(ctx, '$tls_peer_expired'), 0);
    assert.equal(pvs.get(ctx, '$tls_peer_selfsigned'), 0);

    for (const [side, pem] of [
      ['peer', client.certificatePem],
      ['my', server.certificatePem],
    ] as const) {
      const expected = expectedFields(pem);
      for (const spec of tlsVariables.filter((s) => s.name.startsWith(`tls_${side}_`))) {
        const suffix = spec.name.slice(`tls_${side}_`.length);
        if (side === 'peer' && PEER_SESSION_SUFFIXES.has(suffix)) continue;
        assert.equal(pvs.get(ctx, `$${spec.name}`), expected[suffix], `$${spec.name}`);
      }
    }
    assert.equal(
      pvs.get(ctx, '$tls_peer_subject'),
      '/C=AT/ST=Vienna/L=Vienna/O=enum.at/OU=phones/CN=alice.enum.at',
    );
    assert.equal(pvs.get(ctx, '$tls_my_issuer_organization'), 'enum.at');
    assert.equal(pvs.get(ctx, '$tls_peer_version'), 2);
    assert.equal(pvs.expand(ctx, '$tls_peer_subject_cn from $tls_version'), 'alice.enum.at from TLSv1.3');
  } finally {
    conn.close();
  }
});

/** `$tls_peer_*` names that describe the session rather than the certificate. */
const PEER_SESSION_SUFFIXES = new Set(['server_name', 'verified', 'revoked', 'expired', 'selfsigned']);

test('subjectAltName entries by 0-based index; negative counts from the end', async () => {
  const conn = await tlsConnection({ clientCertificate: true });
  try {
    const ctx = contextOf(conn.info);
    assert.equal(pvs.get(ctx, '$tls_peer_san_hostname'), 'alice.enum.at');
    assert.equal(pvs.get(ctx, '$tls_peer_san_hostname(0)'), 'alice.enum.at');
    assert.equal(pvs.get(ctx, '$tls_peer_san_hostname(2)'), 'desk.enum.at');
    assert.equal(pvs.get(ctx, '$tls_peer_san_hostname(-1)'), 'desk.enum.at');
    assert.equal(pvs.get(ctx, '$tls_peer_san_hostname(3)'), undefined);
    assert.equal(pvs.get(ctx, '$tls_peer_san_ip(1)'), '2001:DB8:0:0:0:0:0:7');
    assert.equal(pvs.get(ctx, '$tls_peer_san_email(1)'), undefined);
    assert.equal(pvs.get(ctx, '$tls_my_san_ip'), '127.0.0.1');
    assert.throws(
      () => pvs.get(ctx, '$tls_peer_san_uri(first)'),
      /\$tls_peer_san_uri\(first\): the index must be an integer/,
    );
  } finally {
    conn.close();
  }
});

test('TLS 1.2: the description of the negotiated cipher matches openssl ciphers -v', async () => {
  const conn = await tlsConnection({ clientCertificate: true, maxVersion: 'TLSv1.2' });
  try {
    const ctx = contextOf(conn.info);
    const cipher = String(pvs.get(ctx, '$tls_cipher_info'));
    assert.equal(pvs.get(ctx, '$tls_version'), 'TLSv1.2');
    assert.equal(cipher, 'ECDHE-ECDSA-AES128-GCM-SHA256');
    assert.equal(
      pvs.get(ctx, '$tls_description'),
      'ECDHE-ECDSA-AES128-GCM-SHA256 TLSv1.2 Kx=ECDH Au=ECDSA Enc=AESGCM(128) Mac=AEAD',
    );
    assert.equal(pvs.get(ctx, '$tls_description'), opensslCiphers.get(cipher));
  } finally {
    conn.close();
  }
});

test('the description of every cipher this OpenSSL knows matches openssl ciphers -v', () => {
  assert.ok(opensslCiphers.size > 100);
  for (const [name, line] of opensslCiphers) assert.equal(cipherDescription(name), line);
});

test('without a client certificate: the peer fields are unset, ours are set', async () => {
  const conn = await tlsConnection({ clientCertificate: false });
  try {
    const ctx = contextOf(conn.info);
    assert.equal(pvs.get(ctx, '$tls_peer_verified'), 0);
    assert.equal(pvs.get(ctx, '$tls_peer_subject_cn'), undefined);
    assert.equal(pvs.get(ctx, '$tls_peer_san_hostname(1)'), undefined);
    assert.equal(pvs.get(ctx, '$tls_my_subject_cn'), 'sip.enum.at');
    assert.equal(pvs.expand(ctx, '[$tls_peer_serial] [$tls_my_subject_unit]'), '[<null>] [voip]');
  } finally {
    conn.close();
  }
});

test('messages that did not arrive over TLS have every $tls_* unset', () => {
  const ctx = contextOf(undefined, 'udp');
  for (const spec of tlsVariables) assert.equal(pvs.get(ctx, `$${spec.name}`), undefined, `$${spec.name}`);
  assert.equal(pvs.expand(ctx, '$tls_version $tls_peer_verified'), '<null> <null>');
});

test('each certificate is read once per connection, however many messages and variables', async () => {
  const conn = await tlsConnection({ clientCertificate: true });
  try {
    const reads = { peer: 0, my: 0 };
    const { peerCertificate, localCertificate } = conn.info;
    Object.defineProperty(conn.info, 'peerCertificate', { get: () => (reads.peer++, peerCertificate) });
    Object.defineProperty(conn.info, 'localCertificate', { get: () => (reads.my++, localCertificate) });
    for (let message = 0; message < 5; message++) {
      const ctx = contextOf(conn.info);
      for (const spec of tlsVariables) pvs.get(ctx, `$${spec.name}`);
    }
    assert.deepEqual(reads, { peer: 1, my: 1 });
  } finally {
    conn.close();
  }
});
