// The SIP hot path in this process: parsing, and what a proxy does per message (parse, read the
// routing headers, touch Via/Max-Forwards, serialize). Kamailio has no parser-only benchmark to
// set beside it; its whole cost per message is in the messages suite.
import { INVITE, OK_200 } from '../../test/sip/fixtures.js';
import { formatNumber, formatSummary, summarize } from '../harness/stats.js';
import type { Suite } from '../harness/suite.js';

// The code the server runs: tsc's build, not this process's on-the-fly transpile (tsx names every
// function through a helper call, which made the parser look about an eighth slower than it is).
const { parseMessage, serializeMessage } = (await import(
  new URL('../../dist/sip/index.js', import.meta.url).href
)) as typeof import('../../src/sip/index.js');

const WARMUP_ITERATIONS = 5_000;
const MAX_ITERATIONS = 200_000;
const BATCH = 1_000;

const invite = Buffer.from(INVITE);
const ok200 = Buffer.from(OK_200);

function parsed(data: Buffer) {
  const result = parseMessage(data);
  if (!result.ok) throw new Error(`benchmark message does not parse: ${result.error.reason}`);
  return result.message;
}

/** What a stateless proxy does with a request: read the routing headers, add its Via, forward. */
function proxyRequest(data: Buffer): Buffer {
  const msg = parsed(data);
  msg.topVia();
  msg.from();
  msg.to();
  msg.cseq();
  const maxForwards = msg.maxForwards() ?? 70;
  msg.setHeader('Max-Forwards', String(maxForwards - 1));
  msg.addHeader('Via', 'SIP/2.0/TLS 198.51.100.1:5061;branch=z9hG4bK-sipsd-bench', { first: true });
  return serializeMessage(msg);
}

/** ...and with a response: check the top Via, pop it, forward. */
function proxyResponse(data: Buffer): Buffer {
  const msg = parsed(data);
  msg.topVia();
  msg.from();
  msg.to();
  msg.cseq();
  msg.removeFirstHeaderValue('Via');
  return serializeMessage(msg);
}

const CASES: Array<[string, () => unknown]> = [
  ['parse INVITE (SDP, 15 headers)', () => parsed(invite)],
  ['parse 200 OK', () => parsed(ok200)],
  ['proxy INVITE: parse+access+serialize', () => proxyRequest(invite)],
  ['proxy 200 OK: parse+access+serialize', () => proxyResponse(ok200)],
];

/** Messages per second for `fn`, over at most MAX_ITERATIONS or `maxMs`. */
function measure(fn: () => unknown, maxMs: number): number {
  for (let i = 0; i < WARMUP_ITERATIONS; i++) fn();
  let iterations = 0;
  const start = process.hrtime.bigint();
  let elapsedNs = 0n;
  while (iterations < MAX_ITERATIONS && elapsedNs < BigInt(maxMs) * 1_000_000n) {
    for (let i = 0; i < BATCH; i++) fn();
    iterations += BATCH;
    elapsedNs = process.hrtime.bigint() - start;
  }
  return iterations / (Number(elapsedNs) / 1e9);
}

export const suite: Suite = {
  name: 'parser',
  programs: [],
  servers: false,
  async run(ctx) {
    const maxMs = ctx.quick ? 300 : 3_000;
    const rows: string[][] = [];
    for (const [name, fn] of CASES) {
      ctx.progress(`parser: ${name}`);
      const rates: number[] = [];
      for (let round = 0; round < ctx.rounds; round++) {
        rates.push(measure(fn, maxMs));
        // Let timers and I/O of this process breathe between rounds.
        await new Promise((resolve) => setImmediate(resolve));
      }
      const rate = summarize(rates);
      rows.push([name, formatSummary(rate), formatNumber(1e6 / rate.median)]);
    }
    return [
      {
        title: 'SIP parser',
        description:
          `In the benchmark process, ${ctx.rounds} rounds of up to ${MAX_ITERATIONS.toLocaleString('en-US')} ` +
          `messages or ${maxMs} ms after ${WARMUP_ITERATIONS.toLocaleString('en-US')} warm-up runs; median (min–max).`,
        columns: ['case', 'messages/s', 'µs/message (median)'],
        rows,
      },
    ];
  },
};
