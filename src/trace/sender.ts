// Sends HEP packets to the collector without ever holding up or failing the SIP data path: send()
// returns at once and never throws; a packet that cannot go now (collector down, slow, still being
// reached, or too big) is dropped and counted, and the drops are logged at most once per interval.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns/promises';
import { connect as tcpConnect, isIP, type Socket } from 'node:net';
import type { Logger } from '../log/logger.js';
import { formatDestination, type TraceDestination } from './destination.js';

export interface HepSender {
  send(packet: Buffer): void;
  /** Counts (and in time logs) a packet that could not even be built. */
  discard(reason: string): void;
  /** Packets dropped so far. */
  readonly dropped: number;
  close(): Promise<void>;
}

export interface SenderOptions {
  /** Least time between two "dropped" log lines (ms). */
  logIntervalMs?: number;
  /**
   * Bytes that may wait for the collector (address being resolved, TCP connecting, a slow TCP
   * collector); packets beyond them are dropped.
   */
  maxQueuedBytes?: number;
  /**
   * TCP: first and longest wait before reconnecting (ms); UDP: before resolving the collector's
   * name again after a failure. The wait doubles in between.
   */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** UDP: how often a collector given by name is resolved again, to follow DNS changes (ms). */
  resolveIntervalMs?: number;
  /** How a collector's name becomes an address (the system resolver; tests replace it). */
  lookup?: (host: string) => Promise<string>;
}

const DEFAULTS = {
  logIntervalMs: 10_000,
  maxQueuedBytes: 1024 * 1024,
  reconnectMinMs: 500,
  reconnectMaxMs: 30_000,
  resolveIntervalMs: 60_000,
  lookup: async (host: string) => (await dnsLookup(host)).address,
};
/** UDP: datagrams handed to the kernel but not yet sent, beyond which packets drop. */
const MAX_UDP_IN_FLIGHT = 1024;

export function createHepSender(dest: TraceDestination, log: Logger, options: SenderOptions = {}): HepSender {
  const opts = { ...DEFAULTS, ...options };
  const drops = new DropLog(formatDestination(dest), log, opts.logIntervalMs);
  return dest.transport === 'udp' ? new UdpSender(dest, drops, opts) : new TcpSender(dest, drops, opts, log);
}

/** Counts dropped packets and logs them: the first at once, later ones summed up once per interval. */
class DropLog {
  count = 0;
  /** The last socket error, told with the drops it explains. */
  cause: string | undefined;
  private unlogged = 0;
  private lastLog = -Infinity;
  private lastReason = '';
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly collector: string,
    private readonly log: Logger,
    private readonly intervalMs: number,
  ) {}

  drop(reason: string): void {
    this.count++;
    this.unlogged++;
    this.lastReason = this.cause ? `${reason} (${this.cause})` : reason;
    this.flush(false);
    // Drops held back are told when the interval ends, even if no other drop comes to trigger it.
    if (this.unlogged > 0 && !this.timer) {
      this.timer = setTimeout(() => this.flush(true), this.lastLog + this.intervalMs - Date.now());
      this.timer.unref();
    }
  }

  flush(force: boolean): void {
    const now = Date.now();
    if (this.unlogged === 0 || (!force && now - this.lastLog < this.intervalMs)) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.log.warn(
      {
        collector: this.collector,
        dropped: this.unlogged,
        total_dropped: this.count,
        reason: this.lastReason,
      },
      'HEP packets dropped',
    );
    this.unlogged = 0;
    this.lastLog = now;
  }
}

/**
 * What both senders share: the drop count, the bounded wait of packets sent before the collector
 * is reached (address being resolved, TCP connecting or reconnecting), and the timer of the next
 * attempt to reach it, whose wait doubles after each failure.
 */
abstract class CountingSender implements HepSender {
  private waiting: Buffer[] = [];
  private waitingBytes = 0;
  protected closed = false;
  private retryMs: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    protected readonly dest: TraceDestination,
    protected readonly drops: DropLog,
    protected readonly opts: typeof DEFAULTS,
  ) {
    this.retryMs = opts.reconnectMinMs;
  }

  get dropped(): number {
    return this.drops.count;
  }

  discard(reason: string): void {
    this.drops.drop(reason);
  }

  /** Runs `attempt` in `ms`, or after the failure backoff (which then doubles). */
  protected later(attempt: () => void, ms?: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      attempt();
    }, ms ?? this.retryMs);
    this.timer.unref();
    if (ms === undefined) this.retryMs = Math.min(this.retryMs * 2, this.opts.reconnectMaxMs);
  }

  /** The collector was reached: the next failure waits the shortest time again. */
  protected reached(): void {
    this.retryMs = this.opts.reconnectMinMs;
  }

  protected hold(packet: Buffer, reason: string): void {
    if (this.waitingBytes + packet.length > this.opts.maxQueuedBytes) return this.drops.drop(reason);
    this.waiting.push(packet);
    this.waitingBytes += packet.length;
  }

  /** Hands the waiting packets, oldest first, to `write`. */
  protected release(write: (packet: Buffer) => void): void {
    const waiting = this.waiting;
    this.waiting = [];
    this.waitingBytes = 0;
    for (const packet of waiting) write(packet);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const _ of this.waiting) this.drops.drop('tracing stopped before the collector was reached');
    this.waiting = [];
    this.drops.flush(true);
    clearTimeout(this.timer);
    await this.shut();
  }

  abstract send(packet: Buffer): void;
  protected abstract shut(): Promise<void>;
}

