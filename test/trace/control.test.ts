// Turning tracing on and off through the management interface (`tls_trace`), the script's trace
// filter vetoing one connection, and the configuration checks around both.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfigText } from '../../src/config/load.js';
import { silentLogger } from '../../src/log/logger.js';
import { callMgmt, CommandRegistry, MgmtError, RpcCode, startMgmtServer } from '../../src/mgmt/index.js';
import { createTestPki } from '../../src/pki/index.js';
import type { TraceFilterInfo } from '../../src/router/script.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { registerTraceCommands, resolveTraceFilter, startTracing } from '../../src/trace/index.js';
import { options, statusOf, StreamPeer, testLog, tlsClientOptions } from '../helpers/peers.js';
import { UdpCollector } from './collector.js';

/** What the script's filter saw, and whether it vetoes (shared with the script through globalThis). */
interface FilterProbe {
  calls: TraceFilterInfo[];
  veto: boolean;
}
const probe: FilterProbe = { calls: [], veto: false };
(globalThis as { sipsdTraceProbe?: FilterProbe }).sipsdTraceProbe = probe;

const settle = () => new Promise((r) => setTimeout(r, 150));

describe('tls_trace and the trace filter on a running server', () => {
  let dir: string;
  let server: RunningServer | undefined;
  let collector: UdpCollector;
  let url: string;
  let pki: Awaited<ReturnType<typeof createTestPki>>;
  const tlsPort = () => server!.listeners.find((l) => l.proto === 'tls')!.port;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sipsd-trace-'));
    pki = await createTestPki(join(dir, 'pki'));
    collector = await UdpCollector.start();
    const script = join(dir, 'script.ts');
    writeFileSync(
      script,
      `export default {
        request(ctx) { return ctx.reply(200, 'OK'); },
        // Named by trace_filter_route, so the default traceFilter below is not the one used.
        tlsFilter(conn) {
          const probe = globalThis.sipsdTraceProbe;
          probe.calls.push(conn);
          if (probe.veto) return false;
        },
        traceFilter() { throw new Error('not the configured filter'); },
      };\n`,
    );
    const file = join(dir, 'sipsd.yaml');
    const loaded = validateConfigText(
      `
listen: [tls:127.0.0.1:0]
mi: { listen: '127.0.0.1:0' }
script: ${script}
trace_destination: udp:127.0.0.1:${collector.port}
trace_filter_route: tlsFilter
tls_domains:
  - { name: default, type: server, certificate: ${pki.serverCertFile}, private_key: ${pki.serverKeyFile}, ca_list: ${pki.caFile}, require_cert: false }
`,
      file,
    );
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
    server = await startServer(loaded.config, file, testLog);
    url = server.mgmt!.url;
  });
  after(async () => {
    await server?.stop();
    await collector.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const call = (params?: Record<string, unknown> | unknown[]) => callMgmt(url, 'tls_trace', params);
  const connectAndAsk = async () => {
    const peer = await StreamPeer.tls(tlsPort(), tlsClientOptions(pki));
    peer.write(options('TLS'));
    await peer.until((r) => statusOf(r) === 200);
    return peer;
  };

  test('off by default (trace_on: 0): nothing is sent and the filter is not asked', async () => {
    assert.deepEqual(await call(), {
      'TLS tracing': 'off',
      destination: `udp:127.0.0.1:${collector.port}`,
    });
    const peer = await connectAndAsk();
    await settle();
    assert.equal(collector.received.length, 0);
    assert.equal(probe.calls.length, 0, 'as in OpenSIPS, the filter route runs only while tracing is on');
    peer.close();
  });

  test('tls_trace on: new connections are traced from their handshake, open ones from their next message', async () => {
    const before = await connectAndAsk();
    assert.deepEqual(await call(['on']), {
      'TLS tracing': 'on',
      destination: `udp:127.0.0.1:${collector.port}`,
    });
    assert.equal((await call())!['TLS tracing' as keyof unknown], 'on');

    before.write(options('TLS'));
    await collector.until((all) => all.some((r) => r.hep.srcPort === before.socket.localPort));
    assert.ok(
      !collector.received.some(
        (r) => r.json?.Event === 'ACCEPTED' && r.hep.srcPort === before.socket.localPort,
      ),
      'its handshake happened while tracing was off',
    );

    const fresh = await connectAndAsk();
    await collector.until((all) =>
      all.some((r) => r.json?.Event === 'ACCEPTED' && r.hep.srcPort === fresh.socket.localPort),
    );
    assert.deepEqual(
      probe.calls.find((c) => c.remote.port === fresh.socket.localPort),
      {
        proto: 'tls',
        direction: 'in',
        remote: { address: '127.0.0.1', port: fresh.socket.localPort },
        local: { address: '127.0.0.1', port: tlsPort() },
      },
      'the filter sees remote ($si/$sp) and local ($socket_in) address and port',
    );
    before.close();
    fresh.close();
  });

  test('the filter vetoes a connection: none of its events or messages are traced, others still are', async () => {
    probe.veto = true;
    const vetoed = await connectAndAsk();
    const port = vetoed.socket.localPort;
    assert.ok(
      probe.calls.some((c) => c.remote.port === port),
      'asked about it',
    );
    vetoed.write(options('TLS'));
    await vetoed.until((r) => r.split('SIP/2.0 200').length === 3);
    vetoed.close();
    probe.veto = false;
    const traced = await connectAndAsk();
    await collector.until((all) => all.some((r) => r.hep.srcPort === traced.socket.localPort));
    await settle();
    assert.ok(
      !collector.received.some((r) => r.hep.srcPort === port || r.hep.dstPort === port),
      'nothing from or to the vetoed connection',
    );
    traced.close();
  });

  test('tls_trace off stops everything at once; a bad mode is refused', async () => {
    assert.equal(((await call({ trace_mode: 'OFF' })) as Record<string, string>)['TLS tracing'], 'off');
    const count = collector.received.length;
    const peer = await connectAndAsk();
    peer.close();
    await settle();
    assert.equal(collector.received.length, count);
    await assert.rejects(call(['maybe']), (err: MgmtError) => {
      assert.equal(err.code, RpcCode.InvalidParams);
      assert.match(err.message, /'on' or 'off'/);
      return true;
    });
  });
});

