// Messages over persistent TLS: OPTIONS to the proxy itself (answered statelessly) and MESSAGE
// relayed statefully to a SIPp UAS over TCP. SIPp processes each keep one TLS connection (through a
// local stunnel) to the server. Two numbers per kind and server: the highest rate, from unthrottled
// runs with a bounded number of outstanding requests per connection, and the server's CPU per
// 1,000 messages at a rate both servers sustain (half the lower highest rate), so the servers are
// compared at the same offered load.
import type { ResultTable } from '../harness/report.js';
import { SERVER_NAMES } from '../harness/servers.js';
import {
  bottleneck,
  byServer,
  compareRow,
  failureRatio,
  formatCpuUse,
  measuredRun,
  medianUse,
  successRate,
  summaries,
  warmUp,
  withSippRig,
  type CpuUse,
} from '../harness/sipp.js';
import { formatNumber } from '../harness/stats.js';
import { alternate, type Suite, type SuiteContext } from '../harness/suite.js';

/** SIPp processes, so TLS connections, per server: one per core of this two-core machine. */
const CLIENTS = 2;
/** Requests in flight per connection in the unthrottled runs (SIPp -l): enough to keep both busy. */
const OUTSTANDING = 200;
const WINDOW_LIMIT = `the window of ${OUTSTANDING} outstanding requests per connection over the round-trip time`;

const KINDS = [
  { label: 'OPTIONS, answered statelessly', scenario: 'options-uac.xml' },
  { label: 'MESSAGE, relayed statefully to the UAS over TCP', scenario: 'message-uac.xml' },
];

export const suite: Suite = {
  name: 'messages',
  programs: ['kamailio', 'gcc', 'sipp', 'stunnel4'],
  async run(ctx: SuiteContext): Promise<ResultTable[]> {
    // Unthrottled runs are bounded by count; fixed-rate runs by time.
    const unthrottledMessages = ctx.quick ? 5_000 : 100_000;
    const fixedSeconds = ctx.quick ? 2 : 15;
    return withSippRig(ctx, 'message-uas.xml', async (pair, targets) => {
      const rows: string[][] = [];
      const notes: string[] = [];
      for (const kind of KINDS) {
        const failures = byServer<number>();
        const sippErrors = byServer<string>();
        const uses = byServer<CpuUse>();
        const unthrottled = {
          scenario: kind.scenario,
          rate: 'unthrottled' as const,
          calls: unthrottledMessages,
          outstanding: OUTSTANDING,
          processes: CLIENTS,
        };
        ctx.progress(`messages: ${kind.label}, unthrottled`);
        await warmUp(pair, targets, { ...unthrottled, calls: unthrottledMessages / 10 });
        const highest = await alternate(ctx.rounds, async (name) => {
          const m = await measuredRun(pair.server[name], targets[name], unthrottled);
          failures[name].push(100 * failureRatio(m.uac));
          if (m.uac.failed > 0) sippErrors[name].push(...m.uac.errors);
          uses[name].push(m.use);
          return successRate(m.uac);
        });

        const rate = Math.max(1, Math.round(0.5 * Math.min(highest.sipsd.median, highest.kamailio.median)));
        ctx.progress(`messages: ${kind.label}, ${rate}/s`);
        const fixedFailures = byServer<number>();
        const cpu = await alternate(ctx.rounds, async (name) => {
          const m = await measuredRun(pair.server[name], targets[name], {
            scenario: kind.scenario,
            rate,
            calls: rate * fixedSeconds,
            processes: CLIENTS,
          });
          fixedFailures[name].push(m.uac.failed);
          // SIPp also logs warnings (its open-files advice): only failed runs say why they failed.
          if (m.uac.failed > 0) sippErrors[name].push(...m.uac.errors);
          return (1e6 * m.serverCpuSeconds) / m.uac.successful; // ms per 1,000
        });

        const failed = summaries(failures);
        rows.push(
          compareRow(`${kind.label}: server CPU ms per 1,000 (at ${formatNumber(rate)}/s)`, cpu),
          compareRow(`${kind.label}: highest rate, messages/s`, highest),
          compareRow(`${kind.label}: failed at that rate, %`, failed, false),
        );
        for (const name of SERVER_NAMES) {
          const use = medianUse(uses[name]);
          notes.push(
            `${kind.label}, ${name} at its highest rate: ${formatCpuUse(use)}; bottleneck: ${bottleneck(use, ctx.workers, WINDOW_LIMIT)}.`,
          );
          const lost = fixedFailures[name].reduce((a, b) => a + b, 0);
          if (lost > 0)
            notes.push(`${kind.label}, ${name}: ${lost} messages failed at ${formatNumber(rate)}/s.`);
          const why = [...new Set(sippErrors[name])].slice(0, 3);
          if (why.length > 0) notes.push(`${kind.label}, ${name}: SIPp reported: ${why.join(' / ')}`);
          if (failed[name].max >= 0.1) {
            notes.push(
              `${kind.label}, ${name}: ≥0.1% failed unthrottled, short of the <0.1% bar for its highest rate.`,
            );
          }
        }
      }
      return [
        {
          title: 'Messages over persistent TLS',
          description:
            `SIPp 3.6 load over ${CLIENTS} persistent TLS connections per server (each SIPp process ` +
            '`-t t1` through a local stunnel to the ECDSA listener). Highest rate: unthrottled, at most ' +
            `${OUTSTANDING} requests outstanding per connection (SIPp \`-l\`), successful messages per ` +
            "second, failures from SIPp's statistics (no 200 within 5 s counts as failed). CPU: user+system " +
            'time of all server processes over successful messages, at half the lower highest rate, the ' +
            'same for both servers. Ratio = sipsd / Kamailio.',
          columns: ['Measurement', 'sipsd', 'Kamailio 5.6', 'sipsd / Kamailio'],
          rows,
          notes: [
            ...notes,
            'SIPp and stunnel run on the same two cores as the server; their CPU counts as client, not server.',
          ],
        },
      ];
    });
  },
};
