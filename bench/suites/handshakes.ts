// Full TLS handshakes, as when every phone reconnects after an outage: `openssl s_time -new` (a
// tool neither server's authors wrote) opens connection after connection, each a full handshake
// with no session reuse, from two client processes at once (one per core). Measured per server:
// handshakes per second, and server CPU seconds per handshake, which is what decides how many
// handshakes a host holds (on 2 cores s_time itself uses more CPU than either server).
import type { ResultTable } from '../harness/report.js';
import { TLS_VARIANTS, type TlsVariant } from '../harness/servers.js';
import { formatRatio, formatSummary, summarize, type Summary } from '../harness/stats.js';
import { alternate, withServers, type Suite, type SuiteContext } from '../harness/suite.js';
import { cpuSeconds, processTree } from '../harness/proc.js';
import { run } from '../harness/tools.js';

const VERSIONS = ['tls1_3', 'tls1_2'] as const;
type Version = (typeof VERSIONS)[number];
const CLIENT_PROCESSES = 2;
// Handshakes relay nothing; the proxy's UAS address only has to be valid.
const NOTHING_RELAYED = 9;

interface Round {
  handshakes: number;
  wallSeconds: number;
  serverCpuSeconds: number;
}

/** Parses s_time's "N connections in S real seconds" line. */
function connections(output: string): number {
  const m = /(\d+) connections in [\d.]+ real seconds/.exec(output);
  if (!m) throw new Error(`unexpected openssl s_time output:\n${output}`);
  return Number(m[1]);
}

async function handshakeRound(
  ctx: SuiteContext,
  port: number,
  variant: TlsVariant,
  version: Version,
  serverPid: number,
  seconds: number,
): Promise<Round> {
  const args = ['s_time', '-connect', `127.0.0.1:${port}`, '-new', `-${version}`, '-time', String(seconds)];
  if (variant.endsWith('mtls')) args.push('-cert', ctx.pki.client.cert, '-key', ctx.pki.client.key);
  const pids = processTree(serverPid);
  const cpuBefore = cpuSeconds(pids);
  const started = performance.now();
  const results = await Promise.all(
    Array.from({ length: CLIENT_PROCESSES }, () =>
      run('openssl', args, { timeoutMs: (seconds + 30) * 1000 }),
    ),
  );
  const wallSeconds = (performance.now() - started) / 1000;
  const serverCpuSeconds = cpuSeconds(processTree(serverPid)) - cpuBefore;
  let handshakes = 0;
  for (const r of results) {
    if (r.code !== 0) throw new Error(`openssl s_time failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
    handshakes += connections(r.stdout);
  }
  return { handshakes, wallSeconds, serverCpuSeconds };
}

export const suite: Suite = {
  name: 'handshakes',
  programs: ['openssl', 'kamailio', 'gcc'],
  async run(ctx) {
    const seconds = ctx.quick ? 1 : 5;
    const rows: string[][] = [];
    await withServers(ctx, { uasPort: NOTHING_RELAYED, workers: ctx.workers }, async ({ server, ports }) => {
      for (const version of VERSIONS) {
        for (const variant of TLS_VARIANTS) {
          ctx.progress(`handshakes: ${version} ${variant}`);
          const rounds: Record<string, Round[]> = { sipsd: [], kamailio: [] };
          const perSecond = await alternate(ctx.rounds, async (name) => {
            const r = await handshakeRound(
              ctx,
              ports[name].tls[variant],
              variant,
              version,
              server[name].pid,
              seconds,
            );
            rounds[name]!.push(r);
            return r.handshakes / r.wallSeconds;
          });
          const cpuPer = (name: string): Summary => {
            const values = rounds[name]!.map((r) => (r.serverCpuSeconds / r.handshakes) * 1000);
            return summarize(values);
          };
          const utilisation = (name: string) =>
            summarize(rounds[name]!.map((r) => (100 * r.serverCpuSeconds) / r.wallSeconds));
          const [sCpu, kCpu] = [cpuPer('sipsd'), cpuPer('kamailio')];
          rows.push([
            version.replace('tls', 'TLS ').replace('_', '.'),
            variant.startsWith('rsa') ? 'RSA-2048' : 'ECDSA P-256',
            variant.endsWith('mtls') ? 'yes' : 'no',
            formatSummary(sCpu),
            formatSummary(kCpu),
            formatRatio(sCpu, kCpu),
            formatSummary(perSecond.sipsd),
            formatSummary(perSecond.kamailio),
            `${formatSummary(utilisation('sipsd'))} / ${formatSummary(utilisation('kamailio'))}`,
          ]);
        }
      }
    });
    const table: ResultTable = {
      title: 'Full TLS handshakes',
      description:
        `\`openssl s_time -new -tls1_3|-tls1_2 [-cert -key] -time ${seconds}\`, ${CLIENT_PROCESSES} processes at once, ` +
        `${ctx.rounds} alternating rounds per row; median (min–max). Server CPU = utime+stime of all the ` +
        "server's processes over the round, per handshake.",
      columns: [
        'TLS',
        'server key',
        'client cert',
        'sipsd ms CPU/handshake',
        'Kamailio ms CPU/handshake',
        'ratio',
        'sipsd handshakes/s',
        'Kamailio handshakes/s',
        'server CPU % (sipsd / Kamailio)',
      ],
      rows,
      notes: [
        'The handshake rate is bounded by s_time (it spends more CPU per handshake than either server on this ' +
          '2-core machine) wherever the server CPU % stays well below 100 per core; compare CPU per handshake there.',
      ],
    };
    return [table];
  },
};
