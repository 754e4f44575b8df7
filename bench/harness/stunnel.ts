// stunnel4 as the TLS side of SIPp, which the Debian build (sip-tester) lacks: SIPp speaks SIP over
// one TCP connection to a local stunnel in client mode, which carries it over TLS to the server, so
// the server sees one persistent TLS connection per SIPp process. In server mode it stands in for
// the proxy (TLS in, TCP out) when the benchmarks measure the path without one.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../test/helpers/ports.js';
import { cpuSeconds } from './proc.js';

export type StunnelMode =
  /** TLS to `connectPort`, verifying the server's certificate for 127.0.0.1 against `caFile`. */
  | { client: true; caFile: string }
  /** TLS terminated with this certificate, plain TCP to `connectPort`. */
  | { client: false; cert: string; key: string };

export interface Stunnel {
  /** Where it accepts plain TCP (client mode) or TLS (server mode) on 127.0.0.1. */
  readonly port: number;
  /** CPU seconds it has used so far (all its threads). */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 10_000;

export async function startStunnel(mode: StunnelMode, connectPort: number): Promise<Stunnel> {
  const dir = mkdtempSync(join(tmpdir(), 'sipsd-bench-stunnel-'));
  const port = await freePort();
  const tls = mode.client
    ? ['client = yes', `CAfile = ${mode.caFile}`, 'verifyChain = yes', 'checkIP = 127.0.0.1']
    : [`cert = ${mode.cert}`, `key = ${mode.key}`];
  const config = join(dir, 'stunnel.conf');
  writeFileSync(
    config,
    [
      'foreground = yes',
      'pid =',
      'debug = 4',
      // SIP messages are small and latency is measured: no Nagle delays on either side.
      'socket = l:TCP_NODELAY=1',
      'socket = r:TCP_NODELAY=1',
      '[sip]',
      `accept = 127.0.0.1:${port}`,
      `connect = 127.0.0.1:${connectPort}`,
      ...tls,
      '',
    ].join('\n'),
  );
  const child = spawn('stunnel4', [config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-10_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let running = true;
  void exited.then(() => (running = false));

  const stop = async () => {
    if (running) {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (running) child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };

  // Ready once it listens; probing with a connection would make a client-mode stunnel open a TLS
  // connection to the server under test.
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!listening(port)) {
    if (!running || Date.now() > deadline) {
      await stop();
      throw new Error(`stunnel did not start:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port, cpuSeconds: () => cpuSeconds([child.pid!]), stop };
}

/** Whether some process listens on 127.0.0.1:port over TCP (from /proc/net/tcp). */
export function listening(port: number): boolean {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const LISTEN = '0A';
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .some((line) => {
      const fields = line.trim().split(/\s+/);
      return fields[1] === local && fields[3] === LISTEN;
    });
}
