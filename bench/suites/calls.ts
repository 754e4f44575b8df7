// Calls through the record-routing proxy: INVITE, (100), 180, 200, ACK, BYE, 200, TLS on the
// caller's side (SIPp through a local stunnel) and TCP to the callee (a SIPp UAS). Per server: the
// highest call rate with under 0.1% failed calls (a bounded search over fixed-rate runs), then, at
// half the lower of the two servers' highest rates (the same load for both), the server's CPU per
// call and the INVITE→200 time. That time includes SIPp and the UAS, so the same calls are also
// timed with a plain TLS relay (stunnel in server mode) in the proxy's place: the difference is
// what the proxy adds.
import { untilQuiet } from '../harness/proc.js';
import type { ResultTable } from '../harness/report.js';
import { SERVER_NAMES, type ServerName } from '../harness/servers.js';
import {
  bottleneck,
  byServer,
  compareRow,
  failureRatio,
  formatCpuUse,
  measuredRun,
  quantile,
  runUac,
  summaries,
  warmUp,
  withSippRig,
  type CpuUse,
  type UacLoad,
} from '../harness/sipp.js';
import { formatNumber, formatSummary, summarize, type Summary } from '../harness/stats.js';
import { startStunnel } from '../harness/stunnel.js';
import { alternate, type Suite, type SuiteContext } from '../harness/suite.js';

/** SIPp processes, so TLS connections, per server. */
const CLIENTS = 2;
/** A rate passes with fewer failed calls than this... */
const MAX_FAILED = 0.001;
/** ...and when its calls are done within this much of the planned time plus a second: SIPp kept up. */
const MAX_OVERRUN = 1.2;

/**
 * The search's ceiling: the SIPp UAS (one process) dies at about 12,800 calls/s here, after which
 * every call of both servers fails. A server that passes it is reported at the ceiling.
 */
const MAX_RATE = 8_000;

/**
 * The highest rate `passes`: doubling from `start` (up to MAX_RATE) until one fails, then halving
 * the gap until it is within 10%, in at most `steps` runs.
 */
async function highestRate(start: number, steps: number, passes: (rate: number) => Promise<boolean>) {
  let ok = 0;
  let bad = Infinity;
  let rate = start;
  for (let step = 0; step < steps && bad - ok > 0.1 * ok && ok < MAX_RATE; step++) {
    if (await passes(rate)) ok = rate;
    else bad = rate;
    rate = bad === Infinity ? Math.min(rate * 2, MAX_RATE) : Math.round((ok + bad) / 2);
  }
  return ok;
}

