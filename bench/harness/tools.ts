// External programs the benchmarks drive: checked up front (and installed from Debian when we run
// as root), and run with a hard time limit so no benchmark can hang.
import { spawn, spawnSync } from 'node:child_process';

/** Debian packages that provide each program the benchmarks run. */
const PACKAGES: Record<string, string> = {
  openssl: 'openssl',
  kamailio: 'kamailio kamailio-tls-modules',
  sipp: 'sip-tester',
  stunnel4: 'stunnel4',
  gcc: 'gcc libc6-dev',
};

const has = (program: string) => spawnSync('sh', ['-c', `command -v ${program}`]).status === 0;

/** Installs missing programs when root (apt-get), or throws naming the packages to install. */
export function ensurePrograms(programs: string[]): void {
  const missing = programs.filter((p) => !has(p));
  if (missing.length === 0) return;
  const packages = missing.flatMap((p) => (PACKAGES[p] ?? p).split(' '));
  if (process.getuid?.() !== 0) {
    throw new Error(`the benchmarks need ${missing.join(', ')}: apt-get install ${packages.join(' ')}`);
  }
  console.error(`installing ${packages.join(' ')} ...`);
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', '--no-install-recommends', ...packages],
  ]) {
    const r = spawnSync('apt-get', args, {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (r.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed`);
  }
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs a program to completion, killing it after `timeoutMs`. */
export function run(
  program: string,
  args: string[],
  options: { timeoutMs: number; cwd?: string; env?: NodeJS.ProcessEnv },
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { cwd: options.cwd, env: options.env ?? process.env });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-20_000)));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}
