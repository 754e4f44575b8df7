// One TCP or TLS connection: framing of the byte stream into SIP messages, keepalive answers, the
// idle/message/send timers, and ordered writes with bounded queues for peers that read slowly.
import type { Socket } from 'node:net';
import { connectionIds } from '../cluster/identity.js';
import { StreamFramer, type SipLimits, type StreamFramerOptions } from '../sip/index.js';
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
  /** tls_async_max_postponed_chunks: messages waiting for a backed-up socket. */
  maxPostponedMessages: number;
  /** con_ct_wq_max: bytes waiting on one connection (ours plus the socket's buffer). */
  connectionQueueMaxBytes: number;
  /** send_close_notify: a TLS close sends close_notify; otherwise the TCP connection just ends. */
  closeNotify: boolean;
}

/**
 * ct_wq_max: the bytes all connections together may hold back for slow peers, so that many slow
 * peers cannot exhaust memory even when each stays under its own limit.
 */
export class WriteQueueBudget {
  used = 0;
  constructor(readonly maxBytes: number) {}
}

export type ConnectionState = 'open' | 'closed';

export interface ConnectionEvents {
  /** `bodyStart`: where the body starts in `data` (the framer found it). */
  onMessage(conn: StreamConnection, data: Buffer, bodyStart: number): void;
  onClose(conn: StreamConnection, reason: string): void;
  /** A send overflowed a queue limit; the connection is closed right after. */
  onOverflow(conn: StreamConnection, reason: string): void;
}

const CRLF = Buffer.from('\r\n');
const NOTHING = Buffer.alloc(0);

/** How long the kernel may take none of our bytes before the peer counts as stalled. */
const STALL_PROBE_MS = 20;

/** Called once a write is done: with no error when the kernel has the bytes. */
export type WriteCallback = (err?: Error | null) => void;

interface PendingWrite {
  data: Buffer;
  done: WriteCallback;
}

/** Ids unique over every worker of the server (see cluster/identity). */
const nextId = connectionIds();

