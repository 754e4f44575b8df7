// `openssl s_client` as a real TLS peer: a scripted conversation (wait for output, then type), with
// everything it printed returned once it exits or the deadline passes.
import { spawn } from 'node:child_process';

export interface SClientStep {
  /** Wait until the output so far matches. */
  waitFor?: RegExp;
  /** Then type this on its stdin (`R\n` asks for a renegotiation, `Q\n` quits). */
  write?: string;
}

export interface SClientRun {
  /** stdout and stderr interleaved, as an operator would see them. */
  output: string;
  /** Exit code; null when the deadline killed it. */
  code: number | null;
}

export function sClient(
  port: number,
  args: string[],
  steps: SClientStep[] = [],
  timeoutMs = 5000,
): Promise<SClientRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    let next = 0;
    const advance = () => {
      while (next < steps.length) {
        const step = steps[next]!;
        if (step.waitFor && !step.waitFor.test(output)) return;
        if (step.write !== undefined && child.stdin.writable) child.stdin.write(step.write);
        next++;
      }
    };
    const onData = (d: Buffer) => {
      output += d.toString('latin1');
      advance();
    };
    const timer = setTimeout(() => child.kill(), timeoutMs);
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.stdin.on('error', () => undefined); // s_client may exit before everything is typed
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ output, code });
    });
    advance();
  });
}
