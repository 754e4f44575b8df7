// Reload as a transaction on a running server: renewed certificates are picked up, a broken one is
// refused with a precise answer while the running snapshot stays, live connections survive, and
// 100 reloads under traffic neither break a connection nor grow memory.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { validateConfigText } from '../../src/config/load.js';
import { callMgmt } from '../../src/mgmt/index.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { TestCa, type CertFiles } from '../helpers/domains.js';
import { options, StreamPeer, testLog } from '../helpers/peers.js';

describe('tls_reload', () => {
  let ca: TestCa;
  let server: RunningServer;
  let live: CertFiles;
  let tlsPort = 0;
  const caPem = () => readFileSync(ca.caFile);

  /** CN of the certificate a new connection is served. */
  const servedCn = () =>
    new Promise<string>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: tlsPort, ca: caPem(), servername: 'sip.example.com' });
      s.once('secureConnect', () => {
        resolve(String(s.getPeerCertificate().subject.CN));
        s.destroy();
      });
      s.once('error', reject);
    });
  const mi = (method: string) => callMgmt(server.mgmt!.url, method);

  before(async () => {
    ca = await TestCa.create();
    live = await ca.issue('live', 'first.example.com', 'server', ['sip.example.com']);
    const text = [
      "listen: ['tls:127.0.0.1:0']",
      "mi: { listen: '127.0.0.1:0' }",
      'tls_domains:',
      `  - { name: sip, type: server, certificate: ${live.cert}, private_key: ${live.key}, passphrase: not-a-real-one, verify_client: off }`,
    ].join('\n');
    const file = join(ca.dir, 'sipsd.yaml');
    const loaded = validateConfigText(text, file);
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
    server = await startServer(loaded.config, file, testLog);
    tlsPort = server.listeners[0]!.port;
  });
  after(async () => {
    await server?.stop();
    ca?.remove();
  });

  test('a renewed certificate is served after tls_reload; the live connection keeps working', async () => {
    const peer = await StreamPeer.tls(tlsPort, { ca: caPem(), servername: 'sip.example.com' });
    assert.equal(await servedCn(), 'first.example.com');
    const renewed = await ca.issue('renewed', 'renewed.example.com', 'server', ['sip.example.com']);
    copyFileSync(renewed.cert, live.cert);
    copyFileSync(renewed.key, live.key);
    const result = (await mi('tls_reload')) as { ok: boolean; domains: number };
    assert.equal(result.ok, true);
    assert.equal(await servedCn(), 'renewed.example.com');
    peer.write(options('TLS'));
    await peer.until((r) => r.includes('SIP/2.0 '));
    peer.close();
  });

  test('a broken certificate is refused with domain, field, file and reason; the running one stays', async () => {
    const good = readFileSync(live.cert);
    writeFileSync(live.cert, 'not a certificate\n');
    try {
      await assert.rejects(mi('tls_reload'), (err: Error) => {
        assert.match(err.message, /TLS reload failed, running domains kept/);
        assert.match(err.message, /"sip"/);
        assert.match(err.message, new RegExp(live.cert.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
        return true;
      });
      assert.equal(await servedCn(), 'renewed.example.com');
    } finally {
      writeFileSync(live.cert, good);
    }
  });

  test('tls_list shows every domain with its source and certificate, never key material', async () => {
    const list = (await mi('tls_list')) as Array<Record<string, unknown>>;
    const sip = list.find((d) => d['name'] === 'sip' && d['type'] === 'server');
    assert.ok(sip);
    assert.equal((sip['source'] as { kind: string }).kind, 'config');
    assert.match(
      String((sip['certificate_info'] as { subject: string }).subject),
      /CN=renewed\.example\.com/,
    );
    assert.equal(sip['passphrase'], '<set>');
    const text = JSON.stringify(list);
    assert.doesNotMatch(text, /PRIVATE KEY|not-a-real-one/);
  });

  test('100 reloads under traffic: no broken connection, no memory growth', async () => {
    const peer = await StreamPeer.tls(tlsPort, { ca: caPem(), servername: 'sip.example.com' });
    // The collector is exposed at run time so the measurement works however the test is started.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 100; i++) {
      const [reload] = await Promise.all([server.tls.reload(), Promise.resolve(peer.write(options('TLS')))]);
      assert.equal(reload.ok, true);
    }
    await peer.until((r) => r.split('SIP/2.0 ').length - 1 >= 100, 10_000);
    assert.equal(peer.closed, false);
    peer.close();
    gc();
    const growth = process.memoryUsage().heapUsed - before;
    assert.ok(growth < 8 * 1024 * 1024, `heap grew by ${Math.round(growth / 1024)} KiB over 100 reloads`);
  });
});