export class StreamConnection implements ConnectionView {
  readonly id = nextId();
  readonly createdAt = Date.now();
  state: ConnectionState;
  tls: TlsSessionInfo | undefined;
  /** Extra lookup keys (RFC 5923 Via alias) under which the table also finds this connection. */
  get aliases(): ReadonlySet<string> {
    return this.aliasKeys ?? NO_ALIASES;
  }
  /** Created with the first alias: most connections never get one (an empty Set is ~100 bytes). */
  private aliasKeys: Set<string> | undefined;
  closeReason: string | undefined;
  /** Lone CRLF keepalives received (counted unless tls_crlf_drop is on). */
  keepalives = 0;
  /** NSS key-log lines of the TLS session, when a tracer asked for them (see TransportLayer.observe). */
  keyLog: readonly string[] = NO_KEY_LOG;
  private readonly framer: StreamFramer;
  /**
   * Messages held back while the peer is stalled (the socket's 'drain' releases them); made with the
   * first one, as most connections never need it.
   */
  private postponed: PendingWrite[] | undefined;
  private postponedBytes = 0;
  /** The kernel took nothing of our writes between two looks: the peer is not reading. */
  private stalled = false;
  private stallProbe: NodeJS.Timeout | undefined;
  /** Writes of this turn are being gathered (see write()). */
  private corked = false;
  private messageTimer: NodeJS.Timeout | undefined;
  private sendTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly proto: 'tcp' | 'tls',
    readonly direction: 'in' | 'out',
    readonly socket: Socket,
    public local: Endpoint,
    readonly remote: Endpoint,
    private readonly settings: StreamSettings,
    private readonly budget: WriteQueueBudget,
    private readonly events: ConnectionEvents,
  ) {
    this.state = 'open';
    this.framer = new StreamFramer(framerOptions(settings));
    socket.setNoDelay(true);
    // The handlers are shared by every connection and find theirs through the socket: thousands of
    // idle connections would otherwise each hold six closures and their context.
    (socket as OwnedSocket)[OWNER] = this;
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
    socket.on('end', onSocketEnd);
    socket.on('drain', onSocketDrain);
    this.startReading();
  }

  /** Records an extra lookup key (the table indexes it). */
  addAliasKey(key: string): void {
    (this.aliasKeys ??= new Set()).add(key);
  }

  /** The socket's 'drain': the peer reads again. */
  drained(): void {
    this.stalled = false;
    this.flushPostponed();
  }

  /** The socket's connection_timeout expired. */
  idleExpired(): void {
    this.close(`idle for ${this.settings.idleTimeoutMs! / 1000} s (connection_timeout)`);
  }

  get key(): string {
    return connectionKey(this.proto, this.remote);
  }

  /** Bytes accepted for this peer and not yet handed to the kernel. */
  get queuedBytes(): number {
    return this.postponedBytes + this.socket.writableLength;
  }

  get postponedMessages(): number {
    return this.postponed?.length ?? 0;
  }

  /**
   * Sends one message, in order with the others; `done` is called once the kernel has it, or with
   * the reason it could not be sent (never synchronously: callers may still be setting up). While
   * the peer is stalled the message is postponed; past a queue limit the send fails and the
   * connection, now known to be broken for this peer, is closed. A burst of replies written in one
   * turn of the event loop fills Node's own buffer before the kernel has taken any of it: that is not
   * a slow peer, so the limits apply only once the kernel stops taking data (as OpenSIPS counts only
   * what the kernel refused).
   */
  send(data: Buffer, done: WriteCallback): void {
    const w = { data, done };
    if (this.state === 'closed') return process.nextTick(done, new Error(`connection ${this.id} is closed`));
    if (this.postponedMessages === 0 && !this.stalled) return this.write(w);
    const overflow = this.overflowFor(data.length);
    if (overflow) {
      process.nextTick(done, new Error(`connection ${this.id} to ${this.peerName}: ${overflow}`));
      this.events.onOverflow(this, overflow);
      return this.destroy(overflow);
    }
    (this.postponed ??= []).push(w);
    this.postponedBytes += data.length;
    this.budget.used += data.length;
    this.watchProgress();
  }

  private get peerName(): string {
    return `${this.remote.address}:${this.remote.port}`;
  }

  private overflowFor(bytes: number): string | undefined {
    const s = this.settings;
    if (this.postponedMessages >= s.maxPostponedMessages)
      return `${this.postponedMessages} messages already wait to be written (tls_async_max_postponed_chunks)`;
    if (this.queuedBytes + bytes > s.connectionQueueMaxBytes)
      return `${this.queuedBytes + bytes} bytes would wait on the connection, over con_ct_wq_max ${s.connectionQueueMaxBytes}`;
    if (this.budget.used + bytes > this.budget.maxBytes)
      return `${this.budget.used + bytes} bytes would wait over all connections, over ct_wq_max ${this.budget.maxBytes}`;
    return undefined;
  }

  private flushPostponed(): void {
    while (this.postponed && this.postponed.length > 0 && !this.stalled && this.state === 'open') {
      const w = this.postponed.shift()!;
      this.release(w.data.length);
      this.write(w);
    }
  }

  /** Every message held back, the queue left empty. */
  private takePostponed(): PendingWrite[] {
    const all = this.postponed ?? [];
    this.postponed = undefined;
    return all;
  }

  private release(bytes: number): void {
    this.postponedBytes -= bytes;
    this.budget.used -= bytes;
  }

  /** Graceful close: finish pending writes, then FIN (TLS close_notify is up to the socket). */
  close(reason: string): void {
    if (this.state === 'closed') return;
    this.closeReason ??= reason;
    // What waits for a slow peer still gets its chance, ahead of the FIN.
    for (const w of this.takePostponed()) {
      this.release(w.data.length);
      this.write(w);
    }
    if (this.proto === 'tls' && !this.settings.closeNotify) {
      // Ending a TLS socket sends close_notify; destroying it once flushed sends only the FIN.
      // An empty write's callback runs once everything before it is flushed, corked or not
      // ('drain' comes only after a write the buffer refused).
      if (this.socket.writableLength === 0) return this.destroy(reason);
      this.socket.write(NOTHING, () => this.destroy(reason));
    } else {
      this.socket.end();
    }
    // A peer that never acknowledges our FIN must not hold the socket forever.
    setTimeout(() => this.destroy(reason), 2000).unref();
  }

  destroy(reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.closeReason ??= reason;
    clearTimeout(this.messageTimer);
    clearTimeout(this.sendTimer);
    clearTimeout(this.stallProbe);
    const postponed = this.takePostponed();
    // Made only for messages still waiting: capturing an Error's stack cost about 2% of the CPU of
    // a connection that only handshakes and closes.
    if (postponed.length > 0) {
      const err = new Error(
        `connection ${this.id} to ${this.remote.address}:${this.remote.port} closed: ${reason}`,
      );
      for (const w of postponed) {
        this.release(w.data.length);
        process.nextTick(w.done, err);
      }
    }
    this.socket.destroy();
    this.events.onClose(this, this.closeReason);
  }

  private startReading(): void {
    const idle = this.settings.idleTimeoutMs;
    if (idle !== undefined) {
      this.socket.setTimeout(idle);
      this.socket.on('timeout', onSocketTimeout);
    }
    this.socket.on('data', onSocketData);
  }

  /** Bytes read from the socket. */
  onData(chunk: Buffer): void {
    for (const ev of this.framer.push(chunk)) {
      if (this.state === 'closed') return;
      if (ev.type === 'message') this.events.onMessage(this, ev.data, ev.bodyStart);
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
    // Messages written in one turn of the event loop (replies to a batch of requests read together)
    // leave as one write: one TLS record and one system call instead of one per message. Flushing
    // later, at setImmediate, gathered relayed requests across connections too, but cost 50% more
    // CPU per message under SIPp load (longer-lived buffers, bigger writev): measured, reverted.
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(w.data, w.done);
    if (this.socket.writableNeedDrain) this.probeStall();
    this.watchProgress();
  }

  /** Bytes whose writes the kernel has completed. */
  private flushed(): number {
    return this.socket.bytesWritten - this.socket.writableLength;
  }

  /**
   * While Node's buffer is over its mark, looks again a few milliseconds later, after the event
   * loop has run its write completions (the timer, then one more turn): if the kernel took nothing
   * in between, the peer is stalled and new messages wait in the bounded queue.
   */
  private probeStall(): void {
    if (this.stallProbe || this.stalled) return;
    const before = this.flushed();
    this.stallProbe = setTimeout(
      () =>
        setImmediate(() => {
          this.stallProbe = undefined;
          if (this.state === 'closed' || !this.socket.writableNeedDrain) return;
          if (this.flushed() === before) this.stalled = true;
          else this.probeStall();
        }),
      STALL_PROBE_MS,
    );
  }

  /**
   * tls_send_timeout: while bytes wait in our buffer, each period must see some of them leave; a
   * peer that stops reading is cut off instead of growing memory and holding messages for others.
   */
  private watchProgress(): void {
    if (this.sendTimer || this.queuedBytes === 0) return;
    const flushed = () => this.socket.bytesWritten - this.socket.writableLength;
    let before = flushed();
    const ms = this.settings.sendTimeoutMs;
    const check = () => {
      this.sendTimer = undefined;
      if (this.state === 'closed' || this.queuedBytes === 0) return;
      const now = flushed();
      if (now === before) return this.destroy(`send made no progress for ${ms} ms (tls_send_timeout)`);
      before = now;
      this.sendTimer = setTimeout(check, ms);
    };
    this.sendTimer = setTimeout(check, ms);
  }
}

