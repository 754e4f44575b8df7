// Server memory per idle TLS connection. For each count, each server is started fresh (so earlier
// connections leave nothing behind), its PSS taken at rest, then N TLS 1.3 connections are opened
// to its ECDSA listener by our idle client (a separate process, see harness/idle-client.ts), each
// carrying one answered OPTIONS, and the PSS taken again once they have settled (steadyPss). Per connection =
// (PSS with N − PSS at rest) / N, over all the server's processes (Kamailio's shared memory
// counted once).
import { spawnSync } from 'node:child_process';
import { freePort } from '../../test/helpers/ports.js';
import { IdleClient } from '../harness/idle-client.js';
import { pssBytes } from '../harness/proc.js';
import type { ResultTable } from '../harness/report.js';
import { allocatePorts, SERVER_NAMES, startServer, type ServerName } from '../harness/servers.js';
import { formatNumber, formatRatio, formatSummary, summarize, type Summary } from '../harness/stats.js';
import { alternate, type Suite, type SuiteContext } from '../harness/suite.js';

/**
 * Both at rest and loaded: V8's memory reducer gives back the startup and handshake garbage about
 * 15 s after allocation calms down (sipsd's PSS at rest falls from ~100 to ~67 MB then).
 */
const SETTLE_MS = 20_000;
/** Handshakes in flight while connecting, as phones reconnecting at once. */
const CONCURRENCY = 200;
/** Descriptors a server or the client needs besides its connections (listeners, pipes, epoll). */
const FD_RESERVE = 500;

/** The per-process open-file limit (soft) of processes started from here. */
function openFileLimit(): number {
  const r = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' });
  const n = Number(r.stdout.trim());
  return Number.isFinite(n) ? n : 1024; // "unlimited" does not happen under a container's limit
}

