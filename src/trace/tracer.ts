// HEP tracing of TLS connections (OpenSIPS proto_tls trace_*): a transport observer, registered only
// while tracing is on, that sends each traced connection's events (ACCEPTED / CONNECTED / CLOSED) and
// the SIP messages crossing it, all carrying the connection id as HEP correlation id.
import type { Logger } from '../log/logger.js';
import type { TraceFilterInfo } from '../router/script.js';
import type {
  ConnectionFailure,
  ConnectionView,
  MessageEvent,
  TransportObserver,
} from '../transport/events.js';
import type { Endpoint } from '../transport/types.js';
import { encodeHep, HepProtoType, IpProto } from './hep.js';
import { eventPayload, openingEvent, tlsFields, type EventPayload } from './payload.js';
import type { HepSender } from './sender.js';

/** Returns false to leave a connection untraced; anything else traces it. */
export type TraceFilter = (conn: TraceFilterInfo) => unknown;

export interface Observable {
  observe(observer: TransportObserver, options?: { keyLog?: boolean }): () => void;
}

export interface TracerOptions {
  transport: Observable;
  sender: HepSender;
  captureId: number;
  filter: TraceFilter | undefined;
  log: Logger;
}

const UNKNOWN_V4: Endpoint = { address: '0.0.0.0', port: 0 };
const UNKNOWN_V6: Endpoint = { address: '::', port: 0 };

/** Microseconds since the epoch, finer than Date.now(). */
const nowUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000);

export class TlsTracer {
  private unobserve: (() => void) | undefined;
  /** Per connection id: whether it is traced (the filter runs once, at its first event). */
  private readonly decisions = new Map<number, boolean>();
  private warnedAsync = false;

  constructor(private readonly opts: TracerOptions) {}

  get on(): boolean {
    return this.unobserve !== undefined;
  }

  /**
   * Turns tracing on or off. Off, nothing is observed at all (no key log is kept either); connections
   * that were open before tracing came on are traced from their next message on, without the
   * opening event and its key log, which only exist at the handshake.
   */
  setOn(on: boolean): void {
    if (on === this.on) return;
    if (on) {
      this.unobserve = this.opts.transport.observe(this.observer, { keyLog: true });
    } else {
      this.unobserve?.();
      this.unobserve = undefined;
      this.decisions.clear();
    }
  }

  async stop(): Promise<void> {
    this.setOn(false);
    await this.opts.sender.close();
  }

  private readonly observer: TransportObserver = {
    connectionOpened: (conn) => {
      if (conn.proto !== 'tls' || !this.traced(conn)) return;
      const event = openingEvent(conn.direction);
      const message = conn.direction === 'in' ? 'connection accepted' : 'connected';
      this.sendEvent(conn, { ...eventPayload(conn.proto, event, 'SUCCESS', message), ...tlsFields(conn) });
    },
    connectionFailed: (f) => {
      if (f.proto !== 'tls') return;
      const local = f.local ?? (f.remote.address.includes(':') ? UNKNOWN_V6 : UNKNOWN_V4);
      const info: TraceFilterInfo = { proto: f.proto, direction: f.direction, remote: f.remote, local };
      if (!this.allowed(info)) return;
      const payload = eventPayload(f.proto, openingEvent(f.direction), 'FAILURE', f.reason);
      if (f.domain !== undefined) payload['tls-domain'] = f.domain;
      this.sendFailure(f, local, payload);
    },
    connectionClosed: (conn, reason) => {
      if (conn.proto !== 'tls') return;
      if (this.traced(conn)) this.sendEvent(conn, eventPayload(conn.proto, 'CLOSED', 'SUCCESS', reason));
      this.decisions.delete(conn.id);
    },
    messageReceived: (msg) => this.sendSip(msg, 'in'),
    messageSent: (msg) => this.sendSip(msg, 'out'),
  };

  private traced(conn: ConnectionView): boolean {
    let decision = this.decisions.get(conn.id);
    if (decision === undefined) {
      decision = this.allowed({
        proto: conn.proto,
        direction: conn.direction,
        remote: conn.remote,
        local: conn.local,
      });
      this.decisions.set(conn.id, decision);
    }
    return decision;
  }

  private allowed(info: TraceFilterInfo): boolean {
    const filter = this.opts.filter;
    if (!filter) return true;
    try {
      const verdict = filter(info);
      if (verdict instanceof Promise) {
        verdict.catch(() => undefined);
        if (!this.warnedAsync) {
          this.warnedAsync = true;
          this.opts.log.warn('the trace filter returned a promise: it must be synchronous; tracing anyway');
        }
        return true;
      }
      return verdict !== false;
    } catch (err) {
      // As in OpenSIPS, only an explicit veto (drop) leaves a connection out.
      this.opts.log.error({ err: (err as Error).message, remote: info.remote }, 'trace filter failed');
      return true;
    }
  }

  private sendSip(msg: MessageEvent, way: 'in' | 'out'): void {
    const conn = msg.connection;
    if (msg.proto !== 'tls' || !conn || !this.traced(conn)) return;
    const [src, dst] = way === 'in' ? [msg.remote, msg.local] : [msg.local, msg.remote];
    this.send(src, dst, HepProtoType.Sip, String(conn.id), msg.data);
  }

  /** Connection events travel client → server, the way the connection was opened. */
  private sendEvent(conn: ConnectionView, payload: EventPayload): void {
    const [src, dst] = conn.direction === 'in' ? [conn.remote, conn.local] : [conn.local, conn.remote];
    this.send(src, dst, HepProtoType.NetEvent, String(conn.id), json(payload));
  }

  /** A connection that never was has no id to correlate with. */
  private sendFailure(f: ConnectionFailure, local: Endpoint, payload: EventPayload): void {
    const [src, dst] = f.direction === 'in' ? [f.remote, local] : [local, f.remote];
    this.send(src, dst, HepProtoType.NetEvent, undefined, json(payload));
  }

  private send(
    src: Endpoint,
    dst: Endpoint,
    protoType: number,
    correlationId: string | undefined,
    payload: Buffer,
  ): void {
    let packet: Buffer;
    try {
      packet = encodeHep({
        ipProto: IpProto.Tls,
        src,
        dst,
        timeUs: nowUs(),
        protoType,
        captureId: this.opts.captureId,
        correlationId,
        payload,
      });
    } catch (err) {
      return this.opts.sender.discard((err as Error).message);
    }
    this.opts.sender.send(packet);
  }
}

const json = (payload: EventPayload) => Buffer.from(JSON.stringify(payload), 'utf8');
