// One worker of a multi-process sipsd: a whole server (transport, TLS, routing, transactions) that
// owns the connections the primary handed it at accept time, plus what makes the workers act as
// one server. Messages that belong to another worker go to it: a response to the worker whose
// branch its top Via carries, a UDP request to the worker its Call-ID hashes to. Sends to a peer
// connected to another worker are written by that worker. Inbound connections and registrar
// bindings are told to the other workers, so every worker finds them.
import { deserialize } from 'node:v8';
import { MgmtError, RpcCode, bindParams, type CommandRegistry } from '../mgmt/index.js';
import type { Logger } from '../log/logger.js';
import type { Location } from '../features/registrar/location.js';
import type { Router } from '../router/router.js';
import type { SipRequest, SipResponse } from '../sip/index.js';
import type { PreparedReload, TlsManager } from '../tls/manager.js';
import { branchOwner } from '../tm/keys.js';
import { connectionKey, normalizeAddress } from '../transport/connection.js';
import type { TransportLayer } from '../transport/transport-layer.js';
import type { Inbound, PeerConnections, SendCallback, SendTarget } from '../transport/types.js';
import type { SipsdConfig } from '../config/schema.js';
import { startServer, type RunningServer } from '../server.js';
import { WORKER_ENV, ownerOfCallId, ownerOfConnection, self } from './identity.js';
import {
  DESCRIBE,
  TLS_RELOAD_STEPS,
  isOurs,
  type CallRequest,
  type CallResult,
  type PeerConnection,
  type PeerMessage,
  type PrimaryToWorker,
  type ReadyReport,
  type WorkerToPrimary,
} from './protocol.js';
import { asBuffer, fromWire, toWire } from './wire.js';

/** A send another worker has not answered within this time fails (the worker may have died). */
const REMOTE_SEND_TIMEOUT_MS = 5_000;

/** What a worker shares with the others. */
export interface WorkerParts {
  transport: TransportLayer;
  router: Router;
  tls: TlsManager;
  commands: CommandRegistry | undefined;
  location: Location | undefined;
  log: Logger;
}

/** Where another worker's connection is found: its owner and id, by peer key and alias. */
interface RemoteConnection {
  worker: number;
  id: number;
  keys: string[];
}

export class ClusterWorker implements PeerConnections {
  /** The other workers' inbound connections by id, and by key (the newest per key). */
  private readonly remoteById = new Map<number, RemoteConnection>();
  private readonly remoteByKey = new Map<string, RemoteConnection>();
  /**
   * Our inbound connections the others know of: told with their first SIP message (a connection
   * that never carries one, a probe or a load balancer's check, costs the others nothing).
   */
  private readonly announced = new Set<number>();
  /** Changes to our inbound connections not yet told (sent before any other message, in order). */
  private report: { opened: PeerConnection[]; aliased: PeerConnection[]; closed: number[] } | undefined;
  private readonly pendingSyncs = new Map<number, () => void>();
  private readonly pendingSends = new Map<
    number,
    { worker: number; done: SendCallback; timer: NodeJS.Timeout }
  >();
  private nextRef = 1;
  private prepared: PreparedReload | undefined;
  private readonly onMessage = (message: unknown) => {
    if (isOurs(message)) this.receive(message as PrimaryToWorker);
  };

  constructor(
    private readonly parts: WorkerParts,
    private readonly stop: () => Promise<void>,
  ) {}

  /** Joins the others: wires the layers, then says hello (a restarted worker learns their state). */
  start(): void {
    const { transport, router, location } = this.parts;
    transport.setPeerConnections(this);
    transport.observe({
      aliasAdded: (c, alias) => {
        if (this.announced.has(c.id))
          this.queue().aliased.push({ id: c.id, keys: [connectionKey(c.proto, alias)] });
      },
      connectionClosed: (c) => {
        if (this.announced.delete(c.id)) this.queue().closed.push(c.id);
      },
    });
    router.setDivert((msg, inbound) => this.divert(msg, inbound));
    if (location) location.onChange = (change) => this.sync({ t: 'location', ...change });
    process.on('message', this.onMessage);
    this.relay('others', { t: 'hello', wantLocation: location !== undefined });
  }

