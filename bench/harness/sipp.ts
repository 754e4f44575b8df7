// SIPp 3.6 (Debian sip-tester) as load generator and UAS. The UAC side runs as several processes,
// each with `-t t1` (one TCP connection) to a local stunnel that carries it over TLS to the server,
// so the server sees one persistent TLS connection per process. Success and failure come from
// SIPp's own statistics file; a call counts as failed unless SIPp counted it successful.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../test/helpers/ports.js';
import { serverCpuDuring } from './proc.js';
import { SERVER_NAMES, type BenchServer, type ServerName } from './servers.js';
import { formatNumber, formatRatio, formatSummary, summarize, type Summary } from './stats.js';
import { listening, startStunnel, type Stunnel } from './stunnel.js';
import { withServers, type RunningPair, type SuiteContext } from './suite.js';
import { run } from './tools.js';

const SCENARIO_DIR = join(dirname(dirname(fileURLToPath(import.meta.url))), 'sipp');

/** A call that waits this long for a message fails (SIPp -recv_timeout). */
const RECV_TIMEOUT_MS = 5_000;

export interface Uas {
  /** False once SIPp has exited (it dies under some overloads: "Broken pipe"). */
  alive(): boolean;
  stop(): Promise<void>;
}

/** A SIPp UAS answering `scenario` (a file in bench/sipp) over TCP on 127.0.0.1:port until stopped. */
export async function startUas(scenario: string, port: number): Promise<Uas> {
  const dir = mkdtempSync(join(tmpdir(), 'sipsd-bench-uas-'));
  // -timeout only as a backstop should stop() never be reached; -nostdin: no keyboard control.
  const args = ['-sf', join(SCENARIO_DIR, scenario), '-t', 't1', '-i', '127.0.0.1', '-p', String(port)];
  const child = spawn('sipp', [...args, '-nostdin', '-timeout', '6h'], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (d: Buffer) => (log = (log + d.toString('latin1')).slice(-10_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let running = true;
  let stopping = false;
  void exited.then(() => {
    running = false;
    // Every later call would fail: say why instead of leaving only failure counts.
    if (!stopping) process.stderr.write(`SIPp UAS on port ${port} exited unexpectedly:\n${log}\n`);
  });
  const stop = async () => {
    stopping = true;
    // Nothing to keep from the UAS: the UAC side counts the calls.
    if (running) child.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  while (!listening(port)) {
    if (!running || Date.now() > deadline) {
      await stop();
      throw new Error(`SIPp UAS did not start:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { alive: () => running, stop };
}

export interface UacLoad {
  /** Scenario file in bench/sipp. */
  scenario: string;
  /** Where SIPp connects: a client-mode stunnel's port. */
  port: number;
  /** The server's own address for Request-URIs (`[proxy]` in the scenarios). */
  proxy: string;
  /** Calls started per second over all processes, or 'unthrottled' (bounded by `outstanding`). */
  rate: number | 'unthrottled';
  /** Calls over all processes (SIPp -m, split between them). */
  calls: number;
  /**
   * Most calls in progress per process (SIPp -l); needed when unthrottled. By default room for every
   * call to wait out its receive timeout, so only the server's answers slow a fixed rate down.
   */
  outstanding?: number;
  processes: number;
  /** Keep the scenario's per-call <log> lines (INVITE→200 in µs). */
  latency?: boolean;
}

export interface UacResult {
  calls: number;
  successful: number;
  /** Calls not counted successful by SIPp: failed, timed out, or never finished. */
  failed: number;
  /** Longest SIPp process run, from its start to its last statistics. */
  seconds: number;
  /** CPU seconds of all SIPp processes. */
  cpuSeconds: number;
  /** INVITE→200 per call in ms (when `latency` was asked for). */
  latenciesMs: number[];
  /** The first distinct errors SIPp logged (its -trace_err file), to say why calls failed. */
  errors: string[];
}

export const failureRatio = (r: UacResult) => r.failed / r.calls;
export const successRate = (r: UacResult) => r.successful / r.seconds;

/** Runs the UAC processes in parallel to the end (every call done, failed or timed out). */
export async function runUac(load: UacLoad): Promise<UacResult> {
  const perProcess = Math.ceil(load.calls / load.processes);
  // Unthrottled: a rate no SIPp reaches, so only -l holds it back.
  const rate = load.rate === 'unthrottled' ? 1_000_000 : load.rate / load.processes;
  // SIPp stops itself well before the hard kill: at worst every call waits for its receive timeout.
  // Unthrottled runs are planned as if no slower than 100 calls/s per process.
  const expectedS = perProcess / (load.rate === 'unthrottled' ? 100 : rate);
  const sippTimeoutS = Math.ceil(expectedS * 3 + (2 * RECV_TIMEOUT_MS) / 1000);
  const outstanding = load.outstanding ?? Math.ceil((rate * RECV_TIMEOUT_MS) / 1000) + 10;
  const runs = Array.from({ length: load.processes }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sipsd-bench-uac-'));
    try {
      const args = [
        `127.0.0.1:${load.port}`,
        ...['-sf', join(SCENARIO_DIR, load.scenario), '-t', 't1', '-i', '127.0.0.1', '-nostdin'],
        // Each its own main socket: processes started together would all try 5060.
        ...['-p', String(await freePort())],
        ...['-key', 'proxy', load.proxy],
        ...['-r', rate.toFixed(3), '-rp', '1000', '-l', String(outstanding), '-m', String(perProcess)],
        ...['-recv_timeout', String(RECV_TIMEOUT_MS), '-timeout', `${sippTimeoutS}s`],
        ...['-trace_stat', '-stf', 'stats.csv', '-trace_err', '-error_file', 'errors.log'],
        ...(load.latency ? ['-trace_logs', '-log_file', 'latency.log'] : []),
      ];
      // The shell's `times` after SIPp ends gives SIPp's exact CPU time (the load generator's share).
      const r = await run(
        'sh',
        ['-c', 'sipp "$@" >/dev/null; rc=$?; times >cpu.txt; exit $rc', 'sh', ...args],
        {
          timeoutMs: (sippTimeoutS + 10) * 1000,
          cwd: dir,
        },
      );
      const stats = join(dir, 'stats.csv');
      if (!existsSync(stats)) throw new Error(`SIPp ${load.scenario} failed (exit ${r.code}):\n${r.stderr}`);
      const latency = join(dir, 'latency.log');
      const errorLog = join(dir, 'errors.log');
      return {
        ...parseStats(readFileSync(stats, 'utf8'), perProcess),
        errors: existsSync(errorLog) ? firstErrors(readFileSync(errorLog, 'utf8')) : [],
        cpuSeconds: parseTimes(readFileSync(join(dir, 'cpu.txt'), 'utf8')),
        latenciesMs: existsSync(latency)
          ? readFileSync(latency, 'utf8')
              .split('\n')
              .filter(Boolean)
              .map((l) => Number(l) / 1000)
          : [],
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  const results = await Promise.all(runs);
  const sum = (f: (r: UacResult) => number) => results.reduce((a, r) => a + f(r), 0);
  return {
    calls: sum((r) => r.calls),
    successful: sum((r) => r.successful),
    failed: sum((r) => r.failed),
    seconds: Math.max(...results.map((r) => r.seconds)),
    cpuSeconds: sum((r) => r.cpuSeconds),
    latenciesMs: results.flatMap((r) => r.latenciesMs),
    errors: [...new Set(results.flatMap((r) => r.errors))].slice(0, MAX_ERRORS),
  };
}

const MAX_ERRORS = 3;

/** SIPp's error lines without their timestamps, distinct, the first few. */
function firstErrors(log: string): string[] {
  const lines = log
    .split('\n')
    .map((l) => l.replace(/^[\d.\-: ]+\t?/, '').trim())
    .filter(Boolean);
  return [...new Set(lines)].slice(0, MAX_ERRORS);
}

/** The final line of SIPp's -trace_stat CSV (semicolon-separated, a header line first). */
function parseStats(csv: string, calls: number): Omit<UacResult, 'cpuSeconds' | 'latenciesMs' | 'errors'> {
  const lines = csv.trim().split('\n');
  const header = lines[0]!.split(';');
  const last = lines[lines.length - 1]!.split(';');
  const field = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0 || last[i] === undefined) throw new Error(`SIPp statistics lack ${name}`);
    return last[i];
  };
  // StartTime and CurrentTime read `date<TAB>time<TAB>epoch seconds`.
  const epoch = (name: string) => Number(field(name).split('\t')[2]);
  const successful = Number(field('SuccessfulCall(C)'));
  return {
    calls,
    successful,
    failed: calls - successful,
    seconds: epoch('CurrentTime') - epoch('StartTime'),
  };
}

/** CPU seconds of the shell's children from POSIX `times` (second line: `0m1.23s 0m0.45s`). */
function parseTimes(text: string): number {
  const children = text.trim().split('\n')[1] ?? '';
  return [...children.matchAll(/(\d+)m([\d.]+)s/g)].reduce((s, m) => s + Number(m[1]) * 60 + Number(m[2]), 0);
}

/** The q-quantile (0..1) of samples, nearest rank. */
export function quantile(samples: number[], q: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Where a server's load comes from: a client-mode stunnel to its ECDSA TLS listener. */
export interface SippTarget {
  stunnel: Stunnel;
  /** The server's TLS address, for Request-URIs. */
  proxy: string;
  /** Starts the UAS again if it died, so that one overload does not void every later run. */
  ready(): Promise<void>;
}

/**
 * Starts a SIPp UAS with `uasScenario` on a free port, both servers relaying to it, and a stunnel to
 * each server; runs `body`; stops them all.
 */
export async function withSippRig<T>(
  ctx: SuiteContext,
  uasScenario: string,
  body: (pair: RunningPair, targets: Record<ServerName, SippTarget>, uasPort: number) => Promise<T>,
): Promise<T> {
  const uasPort = await freePort();
  let uas = await startUas(uasScenario, uasPort);
  const ready = async () => {
    if (uas.alive()) return;
    await uas.stop();
    ctx.progress(`  SIPp UAS restarted on port ${uasPort}`);
    uas = await startUas(uasScenario, uasPort);
  };
  try {
    return await withServers(ctx, { uasPort, workers: ctx.workers }, async (pair) => {
      const targets = {} as Record<ServerName, SippTarget>;
      try {
        for (const name of SERVER_NAMES) {
          const tls = pair.ports[name].tls.ecdsa;
          const stunnel = await startStunnel({ client: true, caFile: ctx.pki.caFile }, tls);
          targets[name] = { stunnel, proxy: `127.0.0.1:${tls}`, ready };
        }
        return await body(pair, targets, uasPort);
      } finally {
        for (const t of Object.values(targets)) await t.stunnel.stop();
      }
    });
  } finally {
    await uas.stop();
  }
}

export interface MeasuredRun {
  uac: UacResult;
  /** CPU seconds of the server's processes during the run. */
  serverCpuSeconds: number;
  use: CpuUse;
}

/** Runs a load against one server, measuring the CPU of server and client side. */
export async function measuredRun(
  server: BenchServer,
  target: SippTarget,
  load: Omit<UacLoad, 'port' | 'proxy'>,
): Promise<MeasuredRun> {
  await target.ready();
  const stunnelBefore = target.stunnel.cpuSeconds();
  const { result, cpuSeconds, wallSeconds } = await serverCpuDuring(server.pid, () =>
    runUac({ ...load, port: target.stunnel.port, proxy: target.proxy }),
  );
  const client = result.cpuSeconds + target.stunnel.cpuSeconds() - stunnelBefore;
  return {
    uac: result,
    serverCpuSeconds: cpuSeconds,
    use: {
      server: cpuSeconds / wallSeconds,
      client: client / wallSeconds,
      perSipp: result.cpuSeconds / load.processes / wallSeconds,
    },
  };
}

/** Runs a short load at each server first, unmeasured, so sipsd's JIT and both servers' connections are warm. */
export async function warmUp(
  pair: RunningPair,
  targets: Record<ServerName, SippTarget>,
  load: Omit<UacLoad, 'port' | 'proxy'>,
): Promise<void> {
  for (const name of SERVER_NAMES) await measuredRun(pair.server[name], targets[name], load);
}

export interface CpuUse {
  /** Server processes, in cores (CPU seconds over wall seconds). */
  server: number;
  /** SIPp processes and stunnel, in cores. */
  client: number;
  /** SIPp alone, per process, in cores. */
  perSipp: number;
}

/**
 * What most likely held a run back, judged from CPU use (a one-core limit per worker process: a
 * Node event loop, a Kamailio worker); `otherwise` names the limit left when no side is CPU-bound.
 */
export function bottleneck(use: CpuUse, workers: number, otherwise: string): string {
  const machine = cpus().length;
  if (use.perSipp >= 0.85) return 'load generator (each SIPp process near a full core)';
  if (use.server + use.client >= 0.85 * machine)
    return `the ${machine} shared cores (server and load generator)`;
  if (use.server >= 0.85 * workers)
    return `server (its ${workers === 1 ? 'worker' : `${workers} workers`} near a full core${workers === 1 ? '' : ' each'})`;
  return otherwise;
}

/** The median of each part over rounds. */
export function medianUse(uses: CpuUse[]): CpuUse {
  const median = (f: (u: CpuUse) => number) => summarize(uses.map(f)).median;
  return {
    server: median((u) => u.server),
    client: median((u) => u.client),
    perSipp: median((u) => u.perSipp),
  };
}

/** `server 0.93, SIPp+stunnel 0.71 cores` for table notes. */
export const formatCpuUse = (u: CpuUse) =>
  `server ${formatNumber(u.server)}, SIPp+stunnel ${formatNumber(u.client)} cores`;

// Results of the SIPp suites (messages, calls): values collected per server, rows comparing them.

export const byServer = <T>(): Record<ServerName, T[]> => ({ sipsd: [], kamailio: [] });

export const summaries = (v: Record<ServerName, number[]>): Record<ServerName, Summary> => ({
  sipsd: summarize(v.sipsd),
  kamailio: summarize(v.kamailio),
});

/** A table row: label, sipsd, Kamailio, and their ratio unless `ratio` is false. */
export const compareRow = (label: string, values: Record<ServerName, Summary>, ratio = true): string[] => [
  label,
  formatSummary(values.sipsd),
  formatSummary(values.kamailio),
  ratio ? formatRatio(values.sipsd, values.kamailio) : '',
];