describe('tracing configuration', () => {
  test('tls_trace on without a trace_destination fails with a reason', async () => {
    const registry = new CommandRegistry();
    const tracing = startTracing(
      { trace_destination: undefined, trace_on: false, trace_filter_route: undefined, trace_capture_id: 1 },
      { request: () => undefined },
      { observe: () => () => undefined },
      silentLogger,
    );
    registerTraceCommands(registry, tracing);
    const mgmt = await startMgmtServer({ host: '127.0.0.1', port: 0, registry, log: silentLogger });
    try {
      assert.deepEqual(await callMgmt(mgmt.url, 'tls_trace'), { 'TLS tracing': 'off', destination: null });
      await assert.rejects(callMgmt(mgmt.url, 'tls_trace', ['on']), (err: MgmtError) => {
        assert.equal(err.code, RpcCode.CommandFailed);
        assert.match(err.message, /no trace_destination/);
        return true;
      });
    } finally {
      await mgmt.close();
    }
  });

  test('trace_filter_route must name a function of the script; by default traceFilter is used if present', () => {
    const script = { request: () => undefined, traceFilter: () => false, other: 3 };
    assert.equal(resolveTraceFilter({ request: () => undefined }, undefined), undefined);
    assert.equal(resolveTraceFilter(script, undefined)!({} as TraceFilterInfo), false);
    assert.throws(() => resolveTraceFilter(script, 'tls_filter'), /has no function "tls_filter"/);
    assert.throws(
      () => resolveTraceFilter(script as never, 'other'),
      /"other" of the routing script is not a function/,
    );
  });

  test('the schema checks trace_destination and trace_filter_route', () => {
    const bad = validateConfigText(
      'trace_destination: "sctp:1.2.3.4"\ntrace_filter_route: "not a name"\n',
      'x.yaml',
    );
    assert.ok(!bad.ok);
    const text = JSON.stringify(bad.problems);
    assert.match(text, /trace_destination/);
    assert.match(text, /trace_filter_route/);
    const good = validateConfigText('trace_destination: "10.0.0.1;transport=tcp"\ntrace_on: 1\n', 'x.yaml');
    assert.ok(good.ok);
    assert.equal(good.config.trace_on, true);
    assert.equal(good.config.trace_capture_id, 1);
  });
});
