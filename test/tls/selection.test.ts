// Domain selection on real loopback TLS connections through the transport: by socket, by SNI with
// the specificity order, case-insensitively, refusal of unknown names, default fallback, and the
// whole SNI-selected domain applied (protocol range and ciphers, not only the certificate).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { validateConfigText } from '../../src/config/load.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { testLog } from '../helpers/peers.js';
import { TestCa } from '../helpers/domains.js';

type Outcome = { cn: string; protocol: string | null } | { error: string };

function handshake(port: number, host: string, opts: ConnectionOptions): Promise<Outcome> {
  return new Promise((resolve) => {
    const s: TLSSocket = connect({ host, port, checkServerIdentity: () => undefined, ...opts });
    s.once('secureConnect', () => {
      const cert = s.getPeerCertificate();
      resolve({ cn: String(cert.subject.CN), protocol: s.getProtocol() });
      s.destroy();
    });
    s.once('error', (err) => {
      resolve({ error: err.message });
      s.destroy();
    });
  });
}

/** The CN of the certificate the server presented, or the handshake error. */
async function cnOf(port: number, host: string, opts: ConnectionOptions): Promise<string> {
  const r = await handshake(port, host, opts);
  return 'error' in r ? `error: ${r.error}` : r.cn;
}

describe('server domain selection', () => {
  let ca: TestCa;
  let server: RunningServer;
  let port1 = 0;
  let port2 = 0;
  const client = (servername?: string, extra: ConnectionOptions = {}) => ({
    ca: readFileSync(ca.caFile),
    ...(servername ? { servername } : {}),
    ...extra,
  });

  before(async () => {
    ca = await TestCa.create();
    const files = {
      atlanta: await ca.issue('atlanta', 'atlanta.com'),
      biloxi: await ca.issue('biloxi', 'wild.biloxi.com'),
      sipBiloxi: await ca.issue('sip-biloxi', 'wild.sip.biloxi.com'),
      nosni: await ca.issue('nosni', 'nosni.test'),
      v13: await ca.issue('v13', 'v13.example.com'),
      c12: await ca.issue('c12', 'c12.example.com'),
      fallback: await ca.issue('default', 'default.test'),
    };
    const dom = (name: string, f: { cert: string; key: string }, extra: string) =>
      `  - { name: ${name}, type: server, certificate: ${f.cert}, private_key: ${f.key}, ca_list: ${ca.caFile}, verify_client: optional, ${extra} }`;
    const text = [
      "listen: ['tls:127.0.0.1:0', 'tls:127.0.0.2:0']",
      'mi: { enabled: false }',
      'tls_domains:',
      dom('atlanta', files.atlanta, "match_ip_address: '127.0.0.1:*', match_sip_domain: [Atlanta.COM]"),
      dom('biloxi', files.biloxi, "match_ip_address: '127.0.0.1:*', match_sip_domain: ['*.biloxi.com']"),
      dom(
        'sip-biloxi',
        files.sipBiloxi,
        "match_ip_address: '127.0.0.1:*', match_sip_domain: ['*.sip.biloxi.com']",
      ),
      dom('nosni', files.nosni, "match_ip_address: '127.0.0.1:*', match_sip_domain: [none]"),
      dom(
        'v13',
        files.v13,
        "match_ip_address: '127.0.0.1:*', match_sip_domain: [v13.example.com], tls_method: TLSv1_3",
      ),
      dom(
        'c12',
        files.c12,
        "match_ip_address: '127.0.0.1:*', match_sip_domain: [c12.example.com], tls_method: TLSv1_2, cipher_list: 'ECDHE-ECDSA-AES256-GCM-SHA384'",
      ),
      dom('default', files.fallback, ''),
    ].join('\n');
    const file = join(ca.dir, 'sipsd.yaml');
    const loaded = validateConfigText(text, file);
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
    server = await startServer(loaded.config, file, testLog);
    port1 = server.listeners.find((l) => l.address === '127.0.0.1')!.port;
    port2 = server.listeners.find((l) => l.address === '127.0.0.2')!.port;
  });
  after(async () => {
    await server?.stop();
    ca?.remove();
  });

  test('exact name, case-insensitive', async () => {
    assert.deepEqual(await handshake(port1, '127.0.0.1', client('ATLANTA.com')), {
      cn: 'atlanta.com',
      protocol: 'TLSv1.3',
    });
  });

  test('longest wildcard suffix wins over a shorter one', async () => {
    assert.equal(await cnOf(port1, '127.0.0.1', client('a.sip.biloxi.com')), 'wild.sip.biloxi.com');
    assert.equal(await cnOf(port1, '127.0.0.1', client('www.biloxi.com')), 'wild.biloxi.com');
  });

  test('no SNI selects the `none` domain', async () => {
    assert.equal(await cnOf(port1, '127.0.0.1', client()), 'nosni.test');
  });

  test('an unknown SNI is refused with unrecognized_name, not served with another certificate', async () => {
    const r = await handshake(port1, '127.0.0.1', client('unknown.example.net'));
    assert.ok('error' in r, JSON.stringify(r));
    assert.match(r.error, /unrecognized name|alert number 112/i);
  });

  test('another socket with no domain of its own falls back to the default domain', async () => {
    assert.equal(await cnOf(port2, '127.0.0.2', client('atlanta.com')), 'default.test');
    assert.equal(await cnOf(port2, '127.0.0.2', client()), 'default.test');
  });

  test('the protocol range of the SNI-selected domain is enforced', async () => {
    const tls12 = { maxVersion: 'TLSv1.2' as const };
    const refused = await handshake(port1, '127.0.0.1', client('v13.example.com', tls12));
    assert.ok('error' in refused, 'a TLSv1_3-only domain refuses a TLS 1.2 client');
    assert.deepEqual(await handshake(port1, '127.0.0.1', client('atlanta.com', tls12)), {
      cn: 'atlanta.com',
      protocol: 'TLSv1.2',
    });
    assert.deepEqual(await handshake(port1, '127.0.0.1', client('c12.example.com')), {
      cn: 'c12.example.com',
      protocol: 'TLSv1.2',
    });
  });

  test('the cipher list of the SNI-selected domain is enforced', async () => {
    const other = { maxVersion: 'TLSv1.2' as const, ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' };
    assert.ok('error' in (await handshake(port1, '127.0.0.1', client('c12.example.com', other))));
    assert.equal(await cnOf(port1, '127.0.0.1', client('atlanta.com', other)), 'atlanta.com');
    const same = { maxVersion: 'TLSv1.2' as const, ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384' };
    assert.equal(await cnOf(port1, '127.0.0.1', client('c12.example.com', same)), 'c12.example.com');
  });
});
