// The transport layer: binds every listen entry, accepts and opens TCP/TLS connections, keeps the
// connection table, and hands framed messages up. It knows nothing about routing.
import { createServer, isIP, type Server as NetServer, type Socket } from 'node:net';
import type { Logger } from '../log/logger.js';
import type { TLSSocket } from 'node:tls';
import type { LogLevel } from '../log/logger.js';
import type { ClientChoice, TlsProvider } from '../tls/provider.js';
import { ConnectionTable } from './connection-table.js';
import {
  StreamConnection,
  WriteQueueBudget,
  normalizeAddress,
  type ConnectionEvents,
  type StreamSettings,
} from './connection.js';
import { MemoryGuard, type MemoryThresholds } from './memory-guard.js';
import { openTcp, openTls, type Connected } from './connector.js';
import { formatListen, hostPort, type ListenSpec, type Proto } from './listen-spec.js';
import { acceptTls } from './tls-accept.js';
import { HandshakeDeadline } from './handshake-deadline.js';
import type { TransportObserver } from './events.js';
import { ConnectionError, stageOf } from './connection-error.js';
import type {
  Endpoint,
  Inbound,
  PeerConnections,
  SendCallback,
  SendTarget,
  SentFrom,
  TlsSessionInfo,
} from './types.js';
import { UdpListener } from './udp-listener.js';

export interface TransportSettings extends StreamSettings {
  listen: ListenSpec[];
  /** tls_handshake_timeout (ms), inbound and outbound. */
  handshakeTimeoutMs: number;
  /** Deadline of an outbound TCP connect (ms). */
  connectTimeoutMs: number;
  /** tls_async_local_connect_timeout: deadline of the TCP connect under an outbound TLS connection. */
  tlsConnectTimeoutMs: number;
  /** ct_wq_max: bytes waiting over all connections. */
  totalQueueMaxBytes: number;
  /** cert_check_on_conn_reusage / tls_connection_match_domain. */
  reuseOnlySameDomain: boolean;
  /** Allow renegotiation on TLS connections (refused and closed otherwise). */
  renegotiation: boolean;
  /** ssl_max_send_fragment; undefined keeps OpenSSL's 16384. */
  maxSendFragment: number | undefined;
  memory: MemoryThresholds;
  /** tls_log: the level TLS connection events are logged at. */
  tlsLogLevel: LogLevel;
  /** disable_tls: tls listen entries are skipped and outbound TLS fails. */
  disableTls: boolean;
}

/** A TLS connection about to be used, as the connection hooks see it. */
export interface NewTlsConnection {
  direction: 'in' | 'out';
  local: Endpoint;
  remote: Endpoint;
  tls: TlsSessionInfo;
}

/**
 * Script hooks run once a TLS handshake is done and before the connection carries any data
 * (Kamailio event_route[tls:connection-out], plus its inbound twin); false drops the connection.
 */
export interface ConnectionHooks {
  tlsIn?(conn: NewTlsConnection): boolean | Promise<boolean>;
  tlsOut?(conn: NewTlsConnection): boolean | Promise<boolean>;
}

interface StreamListener {
  spec: ListenSpec;
  server: NetServer;
  local: Endpoint;
}

export interface BoundListener {
  proto: Proto;
  address: string;
  port: number;
  /** `proto:ip:port` as an operator writes it. */
  name: string;
}

/** A client domain that was found (the failures are thrown as errors here). */
type ClientDomain = Extract<ClientChoice, { ok: true }>;

const ignore = (): void => undefined;
const familyOf = (address: string): 4 | 6 => (isIP(address) === 6 ? 6 : 4);
const isWildcard = (address: string) => address === '0.0.0.0' || address === '::';

