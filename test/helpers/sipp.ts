// SIPp (apt-get install sip-tester) as a scripted user agent: runs one scenario file to the end,
// bounded in time, and reports its exit code (0: every call succeeded) with what it printed.
import { spawn, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';

export const sippSkip: string | false =
  spawnSync('sipp', ['-v']).error === undefined ? false : 'needs SIPp: apt-get install sip-tester';

export function sipp(args: string[], timeoutS = 20): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'sipp',
      ['-i', '127.0.0.1', '-nostdin', '-timeout', `${timeoutS}s`, '-timeout_error', ...args],
      // SIPp may write files next to where it runs: never into the repository.
      { stdio: ['ignore', 'pipe', 'pipe'], cwd: tmpdir() },
    );
    let output = '';
    const keep = (d: Buffer) => (output = (output + d.toString('latin1')).slice(-20_000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}