const NO_ALIASES: ReadonlySet<string> = new Set<string>();
const NO_KEY_LOG: readonly string[] = Object.freeze([]);

/** The framer options of a settings object, made once and shared by its connections. */
const framerOptionsOf = new WeakMap<StreamSettings, StreamFramerOptions>();

function framerOptions(settings: StreamSettings): StreamFramerOptions {
  let options = framerOptionsOf.get(settings);
  if (!options) {
    options = {
      limits: settings.limits,
      maxChunks: settings.maxChunks,
      crlfPingPong: settings.crlfPingPong,
      crlfDrop: settings.crlfDrop,
    };
    framerOptionsOf.set(settings, options);
  }
  return options;
}

/** Where a socket's shared handlers find its connection. */
const OWNER = Symbol('sipsd.connection');
type OwnedSocket = Socket & { [OWNER]: StreamConnection };

function onSocketError(this: Socket, err: NodeJS.ErrnoException): void {
  (this as OwnedSocket)[OWNER].destroy(
    err.code === 'ERR_TLS_RENEGOTIATION_DISABLED'
      ? 'client-initiated renegotiation refused (renegotiation is off)'
      : `socket error: ${err.message}`,
  );
}

function onSocketClose(this: Socket): void {
  const conn = (this as OwnedSocket)[OWNER];
  conn.destroy(conn.closeReason ?? 'closed by peer');
}

function onSocketEnd(this: Socket): void {
  (this as OwnedSocket)[OWNER].close('peer closed its side');
}

function onSocketDrain(this: Socket): void {
  (this as OwnedSocket)[OWNER].drained();
}

function onSocketTimeout(this: Socket): void {
  (this as OwnedSocket)[OWNER].idleExpired();
}

function onSocketData(this: Socket, chunk: Buffer): void {
  (this as OwnedSocket)[OWNER].onData(chunk);
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
