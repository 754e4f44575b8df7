// `npm run bench [-- suite ...] [--rounds N] [--workers N,M] [--quick] [--profile DIR] [--no-write]`: runs the
// benchmark suites one after another (never two at once: they share the CPUs they measure), prints
// each table as it is done, and rewrites those suites' sections of bench/RESULTS.md.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { describeMachine } from './harness/machine.js';
import { processTree } from './harness/proc.js';
import { createBenchPki } from './harness/pki.js';
import { renderTable, type ResultTable } from './harness/report.js';
import { updateResults } from './harness/results-file.js';
import type { Suite } from './harness/suite.js';
import { ensurePrograms } from './harness/tools.js';
import { suite as calls } from './suites/calls.js';
import { suite as domains } from './suites/domains.js';
import { suite as handshakes } from './suites/handshakes.js';
import { suite as idle } from './suites/idle.js';
import { suite as messages } from './suites/messages.js';
import { suite as parser } from './suites/parser.js';

const SUITES: Suite[] = [handshakes, messages, calls, idle, domains, parser];

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));

const { values, positionals } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    workers: { type: 'string', default: '1,2' },
    quick: { type: 'boolean', default: false },
    profile: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
  },
  allowPositionals: true,
});

const unknown = positionals.filter((p) => !SUITES.some((s) => s.name === p));
if (unknown.length > 0) {
  console.error(`unknown suite ${unknown.join(', ')}; suites: ${SUITES.map((s) => s.name).join(', ')}`);
  process.exit(2);
}
const selected = positionals.length > 0 ? SUITES.filter((s) => positionals.includes(s.name)) : SUITES;
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) {
  console.error(`--rounds must be a positive integer, got ${values.rounds}`);
  process.exit(2);
}
/** `--workers 1,2`: every suite with servers runs once per count, its tables named with it. */
const workerCounts = values.workers.split(',').map(Number);
if (workerCounts.some((n) => !Number.isInteger(n) || n < 1 || n > 63)) {
  console.error(`--workers must be whole numbers from 1 to 63, separated by commas; got ${values.workers}`);
  process.exit(2);
}
if (!existsSync(join(BENCH_DIR, '..', 'dist', 'cli', 'main.js'))) {
  console.error('sipsd is not built: run `npm run build` (npm run bench does it first)');
  process.exit(2);
}

ensurePrograms([...new Set(selected.flatMap((s) => s.programs))]);
const machine = describeMachine();
console.error(machine.join('\n'));
const pki = await createBenchPki();

/**
 * A signal to this process alone (not its group, as Ctrl-C in a terminal sends) would leave the
 * servers, SIPp and stunnel it started running with the ports and CPUs the next run measures:
 * every descendant is stopped, then killed if it lingers.
 */
async function stopDescendants(signal: NodeJS.Signals): Promise<never> {
  console.error(`${signal}: stopping the servers and load generators this run started`);
  const others = () => processTree(process.pid).filter((pid) => pid !== process.pid);
  const kill = (pid: number, s: NodeJS.Signals) => {
    try {
      process.kill(pid, s);
    } catch {
      // already gone
    }
  };
  others().forEach((pid) => kill(pid, 'SIGTERM'));
  for (let waited = 0; waited < 3000 && others().length > 0; waited += 100)
    await new Promise((r) => setTimeout(r, 100));
  others().forEach((pid) => kill(pid, 'SIGKILL'));
  pki.remove();
  process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
}
process.once('SIGINT', (s) => void stopDescendants(s));
process.once('SIGTERM', (s) => void stopDescendants(s));
const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim();
try {
  for (const suite of selected) {
    const started = Date.now();
    const tables: ResultTable[] = [];
    const counts = suite.servers === false ? workerCounts.slice(0, 1) : workerCounts;
    for (const workers of counts) {
      const ran = await suite.run({
        pki,
        rounds: values.quick ? 1 : rounds,
        workers,
        quick: values.quick,
        ...(values.profile ? { cpuProfileDir: values.profile } : {}),
        progress: (message) =>
          console.error(`[${new Date().toISOString().slice(11, 19)}] ${message} (workers: ${workers})`),
      });
      const named =
        suite.servers === false ? '' : ` — ${workers} worker${workers === 1 ? '' : 's'} per server`;
      tables.push(...ran.map((t) => ({ ...t, title: `${t.title}${named}` })));
    }
    const text = tables.map(renderTable).join('\n');
    console.log(`\n${text}`);
    const minutes = ((Date.now() - started) / 60_000).toFixed(1);
    const section =
      `## ${suite.name}\n\nMeasured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC in ${minutes} min ` +
      `by \`${command}\`.\n\n${machine.map((l) => `- ${l}`).join('\n')}\n\n${text}`;
    // Written as each suite ends, so a run stopped halfway keeps what it measured.
    if (!values.quick && !values['no-write']) {
      updateResults(
        join(BENCH_DIR, 'RESULTS.md'),
        new Map([[suite.name, section]]),
        SUITES.map((s) => s.name),
      );
      console.error(`${suite.name}: results written to bench/RESULTS.md`);
    }
  }
} finally {
  pki.remove();
}
