// The contract between the transport and TLS management. The transport asks, per connection,
// which domain applies; TLS management answers from its current snapshot. A choice carries its
// own `inspect`, bound to the domain it was made with, so a reload never changes the rules for a
// handshake already under way.
import type { X509Certificate } from 'node:crypto';
import type { Server as TlsServer, ConnectionOptions, TLSSocket } from 'node:tls';
import type { Endpoint, PeerVerification } from '../transport/types.js';

/** The peer's certificate classified, plus the reason to refuse it under the domain's policy. */
export interface Inspection {
  peer: PeerVerification;
  /** The peer's leaf certificate, when it sent one. */
  certificate: X509Certificate | undefined;
  refusal?: string;
}

export interface ChosenDomain {
  domain: string;
  /** Classifies the peer after the handshake; called once per connection. */
  inspect(socket: TLSSocket): Inspection;
}

/** Server side: the handshake runs on `acceptor`, a never-listening tls.Server of the domain. */
export type ServerChoice =
  | (ChosenDomain & { ok: true; acceptor: TlsServer })
  | {
      ok: false;
      reason: string;
      /** Send this TLS alert before closing (e.g. unrecognized_name). */ alert?: number;
    };

export interface ClientHints {
  /** An explicit client domain name, or Kamailio server_id, chosen by the script. */
  domain?: string;
  /** The SIP domain the request is for (client_sip_domain_avp). */
  sipDomain?: string;
  /** Host name of the destination (SNI to send and name to check), if it was a name. */
  hostName?: string;
}

export type ClientChoice =
  | (ChosenDomain & {
      ok: true;
      options: ConnectionOptions;
      /** The domain's own certificate, if it has one (connection reuse compares it). */
      certificate: X509Certificate | undefined;
    })
  | { ok: false; reason: string };

export interface TlsProvider {
  /**
   * Chooses the server domain for a connection accepted on `local`, by the ClientHello's SNI.
   * Asynchronous because a domain's context may be built on first use.
   */
  serverFor(local: Endpoint, serverName: string | undefined): Promise<ServerChoice>;
  /** Chooses the client domain and connection options for an outbound connection. */
  clientFor(remote: Endpoint, hints: ClientHints): Promise<ClientChoice>;
}
