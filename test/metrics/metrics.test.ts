// GET /metrics over real HTTP after real TLS handshakes on loopback: accepted and opened
// connections, a client certificate from an unknown CA, a server certificate our client domain does
// not trust, a peer that does not speak TLS, reloads that work and one that fails.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { validateConfigText } from '../../src/config/load.js';
import { silentLogger } from '../../src/log/logger.js';
import { createMetrics, type Metrics } from '../../src/metrics/index.js';
import { CommandRegistry, startMgmtServer, type MgmtServer } from '../../src/mgmt/index.js';
import { createTestPki, type TestPkiFiles } from '../../src/pki/index.js';
import { startServer } from '../../src/server.js';
import {
  options,
  StreamPeer,
  startTestServer,
  statusOf,
  testLog,
  tlsClientOptions,
  type TestServer,
} from '../helpers/peers.js';
import { valueOf } from './exposition.js';

/** Asserts one sample's value; on failure shows every sample of that metric. */
function expectValue(text: string, name: string, labels: Record<string, string>, value: number): void {
  const lines = text.split('\n').filter((l) => l.startsWith(name));
  assert.equal(
    valueOf(text, name, labels),
    value,
    `${name} ${JSON.stringify(labels)} in:\n${lines.join('\n')}`,
  );
}

async function scrape(url: string): Promise<{ type: string; text: string }> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  return { type: res.headers.get('content-type') ?? '', text: await res.text() };
}

