// What the transport reports about connections and the messages on them, for observers that are
// not on the data path (HEP tracing, metrics, logs). Observers are called synchronously and must
// not throw; a throwing observer is logged and the data path goes on.
import type { Proto } from './listen-spec.js';
import type { FailureStage } from './connection-error.js';
import type { Endpoint, PeerVerification, TlsSessionInfo } from './types.js';

/** A TCP/TLS connection as observers see it. */
export interface ConnectionView {
  readonly id: number;
  readonly proto: 'tcp' | 'tls';
  readonly direction: 'in' | 'out';
  readonly local: Endpoint;
  readonly remote: Endpoint;
  readonly tls: TlsSessionInfo | undefined;
  /**
   * The session's secrets as NSS key-log lines (what SSLKEYLOGFILE holds), so a capture can be
   * decrypted; collected only while a key-log consumer is registered (tracing on).
   */
  readonly keyLog: readonly string[];
}

/** A connection that never got established: TCP connect or TLS handshake failed or was refused. */
export interface ConnectionFailure {
  proto: 'tcp' | 'tls';
  direction: 'in' | 'out';
  local: Endpoint | undefined;
  remote: Endpoint;
  /** The TLS domain chosen before the failure, when one was. */
  domain: string | undefined;
  reason: string;
  /** Where it failed; `verification` failures carry the peer's certificate as classified. */
  stage: FailureStage;
  peer: PeerVerification | undefined;
}

/** A message as it crossed a socket (UDP datagrams have no connection). */
export interface MessageEvent {
  proto: Proto;
  local: Endpoint;
  remote: Endpoint;
  data: Buffer;
  connection: ConnectionView | undefined;
}

export interface TransportObserver {
  /** A connection is up: TCP accepted/connected, or TLS handshake done and the peer accepted. */
  connectionOpened?(conn: ConnectionView): void;
  connectionFailed?(failure: ConnectionFailure): void;
  connectionClosed?(conn: ConnectionView, reason: string): void;
  /** RFC 5923: the connection may now also be used to reach `alias`. */
  aliasAdded?(conn: ConnectionView, alias: Endpoint): void;
  messageReceived?(msg: MessageEvent): void;
  messageSent?(msg: MessageEvent): void;
}
