// Prometheus metrics of the TLS transport, served by the management interface at GET /metrics
// (docs/metrics.md). Events are counted as the transport reports them; what is a state (open
// connections, queued bytes, reloads, certificate expiry) is read at scrape time from the
// connection table and the TLS snapshot, so it can never drift from them.
//
// prom-client is the maintained Prometheus client for Node: it writes the text exposition format
// and escapes label values, which here include operator-chosen domain names.
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import { clustered } from '../cluster/identity.js';
import type { TlsManager } from '../tls/manager.js';
import type { StreamConnection } from '../transport/connection.js';
import type { TransportObserver } from '../transport/events.js';
import type { TransportLayer } from '../transport/transport-layer.js';
import { classifyFailure } from './handshake-outcome.js';

export interface MetricsSources {
  transport: Pick<TransportLayer, 'observe' | 'connections'>;
  tls: Pick<TlsManager, 'reloads' | 'snapshot'>;
}

export interface Metrics {
  /** The Content-Type of `text()`. */
  readonly contentType: string;
  /** The exposition text of every metric, current as of the call. */
  text(): Promise<string>;
  /** Stops observing the transport. */
  close(): void;
}

/** Connections are labelled by domain; plain TCP and a domain not yet known have none (""). */
const domainOf = (c: { tls?: { domain: string } | undefined }) => c.tls?.domain ?? '';

export function createMetrics({ transport, tls }: MetricsSources): Metrics {
  const registry = new Registry();
  const registers = [registry];
  if (clustered()) {
    // One worker of several: prom-client's cluster support answers the primary's scrape with this
    // registry (its listener is installed by constructing an AggregatorRegistry); the primary adds
    // up the workers' counts, and takes what all workers hold alike from the first ('first' below).
    AggregatorRegistry.setRegistries([registry]);
    new AggregatorRegistry();
  }

  const handshakes = new Counter({
    name: 'sipsd_tls_handshakes_total',
    help: 'TLS handshakes by direction, domain and result (success, refused: the peer certificate failed the domain policy, failed, no_domain)',
    labelNames: ['direction', 'domain', 'result'] as const,
    registers,
  });
  const verificationFailures = new Counter({
    name: 'sipsd_tls_verification_failures_total',
    help: 'Peer certificates that did not verify (refused, or admitted by verify_client optional_no_ca/off), by reason code',
    labelNames: ['direction', 'domain', 'reason'] as const,
    registers,
  });
  const connectionFailures = new Counter({
    name: 'sipsd_connection_failures_total',
    help: 'TCP and TLS connections that never got established (connect, domain choice, handshake or peer refused)',
    labelNames: ['proto', 'direction'] as const,
    registers,
  });

  /** The snapshot, or undefined before the first load. */
  const loaded = () => {
    try {
      return tls.snapshot;
    } catch {
      return undefined;
    }
  };

  /** Sums a number over the open connections, by protocol, direction and domain. */
  const perConnection = (
    gauge: Gauge<'proto' | 'direction' | 'domain'>,
    value: (c: StreamConnection) => number,
  ) => {
    gauge.reset();
    for (const c of transport.connections.all()) {
      gauge.inc({ proto: c.proto, direction: c.direction, domain: domainOf(c) }, value(c));
    }
  };
  new Gauge({
    name: 'sipsd_connections_open',
    help: 'Open TCP and TLS connections by protocol, direction (in: accepted, out: opened by sipsd) and TLS domain',
    labelNames: ['proto', 'direction', 'domain'] as const,
    registers,
    collect() {
      perConnection(this, () => 1);
    },
  });
  new Gauge({
    name: 'sipsd_connections_queued_bytes',
    help: 'Bytes accepted for sending and not yet handed to the kernel, summed by protocol, direction and TLS domain',
    labelNames: ['proto', 'direction', 'domain'] as const,
    registers,
    collect() {
      // What waits for a peer that reads slowly: the connection's queue plus the socket's buffer.
      perConnection(this, (c) => c.queuedBytes);
    },
  });
  new Counter({
    name: 'sipsd_tls_reloads_total',
    help: 'Loads of the TLS domains (the first one at startup, then each tls_reload) by result',
    labelNames: ['result'] as const,
    registers,
    aggregator: 'first',
    collect() {
      this.reset();
      this.inc({ result: 'success' }, tls.reloads.ok);
      this.inc({ result: 'failure' }, tls.reloads.failed);
    },
  });
  new Gauge({
    name: 'sipsd_tls_last_reload_success_timestamp_seconds',
    help: 'When the TLS domains in force were loaded (Unix time)',
    registers,
    aggregator: 'first',
    collect() {
      this.reset();
      const snapshot = loaded();
      if (snapshot) this.set(snapshot.createdAt.getTime() / 1000);
    },
  });
  new Gauge({
    name: 'sipsd_tls_certificate_expiry_timestamp_seconds',
    help: "When each TLS domain's own certificate expires (notAfter, Unix time); domains without one are absent",
    labelNames: ['type', 'domain', 'source'] as const,
    registers,
    aggregator: 'first',
    collect() {
      this.reset();
      // The leaf is parsed when a domain is loaded, before any context is built (database rows
      // get theirs on first use): reading it builds nothing.
      for (const slot of loaded()?.domains ?? []) {
        if (!slot.leaf) continue;
        const { type, name, source } = slot.domain;
        this.set({ type, domain: name, source: source.kind }, Date.parse(slot.leaf.validTo) / 1000);
      }
    },
  });

  const observer: TransportObserver = {
    connectionOpened(c) {
      if (!c.tls) return;
      const labels = { direction: c.direction, domain: c.tls.domain };
      handshakes.inc({ ...labels, result: 'success' });
      const peer = c.tls.peer;
      if (peer.presented && !peer.verified) {
        verificationFailures.inc({ ...labels, reason: peer.code ?? 'UNKNOWN' });
      }
    },
    connectionFailed(f) {
      connectionFailures.inc({ proto: f.proto, direction: f.direction });
      if (f.proto !== 'tls') return;
      const { result, verificationCode } = classifyFailure(f);
      const labels = { direction: f.direction, domain: f.domain ?? '' };
      if (result) handshakes.inc({ ...labels, result });
      if (verificationCode) verificationFailures.inc({ ...labels, reason: verificationCode });
    },
  };
  const unobserve = transport.observe(observer);

  return {
    contentType: registry.contentType,
    text: () => registry.metrics(),
    close: unobserve,
  };
}