/** Scrapes until `ready` holds: connection failures are counted when the server gives up, a moment later. */
async function scrapeUntil(url: string, ready: (text: string) => boolean): Promise<string> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const { text } = await scrape(url);
    if (ready(text) || Date.now() > deadline) return text;
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('Prometheus metrics of the TLS transport', () => {
  let t: TestServer;
  let other: TestPkiFiles;
  let otherDir: string;
  let metrics: Metrics;
  let http: MgmtServer;
  let url: string;
  let untrusted: TlsServer;
  const peers: StreamPeer[] = [];

  before(async () => {
    t = await startTestServer();
    otherDir = mkdtempSync(join(tmpdir(), 'sipsd-other-ca-'));
    other = await createTestPki(otherDir);
    // The metrics the management interface serves, attached to the running test server.
    metrics = createMetrics({ transport: t.server.transport, tls: t.server.tls });
    http = await startMgmtServer({
      host: '127.0.0.1',
      port: 0,
      registry: new CommandRegistry(),
      log: testLog,
      metrics: () => metrics.text(),
    });
    url = `${http.url}metrics`;
    // A TLS server whose certificate comes from a CA sipsd's client domain does not trust.
    untrusted = createTlsServer({
      cert: readFileSync(other.serverCertFile),
      key: readFileSync(other.serverKeyFile),
    });
    untrusted.on('tlsClientError', () => undefined);
    await new Promise<void>((r) => untrusted.listen(0, '127.0.0.1', r));
  });

  after(async () => {
    for (const p of peers) p.close();
    metrics.close();
    await http.close();
    await new Promise<void>((r) => untrusted.close(() => r()));
    await t.stop();
    rmSync(otherDir, { recursive: true, force: true });
  });

  test('an accepted TLS connection: a successful handshake and an open connection of its domain', async () => {
    const peer = await StreamPeer.tls(t.port('tls'), tlsClientOptions(t.pki, true));
    peers.push(peer);
    peer.write(options('TLS'));
    assert.equal(statusOf(await peer.until((r) => r.includes('\r\n\r\n'))), 200);

    const { type, text } = await scrape(url);
    assert.match(type, /^text\/plain; version=0\.0\.4/);
    const inDefault = { direction: 'in', domain: 'default' };
    expectValue(text, 'sipsd_tls_handshakes_total', { ...inDefault, result: 'success' }, 1);
    expectValue(text, 'sipsd_connections_open', { proto: 'tls', ...inDefault }, 1);
    expectValue(text, 'sipsd_connections_queued_bytes', { proto: 'tls', ...inDefault }, 0);
    // The certificate verified: no verification failure counted.
    assert.doesNotMatch(text, /^sipsd_tls_verification_failures_total\{/m);
  });

  test('a client certificate from an unknown CA: refused, counted by reason', async () => {
    const bad = await StreamPeer.tls(t.port('tls'), {
      ...tlsClientOptions(t.pki),
      cert: readFileSync(other.clientCertFile),
      key: readFileSync(other.clientKeyFile),
    });
    peers.push(bad);
    await bad.untilClosed();
    const labels = { direction: 'in', domain: 'default' };
    const text = await scrapeUntil(url, (s) => /result="refused"/.test(s));
    expectValue(text, 'sipsd_tls_handshakes_total', { ...labels, result: 'refused' }, 1);
    expectValue(
      text,
      'sipsd_tls_verification_failures_total',
      {
        ...labels,
        reason: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      },
      1,
    );
    expectValue(text, 'sipsd_connection_failures_total', { proto: 'tls', direction: 'in' }, 1);
    // Only the good connection is still open.
    expectValue(text, 'sipsd_connections_open', { proto: 'tls', ...labels }, 1);
  });

  test('a peer that does not speak TLS: a failed handshake under no domain', async () => {
    const raw = netConnect({ host: '127.0.0.1', port: t.port('tls') });
    raw.on('error', () => undefined);
    raw.write(options('TCP'));
    const text = await scrapeUntil(url, (s) => /result="failed"/.test(s));
    raw.destroy();
    expectValue(text, 'sipsd_tls_handshakes_total', { direction: 'in', domain: '', result: 'failed' }, 1);
  });

  test('outbound: a trusted server opens a connection, an untrusted one is refused by reason', async () => {
    const target = await startTestServer('', t.pki);
    try {
      const msg = Buffer.from(options('TLS'));
      await t.server.transport.send({ proto: 'tls', address: '127.0.0.1', port: target.port('tls') }, msg);
      const port = (untrusted.address() as AddressInfo).port;
      await assert.rejects(t.server.transport.send({ proto: 'tls', address: '127.0.0.1', port }, msg));

      const text = await scrapeUntil(url, (s) => /direction="out",domain="default",result="refused"/.test(s));
      const outDefault = { direction: 'out', domain: 'default' };
      expectValue(text, 'sipsd_tls_handshakes_total', { ...outDefault, result: 'success' }, 1);
      expectValue(text, 'sipsd_connections_open', { proto: 'tls', ...outDefault }, 1);
      expectValue(text, 'sipsd_tls_handshakes_total', { ...outDefault, result: 'refused' }, 1);
      expectValue(
        text,
        'sipsd_tls_verification_failures_total',
        {
          ...outDefault,
          reason: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
        },
        1,
      );
    } finally {
      await target.stop();
    }
  });

  test('reloads by result, and when the domains in force were loaded', async () => {
    const before = await scrape(url);
    // Startup's load counts as the first.
    expectValue(before.text, 'sipsd_tls_reloads_total', { result: 'success' }, 1);
    expectValue(before.text, 'sipsd_tls_reloads_total', { result: 'failure' }, 0);

    assert.equal((await t.server.tls.reload()).ok, true);
    const good = readFileSync(t.pki.serverCertFile);
    writeFileSync(t.pki.serverCertFile, 'not a certificate\n');
    try {
      assert.equal((await t.server.tls.reload()).ok, false);
    } finally {
      writeFileSync(t.pki.serverCertFile, good);
    }
    const { text } = await scrape(url);
    expectValue(text, 'sipsd_tls_reloads_total', { result: 'success' }, 2);
    expectValue(text, 'sipsd_tls_reloads_total', { result: 'failure' }, 1);
    expectValue(
      text,
      'sipsd_tls_last_reload_success_timestamp_seconds',
      {},
      t.server.tls.snapshot.createdAt.getTime() / 1000,
    );
  });

  test("certificate expiry per domain, from each domain's own certificate", async () => {
    const { text } = await scrape(url);
    for (const [type, file] of [
      ['server', t.pki.serverCertFile],
      ['client', t.pki.clientCertFile],
    ] as const) {
      const notAfter = Date.parse(new X509Certificate(readFileSync(file)).validTo) / 1000;
      expectValue(
        text,
        'sipsd_tls_certificate_expiry_timestamp_seconds',
        {
          type,
          domain: 'default',
          source: 'config',
        },
        notAfter,
      );
    }
  });
});

test('sipsd serves /metrics on its management interface when mi is enabled', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sipsd-metrics-'));
  const file = join(dir, 'sipsd.yaml');
  const loaded = validateConfigText('listen: [udp:127.0.0.1:0]\nmi: { listen: 127.0.0.1:0 }\n', file);
  assert.ok(loaded.ok, JSON.stringify(!loaded.ok && loaded.problems));
  const server = await startServer(loaded.config, file, silentLogger);
  try {
    const { type, text } = await scrape(`${server.mgmt!.url}metrics`);
    assert.match(type, /^text\/plain/);
    expectValue(text, 'sipsd_tls_reloads_total', { result: 'success' }, 1);
    assert.match(text, /^# TYPE sipsd_tls_handshakes_total counter$/m);
    assert.match(text, /^# TYPE sipsd_connections_open gauge$/m);
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