  ready(report: Omit<ReadyReport, 't'>): void {
    this.toPrimary({ t: 'ready', ...report });
  }

  // PeerConnections, for the transport.

  connectionFor(target: SendTarget): { worker: number; id: number } | undefined {
    if (target.connectionId !== undefined) {
      const owner = ownerOfConnection(target.connectionId);
      if (owner !== undefined && owner !== self.index) return { worker: owner, id: target.connectionId };
    }
    if (this.remoteByKey.size === 0) return undefined;
    const key = connectionKey(target.proto, { address: normalizeAddress(target.address), port: target.port });
    return this.remoteByKey.get(key);
  }

  send(worker: number, id: number, data: Buffer, done: SendCallback): void {
    const ref = this.nextRef++;
    const timer = setTimeout(
      () => this.settleSend(ref, `worker ${worker} did not answer`),
      REMOTE_SEND_TIMEOUT_MS,
    );
    this.pendingSends.set(ref, { worker, done, timer });
    this.relay(worker, { t: 'send', ref, connection: id, data });
  }

  private settleSend(ref: number, error: string | undefined, from?: Parameters<SendCallback>[1]): void {
    const pending = this.pendingSends.get(ref);
    if (!pending) return;
    this.pendingSends.delete(ref);
    clearTimeout(pending.timer);
    if (error !== undefined) pending.done(new Error(error));
    else pending.done(undefined, from);
  }

  /** True when `msg` belongs to another worker, which now has it. */
  private divert(msg: SipRequest | SipResponse, inbound: Inbound): boolean {
    const id = inbound.connectionId;
    if (id !== undefined && !this.announced.has(id)) this.announce(id);
    let owner: number | undefined;
    if (!msg.isRequest) {
      const branch = msg.topVia().branch;
      owner = branch === undefined ? undefined : branchOwner(branch);
    } else if (inbound.proto === 'udp') {
      owner = ownerOfCallId(msg.callId);
    }
    if (owner === undefined || owner === self.index) return false;
    this.relay(owner, { t: 'deliver', inbound: toWire(inbound) });
    return true;
  }

  /** Tells the others of an inbound connection (with the aliases it has so far). */
  private announce(id: number): void {
    const c = this.parts.transport.connections.get(id);
    if (!c || c.direction !== 'in' || c.state !== 'open') return;
    this.announced.add(id);
    this.queue().opened.push({ id, keys: [c.key, ...c.aliases] });
  }

  private receive(message: PrimaryToWorker): void {
    switch (message.t) {
      case 'peer':
        this.fromPeer(message.from, message.msg);
        if (message.ref !== undefined) this.toPrimary({ t: 'handled', ref: message.ref });
        return;
      case 'synced':
        this.pendingSyncs.get(message.ref)?.();
        this.pendingSyncs.delete(message.ref);
        return;
      case 'call':
        return void this.call(message).then((result) => this.toPrimary(result));
      case 'worker-exit':
        return this.forgetWorker(message.worker);
      case 'stop':
        process.off('message', this.onMessage);
        return void this.stop();
    }
  }

  private fromPeer(from: number, msg: PeerMessage): void {
    const { transport, router, location } = this.parts;
    switch (msg.t) {
      case 'deliver':
        return router.handle(fromWire(msg.inbound, from));
      case 'send':
        return transport.sendOnConnection(msg.connection, asBuffer(msg.data), (err, sentFrom) =>
          this.relay(from, {
            t: 'sent',
            ref: msg.ref,
            ...(err ? { error: err.message } : { from: sentFrom }),
          }),
        );
      case 'sent':
        return this.settleSend(msg.ref, msg.error, msg.from);
      case 'conns':
        for (const c of msg.opened) this.addRemote(from, c);
        for (const c of msg.aliased) this.addRemote(from, c);
        for (const id of msg.closed) this.removeRemote(id);
        return;
      case 'location':
        return location?.apply(msg);
      case 'hello':
        return this.greet(from, msg.wantLocation);
      case 'location-dump':
        for (const [key, bindings] of msg.entries) location?.apply({ key, written: bindings, removed: [] });
        return;
    }
  }