export const suite: Suite = {
  name: 'calls',
  programs: ['kamailio', 'gcc', 'sipp', 'stunnel4'],
  async run(ctx: SuiteContext): Promise<ResultTable[]> {
    const startRate = ctx.quick ? 50 : 100;
    const steps = ctx.quick ? 3 : 9;
    const stepSeconds = ctx.quick ? 2 : 8;
    const measureSeconds = ctx.quick ? 2 : 15;
    const callsAt = (rate: number, seconds: number): Omit<UacLoad, 'port' | 'proxy'> => ({
      scenario: 'call-uac.xml',
      rate,
      calls: Math.ceil(rate * seconds),
      processes: CLIENTS,
    });

    return withSippRig(ctx, 'call-uas.xml', async (pair, targets, uasPort) => {
      await warmUp(pair, targets, callsAt(startRate, stepSeconds));

      // CPU use in the fastest passing run, to tell what limited the rate.
      const fastest: Partial<Record<ServerName, { rate: number; use: CpuUse }>> = {};
      const highest = await alternate(ctx.rounds, async (name) => {
        ctx.progress(`calls: searching ${name}'s highest rate`);
        return highestRate(startRate, steps, async (rate) => {
          const m = await measuredRun(pair.server[name], targets[name], callsAt(rate, stepSeconds));
          const passed = failureRatio(m.uac) < MAX_FAILED && m.uac.seconds <= stepSeconds * MAX_OVERRUN + 1;
          // An overloaded run leaves the server busy for a while: the next step starts once it is done.
          const waited = passed ? 0 : await untilQuiet(pair.server[name].pid);
          ctx.progress(
            `calls: ${name} ${rate}/s: ${m.uac.failed} failed, ${passed ? 'passed' : `failed (then ${waited} ms until quiet)`}`,
          );
          if (passed && rate >= (fastest[name]?.rate ?? 0)) fastest[name] = { rate, use: m.use };
          return passed;
        });
      });
      const rate = Math.max(1, Math.round(0.5 * Math.min(highest.sipsd.median, highest.kamailio.median)));

      // The path without a proxy: client stunnel, a TLS relay, the UAS.
      const relay = await startStunnel({ client: false, ...ctx.pki.ecdsa }, uasPort);
      const direct = await startStunnel({ client: true, caFile: ctx.pki.caFile }, relay.port);
      const load = { ...callsAt(rate, measureSeconds), latency: true };
      const p50 = byServer<number>();
      const p99 = byServer<number>();
      const added = byServer<number>();
      const direct50: number[] = [];
      const direct99: number[] = [];
      let cpu: Record<ServerName, Summary>;
      try {
        cpu = await alternate(ctx.rounds, async (name, round) => {
          // The path without a proxy once per round, before the round's first server.
          if (direct50.length === round) {
            ctx.progress(`calls: ${rate}/s without a proxy`);
            await targets.sipsd.ready();
            const d = await runUac({ ...load, port: direct.port, proxy: `127.0.0.1:${relay.port}` });
            direct50.push(quantile(d.latenciesMs, 0.5));
            direct99.push(quantile(d.latenciesMs, 0.99));
          }
          ctx.progress(`calls: ${name} at ${rate}/s`);
          const m = await measuredRun(pair.server[name], targets[name], load);
          p50[name].push(quantile(m.uac.latenciesMs, 0.5));
          p99[name].push(quantile(m.uac.latenciesMs, 0.99));
          added[name].push(p50[name].at(-1)! - direct50[round]!);
          return (1000 * m.serverCpuSeconds) / m.uac.successful;
        });
      } finally {
        await direct.stop();
        await relay.stop();
      }

      return [
        {
          title: 'Calls through the proxy (TLS caller, TCP callee)',
          description:
            'INVITE–100–180–200–ACK–BYE–200 from SIPp 3.6 over ' +
            `${CLIENTS} persistent TLS connections (\`-t t1\` through a local stunnel) via the record-routing ` +
            'proxy to a SIPp UAS over TCP, hanging up at once. Highest rate: bounded search over ' +
            `${stepSeconds} s fixed-rate runs (doubling from ${startRate}/s, then bisecting to within 10%, ` +
            `at most ${steps} runs) for the highest rate with <0.1% failed calls whose calls all finish ` +
            'in time; after a failed run, the next waits until the server is quiet (under 5% of a core ' +
            `over a second, at most 30 s). CPU (user+system of all server processes, per successful call) and INVITE→200 ` +
            `(per call, µs clock in the SIPp scenario) at ${formatNumber(rate)} calls/s for both: half ` +
            'the lower highest rate. Ratio = sipsd / Kamailio.',
          columns: ['Measurement', 'sipsd', 'Kamailio 5.6', 'sipsd / Kamailio'],
          rows: [
            compareRow('Highest rate with <0.1% failed calls, calls/s', highest),
            compareRow(`Server CPU per call, ms (at ${formatNumber(rate)}/s)`, cpu),
            compareRow('INVITE→200 p50, ms (proxy + UAS + SIPp)', summaries(p50)),
            compareRow('INVITE→200 p99, ms', summaries(p99)),
            compareRow('Added by the proxy over a TLS relay, p50, ms', summaries(added)),
          ],
          notes: [
            `Without a proxy (stunnel terminating TLS in its place) INVITE→200 took p50 ` +
              `${formatSummary(summarize(direct50))} ms, p99 ${formatSummary(summarize(direct99))} ms: ` +
              "mostly SIPp's own scheduling, on both sides.",
            ...SERVER_NAMES.map((name) => {
              const f = fastest[name];
              return f
                ? `${name} at ${formatNumber(f.rate)} calls/s: ${formatCpuUse(f.use)}; bottleneck: ${bottleneck(f.use, ctx.workers, 'no side CPU-bound (latency, or the search ran out of steps)')}.`
                : `${name}: no rate passed.`;
            }),
            'SIPp and stunnel run on the same two cores as the server; their CPU counts as client, not server.',
            ...SERVER_NAMES.filter((name) => highest[name].max >= MAX_RATE).map(
              (name) =>
                `${name} passed the search's ceiling of ${formatNumber(MAX_RATE)} calls/s (the SIPp UAS fails above it): its real highest rate is higher.`,
            ),
          ],
        },
      ];
    });
  },
};