export class TransportLayer {
  readonly connections = new ConnectionTable();
  private readonly udp: UdpListener[] = [];
  private readonly streams: StreamListener[] = [];
  /** Outbound connects in progress, so concurrent sends to one peer share one connection. */
  private readonly opening = new Map<string, Promise<StreamConnection>>();
  private stopping = false;
  private bound: BoundListener[] = [];
  /** Accepted TLS sockets still in the ClientHello/handshake phase (not yet connections). */
  private readonly handshaking = new Set<Socket>();
  private readonly observers = new Set<TransportObserver>();
  /** Observers that want each TLS session's key log (collecting it costs a little per handshake). */
  private keyLogConsumers = 0;
  /** Observers of messages: without one, no message event is made (metrics only count connections). */
  private messageObservers = 0;
  private readonly budget: WriteQueueBudget;
  private readonly memory: MemoryGuard;
  private hooks: ConnectionHooks = {};
  /** The other workers' connections, when this is one worker of several. */
  private peers: PeerConnections | undefined;
  /** A handshaking socket's 'close' listener: it is no longer handshaking. */
  private readonly forgetHandshaking: (this: Socket) => void;
  /** What every connection reports to, one object for all of them. */
  private readonly connectionEvents: ConnectionEvents = {
    onMessage: (c, data, bodyStart) => {
      const lowMemory = c.proto === 'tls' ? this.memory.closesEstablished() : undefined;
      if (lowMemory) return c.destroy(lowMemory);
      this.onInbound({
        data,
        bodyStart,
        proto: c.proto,
        local: c.local,
        remote: c.remote,
        connectionId: c.id,
        tls: c.tls,
      });
    },
    onClose: (c, reason) => {
      this.connections.remove(c);
      this.log.debug({ conn: c.id, proto: c.proto, remote: c.remote, reason }, 'connection closed');
      this.notify('connectionClosed', c, reason);
    },
    onOverflow: (c, reason) =>
      this.log.warn(
        { conn: c.id, proto: c.proto, remote: c.remote, reason },
        'peer too slow: connection closed',
      ),
  };

  constructor(
    private readonly settings: TransportSettings,
    private readonly tls: TlsProvider,
    private readonly log: Logger,
  ) {
    this.budget = new WriteQueueBudget(settings.totalQueueMaxBytes);
    this.memory = new MemoryGuard(settings.memory);
    const handshaking = this.handshaking;
    this.forgetHandshaking = function (this: Socket) {
      handshaking.delete(this);
    };
  }

  /** Bytes held back for slow peers over all connections (ct_wq_max counts these). */
  get queuedBytes(): number {
    return this.budget.used;
  }

  setConnectionHooks(hooks: ConnectionHooks): void {
    this.hooks = hooks;
  }

  setPeerConnections(peers: PeerConnections): void {
    this.peers = peers;
  }

  /** Logs a TLS connection event at the tls_log level. */
  private tlsLog(fields: object, message: string): void {
    this.log[this.settings.tlsLogLevel](fields, message);
  }

  /** Where framed messages go; set by start(). */
  private onInbound: (m: Inbound) => void = () => undefined;

  /**
   * Registers an observer of connections and messages; `keyLog` asks for the TLS key log of the
   * connections opened from now on. Returns the function that unregisters it.
   */
  observe(observer: TransportObserver, options: { keyLog?: boolean } = {}): () => void {
    this.observers.add(observer);
    const messages = observer.messageReceived !== undefined || observer.messageSent !== undefined;
    if (options.keyLog) this.keyLogConsumers++;
    if (messages) this.messageObservers++;
    return () => {
      if (!this.observers.delete(observer)) return;
      if (options.keyLog) this.keyLogConsumers--;
      if (messages) this.messageObservers--;
    };
  }

  private notify<K extends keyof TransportObserver>(
    event: K,
    ...args: Parameters<NonNullable<TransportObserver[K]>>
  ): void {
    for (const o of this.observers) {
      try {
        (o[event] as ((...a: typeof args) => void) | undefined)?.(...args);
      } catch (err) {
        this.log.error({ event, err: (err as Error).message }, 'transport observer failed');
      }
    }
  }

