// One TCP or TLS connection: framing of the byte stream into SIP messages, keepalive answers, the
// idle/message/send timers, and ordered writes (queued while an outbound connection is opening).
import type { Socket } from 'node:net';
import { StreamFramer, type SipLimits } from '../sip/index.js';
import type { ConnectionView } from './events.js';
import type { Endpoint, TlsSessionInfo } from './types.js';

export interface StreamSettings {
  limits: SipLimits;
  /** tls_max_msg_chunks (0 = unlimited). */
  maxChunks: number;
  crlfPingPong: boolean;
  crlfDrop: boolean;
  /** connection_timeout in ms; undefined = never. */
  idleTimeoutMs: number | undefined;
  /** tcp_max_msg_time in ms: a started message must be complete within it. */
  messageTimeoutMs: number;
  /** tls_send_timeout in ms: writes must make progress within it. */
  sendTimeoutMs: number;
}

export type ConnectionState = 'connecting' | 'open' | 'closed';

export interface ConnectionEvents {
  onMessage(conn: StreamConnection, data: Buffer): void;
  onClose(conn: StreamConnection, reason: string): void;
}

const CRLF = Buffer.from('\r\n');

interface PendingWrite {
  data: Buffer;
  resolve: () => void;
  reject: (err: Error) => void;
}

let nextId = 1;

export class StreamConnection implements ConnectionView {
  readonly id = nextId++;
  readonly createdAt = Date.now();
  state: ConnectionState;
  tls: TlsSessionInfo | undefined;
  /** Extra lookup keys (RFC 5923 Via alias) under which the table also finds this connection. */
  readonly aliases = new Set<string>();
  closeReason: string | undefined;
  /** Lone CRLF keepalives received (counted unless tls_crlf_drop is on). */
  keepalives = 0;
  /** NSS key-log lines of the TLS session, when a tracer asked for them (see TransportLayer.observe). */
  keyLog: readonly string[] = [];
  private readonly framer: StreamFramer;
  private readonly pending: PendingWrite[] = [];
  private messageTimer: NodeJS.Timeout | undefined;
  private sendTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly proto: 'tcp' | 'tls',
    readonly direction: 'in' | 'out',
    readonly socket: Socket,
    public local: Endpoint,
    readonly remote: Endpoint,
    private readonly settings: StreamSettings,
    private readonly events: ConnectionEvents,
    state: ConnectionState,
  ) {
    this.state = state;
    this.framer = new StreamFramer({
      limits: settings.limits,
      maxChunks: settings.maxChunks,
      crlfPingPong: settings.crlfPingPong,
      crlfDrop: settings.crlfDrop,
    });
    socket.setNoDelay(true);
    socket.on('error', (err) => this.destroy(`socket error: ${err.message}`));
    socket.on('close', () => this.destroy(this.closeReason ?? 'closed by peer'));
    socket.on('end', () => this.close('peer closed its side'));
    if (state === 'open') this.startReading();
  }

  get key(): string {
    return connectionKey(this.proto, this.remote);
  }

  /** Called by the connector once an outbound connection (and its handshake) is up. */
  markOpen(local: Endpoint): void {
    if (this.state !== 'connecting') return;
    this.state = 'open';
    this.local = local;
    this.startReading();
    for (const w of this.pending.splice(0)) this.write(w);
  }

  /** Sends one message; resolves once handed to the socket, rejects if the connection fails. */
  send(data: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      const w = { data, resolve, reject };
      if (this.state === 'closed') reject(new Error(`connection ${this.id} is closed`));
      else if (this.state === 'connecting') this.pending.push(w);
      else this.write(w);
    });
  }

  /** Graceful close: finish pending writes, then FIN (TLS close_notify is up to the socket). */
  close(reason: string): void {
    if (this.state === 'closed') return;
    this.closeReason ??= reason;
    if (this.state === 'connecting') return this.destroy(reason);
    this.socket.end();
    // A peer that never acknowledges our FIN must not hold the socket forever.
    setTimeout(() => this.destroy(reason), 2000).unref();
  }

  destroy(reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.closeReason ??= reason;
    clearTimeout(this.messageTimer);
    clearTimeout(this.sendTimer);
    const err = new Error(
      `connection ${this.id} to ${this.remote.address}:${this.remote.port} closed: ${reason}`,
    );
    for (const w of this.pending.splice(0)) w.reject(err);
    this.socket.destroy();
    this.events.onClose(this, this.closeReason);
  }

  private startReading(): void {
    const idle = this.settings.idleTimeoutMs;
    if (idle !== undefined) {
      this.socket.setTimeout(idle);
      this.socket.on('timeout', () => this.close(`idle for ${idle / 1000} s (connection_timeout)`));
    }
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  private onData(chunk: Buffer): void {
    for (const ev of this.framer.push(chunk)) {
      if (this.state === 'closed') return;
      if (ev.type === 'message') this.events.onMessage(this, ev.data);
      else if (ev.type === 'ping') this.socket.write(CRLF);
      else if (ev.type === 'keepalive') this.keepalives++;
      else return this.destroy(`bad stream: ${ev.error.reason}`);
    }
    this.armMessageTimer();
  }

  private armMessageTimer(): void {
    if (!this.framer.hasPartial) {
      clearTimeout(this.messageTimer);
      this.messageTimer = undefined;
    } else if (!this.messageTimer) {
      const ms = this.settings.messageTimeoutMs;
      this.messageTimer = setTimeout(() => this.destroy(`message not complete within ${ms} ms`), ms);
      this.messageTimer.unref();
    }
  }

  private write(w: PendingWrite): void {
    this.socket.write(w.data, (err) => (err ? w.reject(err) : w.resolve()));
    this.watchProgress();
  }

  /**
   * tls_send_timeout: while bytes wait in our buffer, each period must see some of them leave; a
   * peer that stops reading is cut off instead of growing memory and holding messages for others.
   */
  private watchProgress(): void {
    if (this.sendTimer || this.socket.writableLength === 0) return;
    const flushed = () => this.socket.bytesWritten - this.socket.writableLength;
    let before = flushed();
    const ms = this.settings.sendTimeoutMs;
    const check = () => {
      this.sendTimer = undefined;
      if (this.state === 'closed' || this.socket.writableLength === 0) return;
      const now = flushed();
      if (now === before) return this.destroy(`send made no progress for ${ms} ms (tls_send_timeout)`);
      before = now;
      this.sendTimer = setTimeout(check, ms);
    };
    this.sendTimer = setTimeout(check, ms);
  }
}

/** Table key of a peer: protocol plus normalised address and port. */
export function connectionKey(proto: string, remote: Endpoint): string {
  return `${proto}|${normalizeAddress(remote.address)}|${remote.port}`;
}

/** IPv4-mapped IPv6 addresses (::ffff:1.2.3.4) are the IPv4 peer they stand for. */
export function normalizeAddress(address: string): string {
  const a = address.toLowerCase();
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}
