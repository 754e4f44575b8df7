// The typed configuration: one schema, validated with zod, keys named as operators know them from
// OpenSIPS/Kamailio. Defaults live here and nowhere else.
import { z } from 'zod';
import { PROTOS, parseListen } from '../transport/listen-spec.js';
import { DEFAULT_SIP_LIMITS } from '../sip/limits.js';
import { tlsDomainInputSchema } from '../tls/domain.js';
import { flag, int, path, port } from './fields.js';
import { MAX_WORKERS } from '../cluster/identity.js';
import { tlsTransportShape } from './tls-transport.js';
import { parseAlias } from '../features/routing/myself.js';

const aliasProblem = (text: string): string | undefined => {
  try {
    parseAlias(text);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
};
import { dbConfigShape } from '../db/config.js';
import { traceConfigShape } from '../trace/config.js';
import { dnsConfigShape } from '../dns/config.js';
import { tmConfigShape } from '../tm/config.js';
import { authConfigShape } from '../features/auth/config.js';
import { registrarConfigShape } from '../features/registrar/config.js';
import { kamailioCompatShape } from '../tls/compat-params.js';

const mgmtSchema = z.strictObject({
  /** `ip:port` of the JSON-RPC/HTTP management interface; loopback unless allow_remote is set. */
  listen: z.string().default('127.0.0.1:8888'),
  /** Bearer token required by the management interface (mandatory with allow_remote). */
  token: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
  allow_remote: flag.default(false),
  enabled: flag.default(true),
});

export const configSchema = z.strictObject({
  /** Sockets to listen on, `proto:ip[:port]`. */
  listen: z
    .array(
      z.string().refine((s) => parseListen(s, 5061).ok, {
        error: (iss) => {
          const r = parseListen(String(iss.input), 5061);
          return r.ok ? 'invalid listen entry' : r.reason;
        },
      }),
    )
    .min(1, { error: 'at least one listen entry is needed' })
    .default(['udp:127.0.0.1:5060', 'tcp:127.0.0.1:5060', 'tls:127.0.0.1:5061']),
  /** Other names of this server, `host[:port]` (OpenSIPS/Kamailio `alias`): is-myself and loose routing. */
  alias: z
    .array(
      z.string().refine((s) => aliasProblem(s) === undefined, {
        error: (iss) => aliasProblem(String(iss.input)) ?? 'invalid alias',
      }),
    )
    .default([]),
  /** Default TLS port for listeners and destinations without a port. */
  tls_port: port.default(5061),
  /** Path of the routing script (a TypeScript or JavaScript module); the built-in one if absent. */
  script: path.optional(),
  log_level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  /**
   * SIP worker processes (OpenSIPS tcp_workers/udp_workers, Kamailio children/tcp_children): with
   * more than one, a primary process hands each accepted connection to a worker before its TLS
   * handshake and serves the management interface; 1 runs everything in one process.
   */
  workers: int(1, MAX_WORKERS).default(1),

  /** Seconds a TCP/TLS connection may stay idle before it is closed; -1 keeps it forever. */
  connection_timeout: int(-1).default(600),
  /** Seconds within which a message started on a stream must be complete. */
  tcp_max_msg_time: int(1).default(4),
  /** Milliseconds an outbound TCP connect may take (also the first step of an outbound TLS connection). */
  tcp_connect_timeout: int(1).default(100),
  /** Milliseconds for the TLS handshake to complete (inbound and outbound). */
  tls_handshake_timeout: int(1).default(100),
  /** Milliseconds a write may make no progress before the connection is closed. */
  tls_send_timeout: int(1).default(100),
  /** Answer a CRLFCRLF keepalive ping with a CRLF pong (RFC 5626). */
  tls_crlf_pingpong: flag.default(true),
  /** Silently drop lone CRLF keepalives. */
  tls_crlf_drop: flag.default(false),
  /** Reads a message may arrive in before the connection is dropped; 0 = no limit. */
  tls_max_msg_chunks: int(0).default(4),
  /** Largest SIP message accepted, in bytes. */
  max_message_size: int(512, 16 * 1024 * 1024).default(DEFAULT_SIP_LIMITS.maxMessageSize),
  /** Most header lines accepted in one message. */
  max_headers: int(8, 10_000).default(DEFAULT_SIP_LIMITS.maxHeaders),
  /** Longest header line accepted, in bytes. */
  max_line_length: int(128, 1024 * 1024).default(DEFAULT_SIP_LIMITS.maxLineLength),

  /** Write queues, connection reuse, renegotiation, sessions and memory guards of TLS connections. */
  ...tlsTransportShape,

  /** TLS domains written in this file (kept across reloads; their files are re-read). */
  tls_domains: z.array(tlsDomainInputSchema).default([]),
  /** SQL-provisioned TLS domains (OpenSIPS tls_mgm table): db_url, db_table and the *_col names. */
  ...dbConfigShape,
  /** A Kamailio tls.cfg file with more domains, re-read on every reload. */
  tls_config: path.optional(),
  /** AVP whose value names the client domain to use for the next connection (OpenSIPS). */
  client_tls_domain_avp: z.string().min(1).optional(),
  /** AVP holding the SIP domain used to match client domains (OpenSIPS). */
  client_sip_domain_avp: z.string().min(1).optional(),
  /** Digest authentication and its subscriber table (docs/auth-registrar.md). */
  ...authConfigShape,
  /** The registrar and its location store (docs/auth-registrar.md). */
  ...registrarConfigShape,
  /** Transactions: T1/T2/T4, fr_timeout, fr_inv_timeout (docs/transactions.md). */
  ...tmConfigShape,
  /** RFC 3263 server location: resolvers, NAPTR/SRV use, cache and failover (docs/dns.md). */
  ...dnsConfigShape,
  /** HEP tracing of TLS connections and their SIP messages (docs/tracing.md). */
  ...traceConfigShape,
  /** Kamailio tls parameters kept for compatibility (docs/kamailio-compat.md). */
  ...kamailioCompatShape,
  mi: mgmtSchema.default({ listen: '127.0.0.1:8888', allow_remote: false, enabled: true }),
});

export type SipsdConfig = z.infer<typeof configSchema>;
export { PROTOS };
