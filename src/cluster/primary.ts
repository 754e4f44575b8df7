// The primary of a multi-process sipsd (`workers` > 1). It forks the workers, each a whole SIP
// server on the same listeners: Node's cluster module accepts every TCP/TLS connection here and
// hands the socket to the next worker before any TLS byte is read (the worker does the handshake
// and owns the connection from then on); UDP sockets are shared. The primary relays what workers
// tell each other, restarts a worker that dies, and serves the management interface and /metrics
// for all of them: commands run on one worker or on each (answers joined), tls_reload on all as one
// transaction.
import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { serialize } from 'node:v8';
import { AggregatorRegistry } from 'prom-client';
import type { SipsdConfig } from '../config/schema.js';
import { silentLogger, type Logger } from '../log/logger.js';
import {
  CommandRegistry,
  MgmtError,
  RpcCode,
  registerHelpCommands,
  registerProcessList,
  startMgmtServer,
  type ClusterJoin,
  type MgmtCommand,
  type MgmtServer,
  type ProcessEntry,
} from '../mgmt/index.js';
import { mgmtListen } from '../server.js';
import { WORKER_ENV } from './identity.js';
import {
  DESCRIBE,
  TLS_RELOAD_STEPS,
  isOurs,
  type CallResult,
  type PeerMessage,
  type PrimaryToWorker,
  type ReadyReport,
  type WorkerToPrimary,
} from './protocol.js';

/** Longest a worker may take to start (100,000 TLS domains take seconds). */
const START_TIMEOUT_MS = 180_000;
/** Longest a management call may take on a worker (a reload of many domains included). */
const CALL_TIMEOUT_MS = 120_000;
/** Restart delays after a worker dies: doubling from the first, up to the last. */
const RESTART_DELAY_MS = { first: 500, max: 30_000 };
/** Longest a sync waits for the other workers (one that hangs does not hold a REGISTER forever). */
const SYNC_TIMEOUT_MS = 2_000;
/** A worker that ran this long before dying counts as healthy: its next restart is quick again. */
const HEALTHY_AFTER_MS = 60_000;

interface Slot {
  index: number;
  worker: Worker | undefined;
  startedAt: number;
  restarts: number;
  /** Its routing layer is up: it takes relayed messages (it said hello). */
  joined: boolean;
  ready: ReadyReport | undefined;
  /** Its worker asked for its configuration, which is not validated yet (see forkAhead). */
  awaitingConfig: boolean;
}

export interface RunningPrimary {
  readonly workers: readonly ReadyReport[];
  readonly mgmt: MgmtServer | undefined;
  stop(): Promise<void>;
}

type CommandInfo = Pick<MgmtCommand, 'name' | 'aliases' | 'summary' | 'params' | 'cluster'>;

export class Primary {
  private readonly slots: Slot[];
  private readonly calls = new Map<number, { resolve: (r: CallResult) => void; timer: NodeJS.Timeout }>();
  /** Syncs under way: the workers still to handle the message, and whom to answer. */
  private readonly syncs = new Map<
    number,
    { waiting: Set<number>; sender: Slot; senderRef: number; timer: NodeJS.Timeout }
  >();
  private nextRef = 1;
  /** Every worker has started once: from then on, a worker that exits is started again. */
  private started = false;
  private stopping = false;
  private readonly env: Record<string, string>;
  /** The validated configuration, its file and the primary's log: known from start() on. */
  #settings: { config: SipsdConfig; file: string; log: Logger } | undefined;
  /** The first start of every worker, under way (see forkAhead). */
  #forked: Array<Promise<void>> | undefined;
  /** The configuration as the workers receive it, while they start together (see start). */
  #configBytes: Uint8Array | undefined;

  constructor(readonly workers: number) {
    this.slots = Array.from({ length: workers }, (_, i) => ({
      index: i + 1,
      worker: undefined,
      startedAt: 0,
      restarts: 0,
      joined: false,
      ready: undefined,
      awaitingConfig: false,
    }));
    this.env = {
      [WORKER_ENV.count]: String(workers),
      // Digest nonces one worker issues must verify on the others (used when auth_secret is unset).
      [WORKER_ENV.secret]: randomBytes(32).toString('hex'),
    };
    // Structured clone, so the Buffers workers pass on travel as bytes, not as JSON arrays.
    cluster.setupPrimary({ serialization: 'advanced' });
  }

