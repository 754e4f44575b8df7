// Test peers for the transaction tests: a sipsd whose script relays through a TransactionLayer, and
// real loopback UACs/UASs over UDP, TCP and TLS that record every message with its arrival time.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type TlsOptions } from 'node:tls';
import { after } from 'node:test';
import {
  createResponse,
  DEFAULT_SIP_LIMITS,
  parseMessage,
  serializeMessage,
  StreamFramer,
  type SipMessage,
  type SipRequest,
  type SipResponse,
} from '../../src/sip/index.js';
import type { RequestContext } from '../../src/router/context.js';
import type { Script } from '../../src/router/script.js';
import { StatelessCore } from '../../src/router/stateless.js';
import {
  defaultTmSettings,
  TransactionLayer,
  type TargetLocator,
  type TmSettings,
} from '../../src/tm/index.js';
import { startTestServer, testLog, type TestServer } from '../helpers/peers.js';
import { Signal } from '../helpers/signal.js';

/** What to close when the test file ends (registered at load time, so on the file, not on a hook). */
const cleanups: Array<() => void | Promise<void>> = [];
after(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Short timers so a whole 64*T1 fits in a test: T1 20 ms (64*T1 = 1.28 s), T2 80 ms, T4 100 ms. */
export const FAST: Partial<TmSettings> = { t1: 20, t2: 80, t4: 100 };

export type Route = (ctx: RequestContext, tm: TransactionLayer) => void | Promise<void>;

export interface Proxy {
  tm: TransactionLayer;
  server: TestServer;
  /** Requests the script saw (those the transaction layer did not take). */
  routed: SipRequest[];
  udp: number;
  tcp: number;
  tls: number;
}

/**
 * A running sipsd whose script puts the transaction layer in front, as the router will: requests
 * it takes never reach `route`, responses it takes are not relayed statelessly. Stopped after the
 * test file.
 */
export async function startProxy(
  route: Route,
  settings: Partial<TmSettings> = {},
  locate?: TargetLocator,
): Promise<Proxy> {
  const server = await startTestServer();
  const transport = server.server.transport;
  const core = new StatelessCore(transport, 5061);
  const tm = new TransactionLayer({
    transport,
    stateless: core,
    settings: { ...defaultTmSettings(), ...FAST, ...settings },
    tlsPort: 5061,
    log: testLog,
    ...(locate && { locate }),
  });
  const routed: SipRequest[] = [];
  const script: Script = {
    async request(ctx) {
      if (tm.handleRequest(ctx.msg, ctx.inbound)) return;
      routed.push(ctx.msg);
      await route(ctx, tm);
    },
    reply(ctx) {
      if (tm.handleResponse(ctx.msg)) ctx.drop();
    },
  };
  server.server.router.setScript(script);
  cleanups.push(async () => {
    tm.stop();
    await server.stop();
  });
  return { tm, server, routed, udp: server.port('udp'), tcp: server.port('tcp'), tls: server.port('tls') };
}

/** A message a peer received. */
export class Received {
  constructor(
    readonly msg: SipMessage,
    readonly text: string,
    /** performance.now() at arrival. */
    readonly at: number,
    /** Sends on the way the message came (same UDP socket and sender, same connection). */
    readonly reply: (data: string | Buffer) => void,
  ) {}

  get request(): SipRequest {
    if (!this.msg.isRequest) throw new Error(`not a request: ${this.text.split('\r\n')[0]}`);
    return this.msg;
  }

  get response(): SipResponse {
    if (this.msg.isRequest) throw new Error(`not a response: ${this.text.split('\r\n')[0]}`);
    return this.msg;
  }
}

export const isRequest = (method: string) => (r: Received) => r.msg.isRequest && r.msg.method === method;
export const isStatus = (status: number) => (r: Received) => !r.msg.isRequest && r.msg.status === status;

/** Everything a peer received, and bounded waits on it. */
class Inbox {
  readonly received: Received[] = [];
  private readonly signal = new Signal();

  protected take(data: Buffer, reply: (d: string | Buffer) => void): void {
    const parsed = parseMessage(data);
    if (!parsed.ok) throw new Error(`peer received an unparseable message: ${parsed.error.reason}`);
    this.received.push(new Received(parsed.message, data.toString(), performance.now(), reply));
    this.signal.notify();
  }

  all(pred: (r: Received) => boolean): Received[] {
    return this.received.filter(pred);
  }

  /** Waits until `count` received messages satisfy `pred`; returns them (fails after `timeoutMs`). */
  async waitFor(pred: (r: Received) => boolean, count = 1, timeoutMs = 3000): Promise<Received[]> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.all(pred);
      if (found.length >= count) return found;
      const left = deadline - performance.now();
      if (left <= 0) {
        const seen = this.received.map((r) => r.text.split('\r\n')[0]).join(' | ');
        throw new Error(`timed out waiting for ${count} matching message(s); received: ${seen}`);
      }
      await this.signal.wait(left);
    }
  }

  /** The first matching message. */
  async next(pred: (r: Received) => boolean, timeoutMs = 3000): Promise<Received> {
    return (await this.waitFor(pred, 1, timeoutMs))[0]!;
  }
}

