// Shared shapes of the transport layer.
import type { Proto } from './listen-spec.js';

export interface Endpoint {
  address: string;
  port: number;
}

/** What TLS negotiated on a connection, computed once when the handshake completes. */
export interface TlsSessionInfo {
  domain: string;
  serverName: string | undefined;
  protocol: string | null;
  cipher: string;
  /** The peer presented a certificate that verified against the domain's CAs. */
  peerVerified: boolean;
  /** OpenSSL's reason when the peer's certificate did not verify (or was absent). */
  verifyError: string | undefined;
}

/** A framed message as the transport hands it up, with where it came from. */
export interface Inbound {
  data: Buffer;
  proto: Proto;
  local: Endpoint;
  remote: Endpoint;
  /** Set for TCP/TLS: the connection the message arrived on. */
  connectionId?: number;
  tls?: TlsSessionInfo;
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