  /** A worker (re)started: it gets our inbound connections, and from the lowest other worker the bindings. */
  private greet(worker: number, wantLocation: boolean): void {
    const opened = [...this.announced].flatMap((id) => {
      const c = this.parts.transport.connections.get(id);
      return c ? [{ id, keys: [c.key, ...c.aliases] }] : [];
    });
    if (opened.length > 0) this.relay(worker, { t: 'conns', opened, aliased: [], closed: [] });
    const location = this.parts.location;
    const dumper = worker === 1 ? 2 : 1;
    if (wantLocation && location && self.index === dumper) {
      const entries = [...location.entries()];
      if (entries.length > 0) this.relay(worker, { t: 'location-dump', entries });
    }
  }

  private addRemote(worker: number, c: PeerConnection): void {
    let entry = this.remoteById.get(c.id);
    if (!entry) {
      entry = { worker, id: c.id, keys: [] };
      this.remoteById.set(c.id, entry);
    }
    for (const key of c.keys) {
      entry.keys.push(key);
      this.remoteByKey.set(key, entry);
    }
  }

  private removeRemote(id: number): void {
    const entry = this.remoteById.get(id);
    if (!entry) return;
    this.remoteById.delete(id);
    for (const key of entry.keys) if (this.remoteByKey.get(key) === entry) this.remoteByKey.delete(key);
  }

  private forgetWorker(worker: number): void {
    for (const entry of [...this.remoteById.values()])
      if (entry.worker === worker) this.removeRemote(entry.id);
    for (const [ref, pending] of this.pendingSends) {
      if (pending.worker === worker) this.settleSend(ref, `worker ${worker} exited`);
    }
  }

  /** Runs a management command (or a reload step) the primary asked for; never rejects. */
  private async call(request: CallRequest): Promise<CallResult> {
    const { ref, method, params } = request;
    try {
      return { t: 'result', ref, ok: true, result: await this.run(method, params) };
    } catch (err) {
      const e = err instanceof MgmtError ? err : new MgmtError(RpcCode.InternalError, (err as Error).message);
      return { t: 'result', ref, ok: false, error: { code: e.code, message: e.message, data: e.data } };
    }
  }

  private async run(method: string, params: unknown): Promise<unknown> {
    const { tls, commands } = this.parts;
    switch (method) {
      case TLS_RELOAD_STEPS.prepare:
        this.prepared = await tls.prepare();
        return this.prepared.result;
      case TLS_RELOAD_STEPS.commit:
        return this.takePrepared((p) => tls.commit(p));
      case TLS_RELOAD_STEPS.abort:
        // The others could not reload: nothing changes here either, and the failure is counted.
        return this.takePrepared((p) => tls.commit({ ...p, snapshot: undefined }));
      case DESCRIBE:
        return (commands?.list() ?? []).map(({ name, aliases, summary, params: specs, cluster }) => ({
          name,
          aliases,
          summary,
          params: specs,
          cluster,
        }));
    }
    const cmd = commands?.get(method);
    if (!cmd) throw new MgmtError(RpcCode.MethodNotFound, `unknown command ${method}`);
    return cmd.handler(bindParams(cmd, params as Parameters<typeof bindParams>[1]));
  }

  private takePrepared<T>(use: (prepared: PreparedReload) => T): T {
    const prepared = this.prepared;
    this.prepared = undefined;
    if (!prepared) throw new MgmtError(RpcCode.CommandFailed, 'no TLS reload was prepared on this worker');
    return use(prepared);
  }