  private get config(): SipsdConfig {
    if (!this.#settings) throw new Error('the primary has no configuration yet');
    return this.#settings.config;
  }

  private get log(): Logger {
    return this.#settings?.log ?? silentLogger;
  }

  /**
   * Forks the workers before the configuration is validated: with 100,000 TLS domains they boot
   * while the primary checks it. Each waits for its configuration until start(), or is stopped by
   * abandon().
   */
  forkAhead(): void {
    this.#forked ??= this.slots.map((slot) => this.fork(slot));
    // Failures are start()'s to report; a worker stopped by abandon() is no failure.
    for (const forked of this.#forked) forked.catch(() => undefined);
  }

  /** Stops the workers forked ahead of a configuration that did not validate. */
  async abandon(): Promise<void> {
    // Still booting or waiting for their configuration: a signal, not a message, ends them.
    for (const slot of this.slots) slot.worker?.process.kill('SIGTERM');
    await this.stopWorkers();
  }

  /**
   * Starts the workers on `config` (forking them unless forkAhead did), and resolves once all
   * listen; rejects (all stopped) if one cannot start.
   */
  async start(
    config: SipsdConfig,
    /** The configuration file, for the workers' relative paths and messages. */
    file: string,
    log: Logger,
  ): Promise<RunningPrimary> {
    this.#settings = { config, file, log };
    try {
      const forked = (this.#forked ??= this.slots.map((slot) => this.fork(slot)));
      // Serialized once, while the workers boot, instead of once per worker while they wait for it.
      this.#configBytes = serialize(config);
      for (const slot of this.slots) if (slot.awaitingConfig) this.configure(slot);
      await Promise.all(forked);
    } catch (err) {
      await this.stopWorkers();
      throw err;
    } finally {
      // Tens of MB with 100,000 domains: a worker restarted later has it serialized again.
      this.#configBytes = undefined;
    }
    this.started = true;
    let mgmt: MgmtServer | undefined;
    if (this.config.mi.enabled) {
      try {
        mgmt = await this.serveMgmt();
      } catch (err) {
        await this.stopWorkers();
        throw err;
      }
    }
    return {
      workers: this.slots.map((s) => s.ready!),
      mgmt,
      stop: async () => {
        this.stopping = true;
        await mgmt?.close();
        await this.stopWorkers();
      },
    };
  }

  /** Sends the worker of a slot, which asked for it, its configuration. */
  private configure(slot: Slot): void {
    const { config, file } = this.#settings!;
    slot.awaitingConfig = false;
    if (slot.worker) post(slot.worker, { t: 'start', config: this.#configBytes ?? serialize(config), file });
  }

  /** Starts the worker of a slot; resolves when it listens, rejects with its startup error. */
  private fork(slot: Slot): Promise<void> {
    const worker = cluster.fork({ ...this.env, [WORKER_ENV.index]: String(slot.index) });
    slot.worker = worker;
    slot.startedAt = Date.now();
    slot.joined = false;
    slot.ready = undefined;
    slot.awaitingConfig = false;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(
        () => settle(new Error(`worker ${slot.index} did not start within ${START_TIMEOUT_MS / 1000} s`)),
        START_TIMEOUT_MS,
      );
      worker.on('message', (message: unknown) => {
        if (!isOurs(message)) return;
        const m = message as WorkerToPrimary;
        if (m.t === 'configure') {
          slot.awaitingConfig = true;
          if (this.#settings) this.configure(slot);
        } else if (m.t === 'ready') {
          slot.ready = m;
          settle();
        } else if (m.t === 'failed') {
          settle(new Error(`worker ${slot.index}: ${m.error}`));
        } else {
          this.fromWorker(slot, m);
        }
      });
      // A worker's channel can fail while it exits (EPIPE on a send): its exit is handled below.
      worker.on('error', (err) =>
        this.log.debug({ worker: slot.index, err: err.message }, 'worker channel error'),
      );
      worker.on('exit', (code, signal) => {
        settle(new Error(`worker ${slot.index} exited during startup (${signal ?? `code ${code}`})`));
        this.exited(slot, worker, code, signal);
      });
    });
  }

  private fromWorker(
    slot: Slot,
    m: Exclude<WorkerToPrimary, ReadyReport | { t: 'failed' } | { t: 'configure' }>,
  ): void {
    if (m.t === 'result') {
      const call = this.calls.get(m.ref);
      if (!call) return;
      this.calls.delete(m.ref);
      clearTimeout(call.timer);
      return call.resolve(m);
    }
    if (m.t === 'handled') return this.handled(slot, m.ref);
    // A relay: the sender's routing layer is up (its first one is its hello).
    slot.joined = true;
    if (m.t === 'sync') return this.sync(slot, m.ref, m.msg);
    const targets =
      m.to === 'others' ? this.slots.filter((s) => s !== slot && s.joined) : [this.slots[m.to - 1]];
    for (const target of targets) {
      if (target?.worker) post(target.worker, { t: 'peer', from: slot.index, msg: m.msg });
    }
  }

  private sync(sender: Slot, senderRef: number, msg: PeerMessage): void {
    const ref = this.nextRef++;
    const targets = this.slots.filter((s) => s !== sender && s.joined && s.worker?.isConnected());
    const entry = {
      waiting: new Set(targets.map((s) => s.index)),
      sender,
      senderRef,
      timer: setTimeout(() => this.synced(ref), SYNC_TIMEOUT_MS),
    };
    this.syncs.set(ref, entry);
    for (const target of targets) post(target.worker!, { t: 'peer', from: sender.index, msg, ref });
    if (entry.waiting.size === 0) this.synced(ref);
  }

  private handled(slot: Slot, ref: number): void {
    const entry = this.syncs.get(ref);
    if (!entry) return;
    entry.waiting.delete(slot.index);
    if (entry.waiting.size === 0) this.synced(ref);
  }

  private synced(ref: number): void {
    const entry = this.syncs.get(ref);
    if (!entry) return;
    this.syncs.delete(ref);
    clearTimeout(entry.timer);
    if (entry.sender.worker) post(entry.sender.worker, { t: 'synced', ref: entry.senderRef });
  }

  private exited(slot: Slot, worker: Worker, code: number | null, signal: string | null): void {
    if (slot.worker !== worker) return;
    slot.worker = undefined;
    slot.joined = false;
    for (const other of this.slots) {
      if (other !== slot && other.worker?.isConnected())
        post(other.worker, { t: 'worker-exit', worker: slot.index });
    }
    // At startup a worker that fails fails the start (see start()); later it is started again, also
    // when a restart itself fails (a certificate broken on disk meanwhile), with a growing delay.
    if (this.stopping || !this.started) return;
    if (Date.now() - slot.startedAt > HEALTHY_AFTER_MS) slot.restarts = 0;
    const delay = Math.min(RESTART_DELAY_MS.max, RESTART_DELAY_MS.first * 2 ** slot.restarts);
    slot.restarts++;
    this.log.error(
      { worker: slot.index, pid: worker.process.pid, exit: signal ?? code, restartInMs: delay },
      'worker died: its connections are gone; starting it again',
    );
    setTimeout(() => {
      if (this.stopping) return;
      this.fork(slot).then(
        () => this.log.info({ worker: slot.index, pid: slot.worker?.process.pid }, 'worker started again'),
        (err: Error) =>
          this.log.error({ worker: slot.index, err: err.message }, 'worker did not start again'),
      );
    }, delay).unref();
  }

  private async stopWorkers(): Promise<void> {
    this.stopping = true;
    const running = this.slots.flatMap((s) => (s.worker ? [s.worker] : []));
    await Promise.all(
      running.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.isDead()) return resolve();
            const kill = setTimeout(() => w.process.kill('SIGKILL'), 5000);
            w.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            if (w.isConnected()) post(w, { t: 'stop' });
            else w.process.kill('SIGTERM');
          }),
      ),
    );
  }