  async start(onInbound: (m: Inbound) => void): Promise<void> {
    this.onInbound = (m) => {
      if (this.messageObservers > 0) {
        const connection = m.connectionId === undefined ? undefined : this.connections.get(m.connectionId);
        this.notify('messageReceived', {
          proto: m.proto,
          local: m.local,
          remote: m.remote,
          data: m.data,
          connection,
        });
      }
      onInbound(m);
    };
    for (const spec of this.settings.listen) {
      if (spec.proto === 'tls' && this.settings.disableTls) {
        this.log.warn({ listen: formatListen(spec) }, 'TLS is disabled (disable_tls): listen entry skipped');
      } else if (spec.proto === 'udp') {
        const l = new UdpListener(spec, this.log, this.onInbound);
        await l.start();
        this.udp.push(l);
      } else {
        this.streams.push(await this.listenStream(spec));
      }
    }
    this.bound = [
      ...this.udp.map((l) => ({ proto: 'udp' as const, ...l.local })),
      ...this.streams.map((l) => ({ proto: l.spec.proto, ...l.local })),
    ].map((l) => ({ ...l, name: `${l.proto}:${hostPort(l.address, l.port)}` }));
  }

  /** The bound sockets (ports resolved), computed once at start: replies consult it per message. */
  listeners(): readonly BoundListener[] {
    return this.bound;
  }

  /**
   * The socket a message to `target` leaves from: the receiving one for a known connection, else the
   * first listener of the protocol and address family. Used to build Via and Record-Route.
   */
  localFor(proto: Proto, remoteAddress: string): Endpoint | undefined {
    const family = familyOf(remoteAddress);
    const pool: Array<{ local: Endpoint }> =
      proto === 'udp' ? this.udp : this.streams.filter((l) => l.spec.proto === proto);
    const match = pool.find((l) => familyOf(l.local.address) === family) ?? pool[0];
    return match?.local;
  }

  /**
   * Sends one message; `done` gets the socket it left from once the kernel has it, or the reason it
   * could not be sent, never synchronously. No promise is made when the message can leave at once
   * (UDP, or an open connection to the target, as for nearly every reply and relayed request):
   * only opening a connection or choosing its TLS client domain goes through promises. `done` runs
   * in a socket callback and must not throw.
   */
  sendNow(target: SendTarget, data: Buffer, done: SendCallback): void {
    if (target.proto === 'udp') return this.sendUdp(target, data, done);
    const conn = this.usableConnection(target);
    if (conn) return this.sendOn(conn, data, done);
    // A peer connected to another worker is reached over that connection, by its owner.
    const peer = this.peers?.connectionFor(target);
    if (peer) return this.peers!.send(peer.worker, peer.id, data, done);
    this.connectionFor(target).then(
      (opened) => this.sendOn(opened, data, done),
      (err: unknown) => done(err as Error),
    );
  }

  /** `sendNow` as a promise: resolves with the socket used, rejects with a reason on any failure. */
  send(target: SendTarget, data: Buffer): Promise<SentFrom> {
    return new Promise((resolve, reject) =>
      this.sendNow(target, data, (err, from) => (err ? reject(err) : resolve(from!))),
    );
  }

  private sendUdp(target: SendTarget, data: Buffer, done: SendCallback): void {
    const listener = this.udp.find((l) => l.family === familyOf(target.address));
    if (!listener) {
      return process.nextTick(
        done,
        new Error(`no UDP listener for an IPv${familyOf(target.address)} destination`),
      );
    }
    listener.send(data, target, (err) => {
      if (err) return done(err);
      const local = listener.local;
      if (this.messageObservers > 0) {
        const remote = { address: target.address, port: target.port };
        this.notify('messageSent', { proto: 'udp', local, remote, data, connection: undefined });
      }
      done(undefined, { proto: 'udp', local });
    });
  }