  private queue(): NonNullable<ClusterWorker['report']> {
    if (!this.report) {
      this.report = { opened: [], aliased: [], closed: [] };
      // Gathered over one turn of the event loop: a burst of accepts is one message.
      setImmediate(() => this.flushReport());
    }
    return this.report;
  }

  private flushReport(): void {
    const report = this.report;
    if (!report) return;
    this.report = undefined;
    this.toPrimary({ t: 'relay', to: 'others', msg: { t: 'conns', ...report } });
  }

  /** Tells every other worker, resolving once all have handled it (the primary bounds the wait). */
  private sync(msg: PeerMessage): Promise<void> {
    if (!process.connected) return Promise.resolve(); // stopping: nobody to tell
    const ref = this.nextRef++;
    this.flushReport();
    return new Promise((resolve) => {
      this.pendingSyncs.set(ref, resolve);
      this.toPrimary({ t: 'sync', ref, msg });
    });
  }

  private relay(to: number | 'others', msg: PeerMessage): void {
    // Connections are told first, so a message that names one never overtakes its report.
    this.flushReport();
    this.toPrimary({ t: 'relay', to, msg });
  }

  private toPrimary(message: WorkerToPrimary): void {
    if (!process.connected) return;
    process.send!(message, undefined, undefined, (err: Error | null) => {
      if (err) this.parts.log.debug({ err: err.message }, 'cluster: message to the primary not sent');
    });
  }
}

/** The configuration the primary sends a worker it forked (see the 'start' message). */
export function configFromPrimary(): Promise<{ config: SipsdConfig; file: string }> {
  return new Promise((resolve) => {
    const onMessage = (message: unknown) => {
      if (!isOurs(message) || (message as PrimaryToWorker).t !== 'start') return;
      process.off('message', onMessage);
      const { config, file } = message as Extract<PrimaryToWorker, { t: 'start' }>;
      resolve({ config: deserialize(config) as SipsdConfig, file });
    };
    process.on('message', onMessage);
    // Messages that arrive before a listener is attached are lost: ask only now.
    process.send!({ t: 'configure' } satisfies WorkerToPrimary);
  });
}

/**
 * The life of a worker process: starts the server on the configuration the primary validated, joins
 * the others, reports ready (or why it could not start), and stops when the primary says so, on a
 * signal, or when the primary is gone.
 */
export async function runWorker(config: SipsdConfig, file: string, log: Logger): Promise<void> {
  const secret = process.env[WORKER_ENV.secret];
  const effective = secret && config.auth_secret === undefined ? { ...config, auth_secret: secret } : config;
  let server: RunningServer;
  try {
    server = await startServer(effective, file, log, { serveMgmt: false });
  } catch (err) {
    process.send?.({ t: 'failed', error: (err as Error).message } satisfies WorkerToPrimary);
    process.exitCode = 1;
    process.disconnect?.();
    return;
  }
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= server.stop().then(
      () => {
        process.exitCode = 0;
        if (process.connected) process.disconnect();
        // Exits by itself once nothing is left to do; something that lingers does not hold it.
        setTimeout(() => process.exit(0), 1000).unref();
      },
      (err: unknown) => {
        log.error({ err: (err as Error).message }, 'worker shutdown failed');
        process.exit(1);
      },
    ));
  const worker = new ClusterWorker(
    {
      transport: server.transport,
      router: server.router,
      tls: server.tls,
      commands: server.commands,
      location: server.features.registrar.location,
      log,
    },
    stop,
  );
  worker.start();
  worker.ready({
    listeners: server.listeners.map((l) => l.name),
    domains: server.tls.snapshot.domainNames(),
    script: server.scriptName,
  });
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
  // Without its primary a worker has no one to hand it connections or relay its messages.
  process.once('disconnect', () => void stop());
}