  // The management interface of all workers.

  /** Runs `method` on one worker; a missing or dead worker answers with an error. */
  private call(slot: Slot, method: string, params: unknown): Promise<CallResult> {
    const ref = this.nextRef++;
    return new Promise((resolve) => {
      const worker = slot.worker;
      const fail = (message: string) =>
        resolve({ t: 'result', ref, ok: false, error: { code: RpcCode.CommandFailed, message } });
      if (!worker?.isConnected() || !slot.ready) return fail(`worker ${slot.index} is not running`);
      const timer = setTimeout(() => {
        this.calls.delete(ref);
        fail(`worker ${slot.index} did not answer ${method} within ${CALL_TIMEOUT_MS / 1000} s`);
      }, CALL_TIMEOUT_MS);
      this.calls.set(ref, { resolve, timer });
      post(worker, { t: 'call', ref, method, params });
    });
  }

  private running(): Slot[] {
    return this.slots.filter((s) => s.ready && s.worker?.isConnected());
  }

  /** The answer of the first running worker. */
  private async callOne(method: string, params: unknown): Promise<unknown> {
    const slot = this.running()[0];
    if (!slot) throw new MgmtError(RpcCode.CommandFailed, 'no worker is running');
    return valueOf(await this.call(slot, method, params));
  }

