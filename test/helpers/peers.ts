// Real loopback peers for end-to-end tests: UDP, TCP and TLS clients that send raw SIP and collect
// what comes back, plus a started server on a temporary data folder with its own test PKI.
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { readFileSync } from 'node:fs';
import { validateConfigText } from '../../src/config/load.js';
import { createLogger, silentLogger } from '../../src/log/logger.js';
import { createTestPki, type TestPkiFiles as TestPki } from '../../src/pki/index.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { Signal } from './signal.js';
import { after } from 'node:test';

/** Silent unless TEST_LOG is set, so a failing test can be rerun with the server's logs. */
export const testLog = process.env['TEST_LOG']
  ? createLogger({ level: 'debug', destination: 2 })
  : silentLogger;

let seq = 0;

/** A well-formed OPTIONS over the given transport, with a unique Call-ID and branch. */
export function options(proto: 'UDP' | 'TCP' | 'TLS', extra = ''): string {
  seq++;
  return (
    `OPTIONS sip:127.0.0.1 SIP/2.0\r\n` +
    `Via: SIP/2.0/${proto} 127.0.0.1:9;branch=z9hG4bK-test-${seq};rport\r\n` +
    `Max-Forwards: 70\r\n` +
    `From: <sip:tester@127.0.0.1>;tag=t${seq}\r\n` +
    `To: <sip:127.0.0.1>\r\n` +
    `Call-ID: call-${seq}@test\r\n` +
    `CSeq: ${seq} OPTIONS\r\n` +
    extra +
    `Content-Length: 0\r\n\r\n`
  );
}

export function statusOf(response: string): number {
  const m = /^SIP\/2\.0 (\d{3}) /.exec(response);
  return m ? Number(m[1]) : NaN;
}

export async function udpRequest(port: number, message: string | Buffer, timeoutMs = 2000): Promise<string> {
  const sock = createSocket('udp4');
  try {
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no UDP answer')), timeoutMs);
      sock.on('message', (m) => {
        clearTimeout(timer);
        resolve(m.toString());
      });
      sock.send(message, port, '127.0.0.1');
    });
  } finally {
    sock.close();
  }
}

/** A stream client that accumulates everything received. */
export class StreamPeer {
  received = '';
  closed = false;
  private readonly signal = new Signal();

  constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.received += d.toString('latin1');
      this.signal.notify();
    });
    socket.on('close', () => {
      this.closed = true;
      this.signal.notify();
    });
    socket.on('error', () => undefined);
  }

  static async tcp(port: number): Promise<StreamPeer> {
    const s = netConnect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject));
    return new StreamPeer(s);
  }

  static async tls(port: number, opts: ConnectionOptions): Promise<StreamPeer> {
    const s = tlsConnect({ host: '127.0.0.1', port, ...opts });
    await new Promise<void>((resolve, reject) => s.once('secureConnect', resolve).once('error', reject));
    return new StreamPeer(s);
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Waits until `pred` holds for what was received (or the socket closes / time runs out). */
  async until(pred: (received: string) => boolean, timeoutMs = 2000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.received)) {
      if (this.closed)
        throw new Error(`connection closed; received so far: ${JSON.stringify(this.received)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; received so far: ${JSON.stringify(this.received)}`);
      await this.signal.wait(left);
    }
    return this.received;
  }

  /** Resolves when the server closes the connection. */
  async untilClosed(timeoutMs = 2000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('connection still open');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

export interface TestServer {
  server: RunningServer;
  pki: TestPki;
  dir: string;
  port(proto: 'udp' | 'tcp' | 'tls'): number;
  stop(): Promise<void>;
}

/**
 * Starts sipsd on ephemeral loopback ports with a fresh test PKI (or a shared one, so two instances
 * trust each other); `yaml` adds keys.
 */
export async function startTestServer(
  yaml = '',
  shared?: TestPki,
  /** More `tls_domains` entries (YAML list items), after the two defaults. */
  extraDomains = '',
): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'sipsd-test-'));
  const pki = shared ?? (await createTestPki(join(dir, 'pki')));
  const listen = /^listen:/m.test(yaml) ? '' : 'listen: [udp:127.0.0.1:0, tcp:127.0.0.1:0, tls:127.0.0.1:0]';
  const text = `
${listen}
mi: { enabled: false }
tls_domains:
  - { name: default, type: server, certificate: ${pki.serverCertFile}, private_key: ${pki.serverKeyFile}, ca_list: ${pki.caFile}, verify_cert: true, require_cert: false }
  - { name: default, type: client, certificate: ${pki.clientCertFile}, private_key: ${pki.clientKeyFile}, ca_list: ${pki.caFile}, verify_cert: true }
${extraDomains}
${yaml}`;
  const file = join(dir, 'sipsd.yaml');
  const loaded = validateConfigText(text, file);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  const server = await startServer(loaded.config, file, testLog);
  return {
    server,
    pki,
    dir,
    port: (proto) => server.listeners.find((l) => l.proto === proto)!.port,
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Starts test servers for one test file; all of them are stopped when the file ends. Arguments are
 * those of startTestServer.
 */
export function serverPool(): (yaml?: string, extraDomains?: string) => Promise<TestServer> {
  const started: TestServer[] = [];
  after(async () => {
    for (const s of started) await s.stop();
  });
  return async (yaml = '', extraDomains = '') => {
    const t = await startTestServer(yaml, undefined, extraDomains);
    started.push(t);
    return t;
  };
}

/** TLS options of a client that trusts the test CA (optionally presenting the test client certificate). */
export function tlsClientOptions(pki: TestPki, withClientCert = false): ConnectionOptions {
  return {
    ca: readFileSync(pki.caFile),
    servername: 'localhost',
    ...(withClientCert
      ? { cert: readFileSync(pki.clientCertFile), key: readFileSync(pki.clientKeyFile) }
      : {}),
  };
}
