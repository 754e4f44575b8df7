// Configuration keys of the TLS transport: how connections are written to, reused, resumed and
// protected (OpenSIPS proto_tls and Kamailio tls names). Meanings: docs/configuration.md.
import { z } from 'zod';
import { flag, int, messageLevel } from './fields.js';

export const tlsTransportShape = {
  /** OpenSIPS tls_async: writes and connects never block in Node; 0 is accepted and changes nothing. */
  tls_async: flag.default(true),
  /** Messages that may wait for a socket whose buffer is full, per connection (OpenSIPS). */
  tls_async_max_postponed_chunks: int(1).default(32),
  /** Milliseconds an outbound TLS connection's TCP connect may take (OpenSIPS). */
  tls_async_local_connect_timeout: int(1).default(100),
  /** OpenSIPS' blocking-phase handshake budget; Node never blocks, tls_handshake_timeout is the deadline. */
  tls_async_handshake_timeout: int(1).default(10),
  /** Bytes that may wait to be written on one connection (Kamailio). */
  con_ct_wq_max: int(1).default(64 * 1024),
  /** Bytes that may wait to be written over all connections (Kamailio). */
  ct_wq_max: int(1).default(10 * 1024 * 1024),
  /** Reuse an outbound TLS connection only if it was made with the client domain chosen now (OpenSIPS). */
  cert_check_on_conn_reusage: flag.default(false),
  /** Kamailio's name for cert_check_on_conn_reusage; either one turns the check on. */
  tls_connection_match_domain: flag.default(false),
  /** Allow client-initiated renegotiation (TLS 1.2); refused with the connection closed otherwise. */
  renegotiation: flag.default(false),
  /** Send a TLS close_notify alert before closing a connection. */
  send_close_notify: flag.default(false),
  /** Resume TLS 1.2 sessions by session id from a server-side cache. */
  session_cache: flag.default(false),
  /** Session id context: sessions resume only within the same context (and domain). */
  session_id: z.string().min(1).default('sipsd-tls'),
  /** Issue session tickets (TLS 1.2 tickets and TLS 1.3 resumption). */
  session_tickets: flag.default(false),
  /** Free V8 heap (KB) under which new TLS connections are refused; -1 = default, 0 = off. */
  low_mem_threshold1: int(-1).default(-1),
  /** Free V8 heap (KB) under which established TLS connections are closed on use; -1 = default, 0 = off. */
  low_mem_threshold2: int(-1).default(-1),
  /** Plaintext bytes per TLS record sent, 512–16384; -1 = OpenSSL's default (16384). */
  ssl_max_send_fragment: int(-1, 16384)
    .refine((n) => n === -1 || n >= 512, { error: 'must be -1 or between 512 and 16384' })
    .default(-1),
  /** Log level of TLS connection messages: a Kamailio number (3 = debug) or a level name. */
  tls_log: messageLevel.default('debug'),
  /** Turn TLS off: tls listen entries are skipped and outbound TLS fails (Kamailio core). */
  disable_tls: flag.default(false),
  /** Kamailio core name of tls_port. */
  tls_port_no: int(0, 65535).optional(),
};
