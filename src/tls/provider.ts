// The contract between the transport and TLS management. The transport asks, per connection,
// which domain applies; TLS management answers from its current snapshot.
import type { Server as TlsServer, ConnectionOptions, TLSSocket } from 'node:tls';
import type { Endpoint } from '../transport/types.js';

/** A server-side choice: the handshake runs on `acceptor`, a never-listening tls.Server of the domain. */
export type ServerChoice = { ok: true; domain: string; acceptor: TlsServer } | { ok: false; reason: string };

export interface ClientHints {
  /** An explicit client domain name chosen by the script. */
  domain?: string;
  /** The SIP domain the request is for (e.g. the Request-URI host). */
  sipDomain?: string;
}

export type ClientChoice =
  { ok: true; domain: string; options: ConnectionOptions } | { ok: false; reason: string };

export interface TlsProvider {
  /** Chooses the server domain for a connection accepted on `local`, by the ClientHello's SNI. */
  serverFor(local: Endpoint, serverName: string | undefined): ServerChoice;
  /** After the handshake: the reason to refuse the peer under the domain's verification policy, if any. */
  admit(domain: string, socket: TLSSocket): string | undefined;
  /** Chooses the client domain and connection options for an outbound connection. */
  clientFor(remote: Endpoint, hints: ClientHints): ClientChoice;
}