  private sendOn(conn: StreamConnection, data: Buffer, done: SendCallback): void {
    const lowMemory = conn.proto === 'tls' ? this.memory.closesEstablished() : undefined;
    if (lowMemory) {
      conn.destroy(lowMemory);
      const where = hostPort(conn.remote.address, conn.remote.port);
      return process.nextTick(done, new Error(`connection ${conn.id} to ${where}: ${lowMemory}`));
    }
    conn.send(data, (err) => {
      if (err) return done(err);
      const { proto, local, remote } = conn;
      if (this.messageObservers > 0)
        this.notify('messageSent', { proto, local, remote, data, connection: conn });
      done(undefined, { proto, local, connectionId: conn.id });
    });
  }

  /** Sends on this process's connection `id` only (another worker asked); fails once it is gone. */
  sendOnConnection(id: number, data: Buffer, done: SendCallback): void {
    const conn = this.connections.get(id);
    if (!conn || conn.state === 'closed') {
      return process.nextTick(done, new Error(`connection ${id} is closed`));
    }
    this.sendOn(conn, data, done);
  }

  addAlias(connectionId: number, alias: Endpoint): void {
    const conn = this.connections.get(connectionId);
    if (!conn) return;
    const before = conn.aliases.size;
    this.connections.addAlias(conn, alias);
    if (conn.aliases.size !== before) this.notify('aliasAdded', conn, alias);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    // Stop accepting first; a net.Server only reports closed once its sockets are gone, so that
    // wait comes after the connections are closed.
    const closed = this.streams.map((l) => new Promise<void>((resolve) => l.server.close(() => resolve())));
    await Promise.all(this.udp.map((l) => l.stop()));
    for (const raw of this.handshaking) raw.destroy();
    for (const conn of [...this.connections.all()]) conn.close('server shutting down');
    // Give graceful closes a moment, then cut what is left.
    const deadline = Date.now() + 1000;
    while (this.connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const conn of [...this.connections.all()]) conn.destroy('server shut down');
    await Promise.all(closed);
  }

  /**
   * The open connection a message to `target` can take without any lookup: the one named, else the
   * newest to the peer, unless tls_connection_match_domain needs the client domain chosen first.
   */
  private usableConnection(target: SendTarget): StreamConnection | undefined {
    if (target.connectionId !== undefined) {
      const conn = this.connections.get(target.connectionId);
      if (conn && conn.state !== 'closed') return conn;
    }
    const proto = target.proto as 'tcp' | 'tls';
    if (proto === 'tls' && this.settings.reuseOnlySameDomain) return undefined;
    return this.connections.find(proto, { address: normalizeAddress(target.address), port: target.port });
  }

  /** The connection for `target` when `usableConnection` has none: chosen by domain, or opened. */
  private async connectionFor(target: SendTarget): Promise<StreamConnection> {
    const proto = target.proto as 'tcp' | 'tls';
    const remote = { address: normalizeAddress(target.address), port: target.port };
    let choice: ClientDomain | undefined;
    if (proto === 'tls' && this.settings.reuseOnlySameDomain) {
      // The domain must be chosen before looking for a connection to reuse (OpenSIPS
      // cert_check_on_conn_reusage); accepted connections match whatever is chosen.
      choice = await this.clientChoice(remote, target);
      const wanted = choice;
      const existing = this.connections.find(
        proto,
        remote,
        (c) => c.direction === 'in' || sameClientDomain(c.tls, wanted),
      );
      if (existing) return existing;
    }
    const key = `${proto}|${remote.address}|${remote.port}|${choice?.domain ?? ''}`;
    let opening = this.opening.get(key);
    if (!opening) {
      opening = this.open(proto, remote, target, choice).finally(() => this.opening.delete(key));
      this.opening.set(key, opening);
    }
    return opening;
  }

  private async clientChoice(remote: Endpoint, target: SendTarget): Promise<ClientDomain> {
    if (this.settings.disableTls) throw new ConnectionError('TLS is disabled (disable_tls)', 'domain');
    const choice = await this.tls.clientFor(remote, {
      domain: target.tlsDomain,
      sipDomain: target.sipDomain,
      hostName: target.serverName,
    });
    if (!choice.ok) throw new ConnectionError(choice.reason, 'domain');
    return choice;
  }

