// Benchmark of the SIP hot path: parsing, and what a proxy does per message (parse, read the
// routing headers, touch Via/Max-Forwards, serialize). Run: node --import tsx bench/parse.ts
import { pathToFileURL } from 'node:url';
import { parseMessage, serializeMessage } from '../src/sip/index.js';
import { INVITE, OK_200 } from '../test/sip/fixtures.js';

export interface BenchResult {
  name: string;
  opsPerSec: number;
  usPerOp: number;
}

const WARMUP_ITERATIONS = 5_000;
const MAX_ITERATIONS = 200_000;
const MAX_MS = 3_000;
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

function measure(name: string, fn: () => unknown): BenchResult {
  for (let i = 0; i < WARMUP_ITERATIONS; i++) fn();
  let iterations = 0;
  const start = process.hrtime.bigint();
  let elapsedNs = 0n;
  while (iterations < MAX_ITERATIONS && elapsedNs < BigInt(MAX_MS) * 1_000_000n) {
    for (let i = 0; i < BATCH; i++) fn();
    iterations += BATCH;
    elapsedNs = process.hrtime.bigint() - start;
  }
  const seconds = Number(elapsedNs) / 1e9;
  return { name, opsPerSec: Math.round(iterations / seconds), usPerOp: (seconds * 1e6) / iterations };
}

export async function runParseBench(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const [name, fn] of CASES) {
    results.push(measure(name, fn));
    // Let timers and I/O of a host process breathe between cases.
    await new Promise((resolve) => setImmediate(resolve));
  }
  return results;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const results = await runParseBench();
  const width = Math.max(...results.map((r) => r.name.length));
  console.log(`${'case'.padEnd(width)}  ${'msg/s'.padStart(10)}  ${'µs/msg'.padStart(8)}`);
  for (const r of results) {
    console.log(
      `${r.name.padEnd(width)}  ${r.opsPerSec.toLocaleString('en-US').padStart(10)}  ${r.usPerOp.toFixed(2).padStart(8)}`,
    );
  }
}
