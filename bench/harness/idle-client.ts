// Holds thousands of idle TLS connections to a server, for the idle-memory benchmark. No stock tool
// does this, so it is ours: a child process (forked from this file) opens N TLS 1.3 connections
// with bounded concurrency, sends one OPTIONS keepalive on each and waits for its answer (so the
// server has really parsed and routed a message on every connection), then keeps them open doing
// nothing. Being a child process keeps its file descriptors (one per connection, against the
// per-process open-file limit) and its memory out of the benchmark runner's.
import { fork, type ChildProcess } from 'node:child_process';
import { dirname } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { connectTls } from './handshake-client.js';

export interface IdleOpenOptions {
  port: number;
  count: number;
  /** Handshakes in flight at once. */
  concurrency: number;
  /** Send one OPTIONS on each connection and wait for its 200. */
  keepalive: boolean;
  /** For opening all of them. */
  timeLimitMs: number;
}

export interface IdleOpenReport {
  established: number;
  failed: number;
  /** Keepalives answered with 200. */
  answered: number;
  /** The first few distinct failure reasons. */
  errors: string[];
  seconds: number;
}

export interface IdleStatus {
  /** Connections still open. */
  open: number;
  /** Connections the server closed after they were established. */
  closedByServer: number;
}

type ToChild = { type: 'open'; options: IdleOpenOptions } | { type: 'status' };
type FromChild = { type: 'opened'; report: IdleOpenReport } | { type: 'status'; status: IdleStatus };

const THIS_FILE = fileURLToPath(import.meta.url);
const REPO_DIR = dirname(dirname(dirname(THIS_FILE)));

/** The parent's handle on a client process holding connections. */
export class IdleClient {
  private constructor(
    private readonly child: ChildProcess,
    readonly report: IdleOpenReport,
  ) {}

  /** Forks the client and resolves once it has opened (or failed to open) every connection. */
  static async open(options: IdleOpenOptions): Promise<IdleClient> {
    const child = fork(THIS_FILE, ['--idle-client'], {
      cwd: REPO_DIR,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    try {
      const reply = await request(child, { type: 'open', options }, options.timeLimitMs + 30_000);
      if (reply.type !== 'opened') throw new Error(`idle client: unexpected ${reply.type} reply`);
      return new IdleClient(child, reply.report);
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
  }

  async status(): Promise<IdleStatus> {
    const reply = await request(this.child, { type: 'status' }, 30_000);
    if (reply.type !== 'status') throw new Error(`idle client: unexpected ${reply.type} reply`);
    return reply.status;
  }

  /** Ends the process, and with it every connection (the kernel closes them all at once). */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGKILL');
    await gone;
  }
}

function request(child: ChildProcess, message: ToChild, timeoutMs: number): Promise<FromChild> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => finish(() => reject(new Error(`idle client: no answer in ${timeoutMs} ms`))),
      timeoutMs,
    );
    const onMessage = (m: FromChild) => finish(() => resolve(m));
    const onExit = (code: number | null) => finish(() => reject(new Error(`idle client exited (${code})`)));
    const finish = (fn: () => void) => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      fn();
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.send(message);
  });
}

// ---- the child process ----

function options(port: number, local: number, n: number): string {
  return [
    `OPTIONS sip:127.0.0.1:${port};transport=tls SIP/2.0`,
    `Via: SIP/2.0/TLS 127.0.0.1:${local};branch=z9hG4bK-idle-${n};rport`,
    'Max-Forwards: 70',
    `From: <sip:idle@bench.sipsd.test>;tag=idle${n}`,
    `To: <sip:127.0.0.1:${port}>`,
    `Call-ID: idle-${n}@bench.sipsd.test`,
    'CSeq: 1 OPTIONS',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/** Sends one keepalive and waits for a 200 (bounded); resolves whether it came. */
function keepalive(socket: TLSSocket, port: number, n: number): Promise<boolean> {
  return new Promise((resolve) => {
    let received = '';
    const timer = setTimeout(() => done(false), 10_000);
    const onData = (d: Buffer) => {
      received += d.toString('latin1');
      if (received.includes('\r\n\r\n')) done(received.startsWith('SIP/2.0 200'));
    };
    const onClose = () => done(false);
    const done = (answered: boolean) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve(answered);
    };
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.write(options(port, socket.localPort ?? 0, n));
  });
}

async function openAll(o: IdleOpenOptions, status: IdleStatus): Promise<IdleOpenReport> {
  const report: IdleOpenReport = { established: 0, failed: 0, answered: 0, errors: [], seconds: 0 };
  const started = performance.now();
  const deadline = started + o.timeLimitMs;
  let issued = 0;
  const lane = async () => {
    while (issued < o.count && performance.now() < deadline) {
      const n = issued++;
      let socket: TLSSocket;
      try {
        socket = await connectTls({ port: o.port, timeoutMs: 15_000 });
      } catch (err) {
        report.failed++;
        const reason = (err as Error).message;
        if (report.errors.length < 5 && !report.errors.includes(reason)) report.errors.push(reason);
        continue;
      }
      report.established++;
      status.open++;
      socket.on('error', () => undefined); // a reset shows as the close below
      socket.once('close', () => {
        status.open--;
        status.closedByServer++;
      });
      if (o.keepalive && (await keepalive(socket, o.port, n))) report.answered++;
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, lane));
  report.seconds = (performance.now() - started) / 1000;
  return report;
}

if (process.argv[1] === THIS_FILE && process.argv[2] === '--idle-client') {
  const status: IdleStatus = { open: 0, closedByServer: 0 };
  const reply = (m: FromChild) => process.send!(m);
  process.on('message', (m: ToChild) => {
    if (m.type === 'status') reply({ type: 'status', status });
    else void openAll(m.options, status).then((report) => reply({ type: 'opened', report }));
  });
  // The parent gone (crashed runner): nothing left to hold the connections for.
  process.on('disconnect', () => process.exit(0));
}