interface Sample {
  idleBytes: number;
  loadedBytes: number;
  established: number;
  failed: number;
  answered: number;
  /** Still open at the second measurement. */
  open: number;
  errors: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Longest wait, after the settle time, for the PSS to stop falling. */
const STEADY_LIMIT_MS = 60_000;
/** Samples 2 s apart that must stay within 0.5% of the lowest for the PSS to count as steady. */
const STEADY_SAMPLES = 5;

/**
 * The PSS once it has stopped falling: after `settleMs`, sampled every 2 s until STEADY_SAMPLES in a
 * row stay within 0.5% of the lowest (at most STEADY_LIMIT_MS more); the lowest. V8 gives its
 * startup and handshake garbage back at a time of its own; a sample taken before that (sipsd at
 * rest: 63 to 120 MB) would make the per-connection figure swing more than it measures.
 */
async function steadyPss(pids: () => number[], settleMs: number): Promise<number> {
  await sleep(settleMs);
  let low = pssBytes(pids());
  let calm = 0;
  for (const end = performance.now() + STEADY_LIMIT_MS; calm < STEADY_SAMPLES && performance.now() < end;) {
    await sleep(2000);
    const now = pssBytes(pids());
    calm = now > low * 0.995 ? calm + 1 : 0;
    low = Math.min(low, now);
  }
  return low;
}

async function measure(
  ctx: SuiteContext,
  name: ServerName,
  count: number,
  settleMs: number,
): Promise<Sample> {
  const ports = await allocatePorts();
  const server = await startServer(name, {
    pki: ctx.pki,
    ports,
    uasPort: await freePort(),
    workers: ctx.workers,
  });
  try {
    const idleBytes = await steadyPss(() => server.pids(), settleMs);
    const client = await IdleClient.open({
      port: ports.tls.ecdsa,
      count,
      concurrency: CONCURRENCY,
      keepalive: true,
      timeLimitMs: 120_000,
    });
    try {
      const loadedBytes = await steadyPss(() => server.pids(), settleMs);
      const { open } = await client.status();
      const r = client.report;
      ctx.progress(
        `  ${name}: ${r.established}/${count} established in ${r.seconds.toFixed(1)} s, ${r.answered} keepalives answered, ${open} open after settling${r.errors.length ? `; errors: ${r.errors.join(' | ')}` : ''}`,
      );
      return { idleBytes, loadedBytes, open, ...r };
    } finally {
      await client.close();
    }
  } finally {
    await server.stop();
  }
}

const MB = 1024 * 1024;

export const suite: Suite = {
  name: 'idle',
  programs: ['kamailio', 'gcc'],
  async run(ctx) {
    const limit = openFileLimit();
    const most = Math.floor((limit - FD_RESERVE) / 1000) * 1000;
    const counts = ctx.quick ? [200] : [1_000, 10_000, most];
    const settleMs = ctx.quick ? 3000 : SETTLE_MS;
    const notes: string[] = [];
    const idle: Record<ServerName, number[]> = { sipsd: [], kamailio: [] };
    const countRows: string[][] = [];
    for (const count of counts) {
      ctx.progress(`idle: ${count} connections`);
      const samples: Record<ServerName, Sample[]> = { sipsd: [], kamailio: [] };
      const perConnection = await alternate(ctx.rounds, async (name) => {
        const s = await measure(ctx, name, count, settleMs);
        samples[name].push(s);
        idle[name].push(s.idleBytes);
        // Only connections that are still open hold memory.
        return s.open > 0 ? (s.loadedBytes - s.idleBytes) / s.open / 1024 : NaN;
      });
      const total = (name: ServerName) => summarize(samples[name].map((s) => s.loadedBytes / MB));
      countRows.push([
        formatNumber(count),
        ...SERVER_NAMES.map((n) => formatSummary(total(n))),
        ...SERVER_NAMES.map((n) => formatSummary(perConnection[n])),
        formatRatio(perConnection.sipsd, perConnection.kamailio),
      ]);
      for (const name of SERVER_NAMES) {
        const short = samples[name].filter((s) => s.open < count);
        for (const s of short) {
          notes.push(
            `${name} at ${formatNumber(count)}: ${s.established} established, ${s.failed} failed, ${s.answered} keepalives answered, ${s.open} still open after ${settleMs / 1000} s${s.errors.length ? ` (client errors: ${s.errors.join(' | ')})` : ''}; per connection is over the open ones.`,
          );
        }
      }
    }
    const idleSummary: Record<ServerName, Summary> = {
      sipsd: summarize(idle.sipsd.map((b) => b / MB)),
      kamailio: summarize(idle.kamailio.map((b) => b / MB)),
    };
    const rows = [
      [
        '0 (at rest)',
        ...SERVER_NAMES.map((n) => formatSummary(idleSummary[n])),
        '—',
        '—',
        formatRatio(idleSummary.sipsd, idleSummary.kamailio),
      ],
      ...countRows,
    ];
    if (!ctx.quick) {
      notes.push(
        `The largest count is ${formatNumber(most)}, not 30,000: every process here may open at most ${formatNumber(limit)} files (hard limit; raising it needs CAP_SYS_RESOURCE, which this machine does not grant), and each connection takes one descriptor in the server and one in the client.`,
      );
    }
    return [
      {
        title: 'Idle TLS connections: server memory',
        description: `PSS of all the server's processes (MB) at rest and with N idle TLS 1.3 connections on the ECDSA listener (no client certificate, one answered OPTIONS each, then silence), each measured once it stopped falling (from ${settleMs / 1000} s after start, and after the last was opened, sampled every 2 s until ${STEADY_SAMPLES} samples in a row stayed within 0.5% of the lowest, at most ${STEADY_LIMIT_MS / 1000} s more; the lowest), ${CONCURRENCY} handshakes in flight; per connection = growth / connections still open (KiB). A fresh server per measurement. Ratio = sipsd / Kamailio (PSS at rest in the first row, per connection below).`,
        columns: [
          'Connections',
          'sipsd PSS (MB)',
          'Kamailio PSS (MB)',
          'sipsd KiB/conn',
          'Kamailio KiB/conn',
          'Ratio',
        ],
        rows,
        notes,
      } satisfies ResultTable,
    ];
  },
};
