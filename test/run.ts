// The test command, `npm test [-- file-or-folder... --node-test-option=value...]`: starts private
// PostgreSQL and MariaDB servers for the SQL tests (test/db/servers.ts), runs the test files (all,
// or those named and those under the folders named) with `node --test`, one file at a time, the
// servers' URLs in the environment, and stops the servers afterwards, also on SIGINT/SIGTERM.
// Arguments starting with `-` go to `node --test` (give values with `=`). The exit code is the
// tests'; a server that is installed but does not start fails the run too. The servers are started
// here, once, because `node --test` runs each file in a process of its own.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestDatabaseServers } from './db/servers.js';

const say = (line: string) => process.stderr.write(`test/run.ts: ${line}\n`);

function testFilesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? testFilesUnder(join(dir, e.name)) : [join(dir, e.name)]))
    .filter((f) => f.endsWith('.test.ts'))
    .sort();
}

/** The files named, and the test files in the folders named; all of them when none is. */
function selectFiles(paths: string[]): string[] {
  if (paths.length === 0)
    return testFilesUnder(relative(process.cwd(), fileURLToPath(new URL('.', import.meta.url))));
  const files = paths.flatMap((p) => {
    const stat = statSync(p, { throwIfNoEntry: false });
    if (!stat) throw new Error(`${p}: no such file or folder`);
    return stat.isDirectory() ? testFilesUnder(p) : [p];
  });
  return [...new Set(files)];
}

const signalNumber = (signal: NodeJS.Signals) => constants.signals[signal] ?? 1;

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  let files: string[];
  try {
    files = selectFiles(args.filter((a) => !a.startsWith('-')));
  } catch (err) {
    say((err as Error).message);
    return 2;
  }
  if (files.length === 0) {
    say('no *.test.ts files selected');
    return 2;
  }

  const servers = new TestDatabaseServers(say);
  let tests: ChildProcess | undefined;
  let signalled: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      // A second one: stop waiting for the tests to wind down.
      tests?.kill('SIGKILL');
      return;
    }
    signalled = signal;
    say(`${signal}: stopping the tests and the database servers`);
    // A terminal's Ctrl-C reached the tests already; a `kill` of this process did not.
    // While the servers start, stopping them ends start() early.
    if (tests) tests.kill(signal);
    else void servers.stop();
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);

  try {
    await servers.start();
    if (signalled) return 128 + signalNumber(signalled);
    const nodeArgs = ['--import', 'tsx', '--test', '--test-concurrency=1'];
    nodeArgs.push(...args.filter((a) => a.startsWith('-')), ...files);
    tests = spawn(process.execPath, nodeArgs, { stdio: 'inherit', env: { ...process.env, ...servers.env } });
    const code = await new Promise<number>((resolve) => {
      tests!.once('exit', (code, signal) => resolve(code ?? 128 + signalNumber(signal ?? 'SIGTERM')));
      tests!.once('error', (err) => {
        say(`cannot run node --test: ${err.message}`);
        resolve(1);
      });
    });
    if (signalled) return 128 + signalNumber(signalled);
    if (code === 0 && servers.failures.length > 0) {
      say(`failing the run: ${servers.failures.join(' and ')} installed but not started (see above)`);
      return 1;
    }
    return code;
  } finally {
    await servers.stop();
  }
}

process.exit(await main());
