// Shared shapes of the transport layer.
import type { X509Certificate } from 'node:crypto';
import type { Proto } from './listen-spec.js';

export interface Endpoint {
  address: string;
  port: number;
}

/** How the peer's certificate fared, classified once per connection. */
export interface PeerVerification {
  /** The peer sent a certificate. */
  presented: boolean;
  /** It chained to a trusted CA, is in its validity period and (where checked) not revoked. */
  verified: boolean;
  revoked: boolean;
  expired: boolean;
  selfSigned: boolean;
  /** OpenSSL-style code (e.g. CERT_HAS_EXPIRED) or our own (CERT_REVOKED), when not verified. */
  code: string | undefined;
  /** Human-readable reason when not verified. */
  reason: string | undefined;
}

/** What TLS negotiated on a connection, computed once when the handshake completes. */
export interface TlsSessionInfo {
  domain: string;
  /** The SNI: received (server side) or sent (client side). */
  serverName: string | undefined;
  protocol: string | null;
  cipher: string;
  /** Secret key bits of the cipher (e.g. 128, 256). */
  cipherBits: number;
  peer: PeerVerification;
  peerCertificate: X509Certificate | undefined;
  localCertificate: X509Certificate | undefined;
}

/** A framed message as the transport hands it up, with where it came from. */
export interface Inbound {
  data: Buffer;
  /** TCP/TLS: where the body starts in `data`, to pass to the parser (ParseOptions.bodyStart). */
  bodyStart?: number;
  proto: Proto;
  local: Endpoint;
  remote: Endpoint;
  /** Set for TCP/TLS: the connection the message arrived on. */
  connectionId?: number;
  tls?: TlsSessionInfo;
  /** Read by another worker, which passed it here (it is never passed on again). */
  forwardedBy?: number;
}

export interface SendTarget {
  proto: Proto;
  address: string;
  port: number;
  /** Prefer this connection (replies go back on the connection the request came in on). */
  connectionId?: number;
  /** TLS: SNI to send and name to verify; defaults to the address. */
  serverName?: string;
  /** TLS: explicit client domain / SIP domain chosen by the script. */
  tlsDomain?: string;
  sipDomain?: string;
}

/** The local socket a message leaves from, so the sender can build its Via. */
export interface SentFrom {
  proto: Proto;
  local: Endpoint;
  connectionId?: number;
}

/** How a send ends: with the socket the message left from, or with the reason it was not sent. */
export type SendCallback = (err: Error | null | undefined, from?: SentFrom) => void;

/**
 * The connections of the other workers of a multi-process server (cluster/worker.ts): a message
 * for a peer that is connected to another worker is written by that worker, the connection's owner.
 */
export interface PeerConnections {
  /** Another worker's connection that `target` names, or its inbound connection to the target. */
  connectionFor(target: SendTarget): { worker: number; id: number } | undefined;
  /** Has `worker` write `data` on its connection `id`; `done` as for any send. */
  send(worker: number, id: number, data: Buffer, done: SendCallback): void;
}