export class UdpPeer extends Inbox {
  private constructor(
    private readonly socket: UdpSocket,
    readonly port: number,
  ) {
    super();
    socket.on('message', (data, rinfo) => this.take(data, (d) => socket.send(d, rinfo.port, rinfo.address)));
  }

  static async open(): Promise<UdpPeer> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const peer = new UdpPeer(socket, socket.address().port);
    cleanups.push(() => {
      socket.close();
    });
    return peer;
  }

  send(data: string | Buffer, port: number): void {
    this.socket.send(data, port, '127.0.0.1');
  }
}

/** A TCP or TLS listener that records what arrives on its connections and answers on them. */
export class StreamUas extends Inbox {
  connections = 0;
  port = 0;
  private readonly sockets = new Set<Socket>();
  private readonly server: TcpServer;

  private constructor(tls: TlsOptions | undefined) {
    super();
    const accept = (socket: Socket) => this.accept(socket);
    this.server = tls ? createTlsServer(tls, accept) : createTcpServer(accept);
  }

  static async listen(tls?: TlsOptions): Promise<StreamUas> {
    const peer = new StreamUas(tls);
    await new Promise<void>((resolve) => peer.server.listen(0, '127.0.0.1', resolve));
    const address = peer.server.address();
    peer.port = typeof address === 'object' && address ? address.port : 0;
    cleanups.push(() => {
      for (const socket of peer.sockets) socket.destroy();
      return new Promise<void>((resolve) => peer.server.close(() => resolve()));
    });
    return peer;
  }

  private accept(socket: Socket): void {
    this.connections++;
    this.sockets.add(socket);
    const framer = new StreamFramer({
      limits: DEFAULT_SIP_LIMITS,
      maxChunks: 0,
      crlfPingPong: false,
      crlfDrop: true,
    });
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      for (const event of framer.push(chunk)) {
        if (event.type === 'message') this.take(event.data, (d) => socket.write(d));
      }
    });
  }
}

/** Answers a received request with `status` (a To tag for all but 100). */
export function answer(r: Received, status: number, toTag = 'uas-tag'): SipResponse {
  const response = createResponse(r.request, status, undefined, [], toTag);
  r.reply(serializeMessage(response));
  return response;
}

let serial = 0;

/** One UAC transaction's fields, and the requests that belong to it (retransmission, CANCEL, ACK). */
export class UacRequest {
  readonly branch: string;
  readonly callId: string;
  readonly fromTag: string;
  readonly cseq: number;

  constructor(
    readonly method: string,
    /** The UAC's own port, written in its Via so responses come back to it. */
    readonly viaPort: number,
    readonly uri = 'sip:bob@example.test',
    readonly proto: 'UDP' | 'TCP' | 'TLS' = 'UDP',
  ) {
    serial++;
    this.branch = `z9hG4bK-uac-${process.pid}-${serial}`;
    this.callId = `tm-${process.pid}-${serial}@test`;
    this.fromTag = `from-${serial}`;
    this.cseq = serial;
  }

  /** The request itself; the same text each time, as a retransmission is. */
  text(extra = ''): string {
    return this.build(this.method, this.branch, '', extra);
  }

  /** §9.1: same branch, Request-URI, Call-ID, From, To, CSeq number. */
  cancel(): string {
    return this.build('CANCEL', this.branch, '');
  }

  /** The ACK of a final response: same branch for a non-2xx one, a new branch for a 2xx. */
  ack(response: SipMessage, newBranch = false): string {
    const toTag = response.to().tag ?? '';
    return this.build('ACK', newBranch ? `${this.branch}-ack` : this.branch, toTag);
  }

  private build(method: string, branch: string, toTag: string, extra = ''): string {
    return (
      `${method} ${this.uri} SIP/2.0\r\n` +
      `Via: SIP/2.0/${this.proto} 127.0.0.1:${this.viaPort};branch=${branch};rport\r\n` +
      `Max-Forwards: 70\r\n` +
      `From: <sip:alice@example.test>;tag=${this.fromTag}\r\n` +
      `To: <${this.uri}>${toTag ? `;tag=${toTag}` : ''}\r\n` +
      `Call-ID: ${this.callId}\r\n` +
      `CSeq: ${this.cseq} ${method}\r\n` +
      extra +
      `Content-Length: 0\r\n\r\n`
    );
  }
}

/** Gaps between consecutive arrival times, in ms. */
export function gaps(items: readonly Received[]): number[] {
  return items.slice(1).map((r, i) => r.at - items[i]!.at);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