/**
 * A connected UDP socket: ICMP "port unreachable" comes back as an error event, one per datagram
 * lost. A collector given by name is resolved by us, again every resolveIntervalMs (and after a
 * failed lookup, with backoff), so that a name that did not resolve at start, or moved, is followed.
 */
class UdpSender extends CountingSender {
  private socket: UdpSocket | undefined;
  private address: string | undefined;
  private ready = false;

  constructor(dest: TraceDestination, drops: DropLog, opts: typeof DEFAULTS) {
    super(dest, drops, opts);
    if (isIP(dest.host)) this.aim(dest.host);
    else void this.resolve();
  }

  send(packet: Buffer): void {
    if (this.closed) return;
    const socket = this.socket;
    if (!this.ready || !socket) return this.hold(packet, 'collector address not resolved');
    if (socket.getSendQueueCount() >= MAX_UDP_IN_FLIGHT) return this.drops.drop('send queue full');
    try {
      socket.send(packet, (err) => {
        if (err) this.drops.drop(err.message);
      });
    } catch (err) {
      this.drops.drop((err as Error).message);
    }
  }

  private async resolve(): Promise<void> {
    let address: string;
    try {
      address = await this.opts.lookup(this.dest.host);
    } catch (err) {
      // The old address, if any, stays in use; new packets wait (up to the cap) while there is none.
      this.drops.cause = `${this.dest.host}: ${(err as Error).message}`;
      this.later(() => void this.resolve());
      return;
    }
    if (this.closed) return;
    this.drops.cause = undefined;
    this.reached();
    if (address !== this.address) this.aim(address);
    this.later(() => void this.resolve(), this.opts.resolveIntervalMs);
  }

  /** A socket connected to `address`, replacing the one to the previous address. */
  private aim(address: string): void {
    this.socket?.close();
    this.ready = false;
    this.address = address;
    const socket = createSocket(isIP(address) === 6 ? 'udp6' : 'udp4');
    this.socket = socket;
    socket.on('error', (err) => this.drops.drop(`collector unreachable: ${err.message}`));
    socket.connect(this.dest.port, address, () => {
      if (this.socket !== socket) return;
      this.ready = true;
      this.release((packet) => this.send(packet));
    });
    socket.unref();
  }

  protected shut(): Promise<void> {
    const socket = this.socket;
    if (!socket) return Promise.resolve();
    return new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}

class TcpSender extends CountingSender {
  private socket: Socket | undefined;
  private connected = false;

  constructor(
    dest: TraceDestination,
    drops: DropLog,
    opts: typeof DEFAULTS,
    private readonly log: Logger,
  ) {
    super(dest, drops, opts);
    this.connect();
  }

  send(packet: Buffer): void {
    if (this.closed) return;
    if (!this.connected || !this.socket) return this.hold(packet, 'collector not connected');
    // writableLength is what the collector has not taken yet: past the cap it is too slow.
    if (this.socket.writableLength + packet.length > this.opts.maxQueuedBytes) {
      return this.drops.drop('collector too slow: send buffer full');
    }
    this.socket.write(packet);
  }

  private connect(): void {
    const socket = tcpConnect({ host: this.dest.host, port: this.dest.port });
    this.socket = socket;
    socket.unref();
    socket.setNoDelay(true);
    socket.on('connect', () => {
      this.connected = true;
      this.drops.cause = undefined;
      this.reached();
      this.log.info({ collector: formatDestination(this.dest) }, 'HEP collector connected');
      this.release((packet) => socket.write(packet));
    });
    // Waiting packets stay (up to the cap) for the next connection; the error explains later drops.
    socket.on('error', (err) => {
      this.drops.cause = err.message;
    });
    socket.on('close', () => {
      const wasConnected = this.connected;
      this.connected = false;
      this.socket = undefined;
      if (this.closed) return;
      if (wasConnected)
        this.log.warn({ collector: formatDestination(this.dest) }, 'HEP collector connection lost');
      this.later(() => this.connect());
    });
  }

  protected async shut(): Promise<void> {
    const socket = this.socket;
    if (!socket) return;
    if (!this.connected) return void socket.destroy();
    // Let what was written reach the collector, but not for long.
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => socket.destroy(), 1000);
      socket.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      socket.end();
    });
  }
}