  private async open(
    proto: 'tcp' | 'tls',
    remote: Endpoint,
    target: SendTarget,
    chosen: ClientDomain | undefined,
  ): Promise<StreamConnection> {
    if (this.stopping) throw new Error('server is shutting down');
    const bindTo = this.localFor(proto, remote.address)?.address;
    const localAddress = bindTo && !isWildcard(bindTo) ? bindTo : undefined;
    let domain: string | undefined;
    const keyLog: string[] | undefined = this.keyLogConsumers > 0 ? [] : undefined;
    let connected: Connected;
    try {
      if (proto === 'tcp') {
        connected = await openTcp(remote, localAddress, this.settings.connectTimeoutMs);
      } else {
        const lowMemory = this.memory.refusesNew();
        if (lowMemory) throw new ConnectionError(lowMemory, 'low_memory');
        const choice = chosen ?? (await this.clientChoice(remote, target));
        domain = choice.domain;
        connected = await openTls(remote, localAddress, choice, {
          connectTimeoutMs: this.settings.tlsConnectTimeoutMs,
          handshakeTimeoutMs: this.settings.handshakeTimeoutMs,
          keyLog,
        });
        await this.passHook('out', connected.socket, connected.local, remote, connected.tls!);
      }
    } catch (err) {
      const reason = (err as Error).message;
      this.notify('connectionFailed', {
        proto,
        direction: 'out',
        local: undefined,
        remote,
        domain,
        reason,
        stage: stageOf(err),
        peer: err instanceof ConnectionError ? err.peer : undefined,
      });
      throw err;
    }
    const conn = this.adopt(proto, 'out', connected.socket, connected.local, remote, connected.tls, keyLog);
    this.tlsLog({ conn: conn.id, proto, remote, tls: conn.tls }, 'outbound connection open');
    return conn;
  }

  /**
   * Runs the script's connection hook before the connection carries data; a drop destroys the
   * socket (nothing was written: the senders still wait for this connection).
   */
  private async passHook(
    direction: 'in' | 'out',
    socket: Socket,
    local: Endpoint,
    remote: Endpoint,
    tls: TlsSessionInfo,
  ): Promise<void> {
    const hook = direction === 'in' ? this.hooks.tlsIn : this.hooks.tlsOut;
    if (!hook) return;
    let keep: boolean;
    try {
      keep = await hook({ direction, local, remote, tls });
    } catch (err) {
      socket.destroy();
      throw new ConnectionError(
        `tls:connection-${direction} hook failed: ${(err as Error).message}`,
        'hook',
        tls.domain,
      );
    }
    if (!keep) {
      socket.destroy();
      throw new ConnectionError(`dropped by the tls:connection-${direction} hook`, 'hook', tls.domain);
    }
  }