  /** Every running worker's answer, with its index; the first error thrown. */
  private async callEach(
    method: string,
    params: unknown,
  ): Promise<Array<{ worker: number; result: unknown }>> {
    const slots = this.running();
    const results = await Promise.all(slots.map((s) => this.call(s, method, params)));
    return results.map((r, i) => ({ worker: slots[i]!.index, result: valueOf(r) }));
  }

  private async serveMgmt(): Promise<MgmtServer> {
    const registry = new CommandRegistry();
    registerHelpCommands(registry);
    registerProcessList(registry, () => this.processes());
    const own = new Set(['which', 'help', 'ps', 'tls_reload']);
    registry.register({
      name: 'tls_reload',
      aliases: ['tls.reload'],
      summary:
        'Re-read every TLS source and certificate file and swap atomically on every worker; on error the running domains stay',
      params: [],
      handler: () => this.reloadTls(),
    });
    const described = (await this.callOne(DESCRIBE, {})) as CommandInfo[];
    for (const info of described) {
      if (own.has(info.name)) continue;
      const { cluster: join } = info;
      registry.register({
        ...info,
        handler: (params) =>
          join
            ? this.callEach(info.name, params).then((parts) => joinAnswers(join, parts))
            : this.callOne(info.name, params),
      });
    }
    const aggregator = new AggregatorRegistry();
    return startMgmtServer({
      ...mgmtListen(this.config),
      registry,
      log: this.log.child({ layer: 'mgmt' }),
      metrics: () => aggregator.clusterMetrics(),
    });
  }

  /** Every worker builds the new domains; only if all succeed do all put them in force. */
  private async reloadTls(): Promise<unknown> {
    const slots = this.running();
    const prepared = await Promise.all(slots.map((s) => this.call(s, TLS_RELOAD_STEPS.prepare, {})));
    const failed = prepared.flatMap((r, i) => (r.ok && (r.result as { ok: boolean }).ok ? [] : [i]));
    const step = failed.length === 0 ? TLS_RELOAD_STEPS.commit : TLS_RELOAD_STEPS.abort;
    const finished = await Promise.all(slots.map((s) => this.call(s, step, {})));
    if (failed.length === 0) return valueOf(finished[0]!);
    const first = prepared[failed[0]!]!;
    const errors = first.ok
      ? (first.result as { errors: string[] }).errors
      : [first.error?.message ?? 'failed'];
    throw new MgmtError(
      RpcCode.CommandFailed,
      `TLS reload failed on worker ${slots[failed[0]!]!.index}, running domains kept on every worker: ${errors.join('; ')}`,
      first.ok ? first.result : undefined,
    );
  }

  private processes(): ProcessEntry[] {
    return [
      { id: 0, pid: process.pid, type: 'primary: accepts connections, management interface' },
      ...this.slots.map((s) => ({
        id: s.index,
        pid: s.worker?.process.pid ?? 0,
        type: s.ready && s.worker ? `worker ${s.index}: SIP and TLS` : `worker ${s.index}: restarting`,
      })),
    ];
  }
}

/**
 * Sends to a worker unless its channel is closed; a send that fails anyway (the worker is exiting)
 * is dropped, as a message to a worker that has just died would be.
 */
function post(worker: Worker, message: PrimaryToWorker): void {
  if (worker.isConnected()) worker.send(message, undefined, undefined, () => undefined);
}

function valueOf(r: CallResult): unknown {
  if (r.ok) return r.result;
  throw new MgmtError(r.error?.code ?? RpcCode.CommandFailed, r.error?.message ?? 'failed', r.error?.data);
}

/** One answer from the workers' answers, as the command's `cluster.join` says. */
export function joinAnswers(join: ClusterJoin, parts: Array<{ worker: number; result: unknown }>): unknown {
  if (join.join === 'same') return parts[0]?.result;
  if (join.join === 'concat') {
    return parts.flatMap(({ worker, result }) =>
      (Array.isArray(result) ? result : [result]).map((entry: unknown) =>
        typeof entry === 'object' && entry !== null ? { worker, ...entry } : entry,
      ),
    );
  }
  const first = { ...(parts[0]?.result as Record<string, unknown> | undefined) };
  for (const field of join.fields) {
    first[field] = parts.reduce(
      (sum, p) => sum + Number((p.result as Record<string, unknown>)[field] ?? 0),
      0,
    );
  }
  return first;
}