  private listenStream(spec: ListenSpec): Promise<StreamListener> {
    const server = createServer({ pauseOnConnect: false }, (raw) => this.onAccept(listener, raw));
    const listener: StreamListener = { spec, server, local: { address: spec.host, port: spec.port } };
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: spec.port, host: spec.host, ipv6Only: familyOf(spec.host) === 6 }, () => {
        server.off('error', reject);
        server.on('error', (err) =>
          this.log.error({ err: err.message, listen: formatListen(spec) }, 'listener error'),
        );
        const addr = server.address();
        if (addr && typeof addr === 'object') listener.local = { address: spec.host, port: addr.port };
        resolve(listener);
      });
    });
  }

  private onAccept(listener: StreamListener, raw: Socket): void {
    const remote = { address: normalizeAddress(raw.remoteAddress ?? ''), port: raw.remotePort ?? 0 };
    if (listener.spec.proto === 'tcp') {
      this.adopt('tcp', 'in', raw, listener.local, remote);
      return;
    }
    raw.on('error', ignore); // reported through the accept's rejection below
    const lowMemory = this.memory.refusesNew();
    if (lowMemory) {
      raw.destroy();
      this.tlsLog({ remote, listen: listener.spec.host, reason: lowMemory }, 'TLS connection refused');
      this.notify('connectionFailed', {
        proto: 'tls',
        direction: 'in',
        local: listener.local,
        remote,
        domain: undefined,
        reason: lowMemory,
        stage: 'low_memory',
        peer: undefined,
      });
      return;
    }
    this.handshaking.add(raw);
    // A shared listener that stays: no closure outlives the handshake (it would keep its whole
    // context, deadline and timer included, for the life of the connection), and removing a listener
    // can turn the socket's listener table into a slower, larger dictionary.
    raw.on('close', this.forgetHandshaking);
    const deadline = new HandshakeDeadline(raw, this.settings.handshakeTimeoutMs);
    acceptTls(raw, listener.local, this.tls, {
      keyLog: this.keyLogConsumers > 0,
      replying: () => deadline.restart(),
    })
      .then(async ({ socket, info, keyLog }) => {
        deadline.clear();
        try {
          await this.passHook('in', socket, listener.local, remote, info);
        } finally {
          this.handshaking.delete(raw);
        }
        if (raw.destroyed) return;
        const conn = this.adopt('tls', 'in', socket, listener.local, remote, info, keyLog);
        this.tlsLog({ conn: conn.id, remote, tls: info }, 'TLS connection accepted');
      })
      .catch((caught: Error) => {
        deadline.clear();
        const domain = caught instanceof ConnectionError ? caught.domain : undefined;
        // The deadline's own reason, not the "peer closed" its destroy() makes the accept see.
        const err = deadline.expired ? new ConnectionError(deadline.expired, 'handshake', domain) : caught;
        // An alert being flushed (raw.end) gets a moment to reach the client.
        if (raw.writableEnded) setTimeout(() => raw.destroy(), 1000);
        else raw.destroy();
        this.tlsLog({ remote, listen: listener.spec.host, reason: err.message }, 'TLS connection refused');
        const known = err instanceof ConnectionError ? err : undefined;
        this.notify('connectionFailed', {
          proto: 'tls',
          direction: 'in',
          local: listener.local,
          remote,
          domain: known?.domain,
          reason: err.message,
          stage: stageOf(err),
          peer: known?.peer,
        });
      });
  }

  /** Per-socket TLS settings: renegotiation refusal and the record size. */
  private secure(socket: TLSSocket): void {
    if (!this.settings.renegotiation) socket.disableRenegotiation();
    if (this.settings.maxSendFragment !== undefined) socket.setMaxSendFragment(this.settings.maxSendFragment);
  }

  private adopt(
    proto: 'tcp' | 'tls',
    direction: 'in' | 'out',
    socket: Socket,
    local: Endpoint,
    remote: Endpoint,
    tls?: TlsSessionInfo,
    keyLog?: readonly string[],
  ): StreamConnection {
    if (proto === 'tls') this.secure(socket as TLSSocket);
    const conn = new StreamConnection(
      proto,
      direction,
      socket,
      local,
      remote,
      this.settings,
      this.budget,
      this.connectionEvents,
    );
    conn.tls = tls;
    if (keyLog) conn.keyLog = keyLog;
    this.connections.add(conn);
    this.notify('connectionOpened', conn);
    return conn;
  }
}

/**
 * Whether an outbound connection was made with the client domain chosen now: same name and, when
 * both are known, the same certificate (a reload may have given the name another one).
 */
function sameClientDomain(tls: TlsSessionInfo | undefined, choice: ClientDomain): boolean {
  if (!tls || tls.domain !== choice.domain) return false;
  const now = choice.certificate?.fingerprint256;
  const then = tls.localCertificate?.fingerprint256;
  return now === undefined || then === undefined || now === then;
}
