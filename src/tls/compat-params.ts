// Kamailio tls module parameters (seeds 002 §10) accepted at the top of the config under their
// Kamailio names, beyond those the transport and the domain model implement: the OpenSSL engine
// (engine.ts), tls_debug, `config` (Kamailio's name for tls_config), and those Node's OpenSSL 3
// gives no meaning to. The latter are accepted so that a converted kamailio.cfg loads unchanged,
// and each one that is set yields a one-line notice at startup and in `sipsd check`: never
// silently ignored. Reference: docs/kamailio-compat.md.
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { flag, int, LOG_LEVELS, messageLevel, path } from '../config/fields.js';
import type { Logger, LogLevel } from '../log/logger.js';
import type { ConnectionView, TransportObserver } from '../transport/events.js';
import { engineAlgorithmFlags } from './engine.js';

/** Kamailio's booleans are integers (any non-zero is on), or yes/no, on/off, true/false. */
const kamailioFlag = z.preprocess((v) => (typeof v === 'number' && Number.isInteger(v) ? v !== 0 : v), flag);

const TRISTATE = {
  '-1': 'default',
  '0': 'off',
  '1': 'on',
  false: 'off',
  true: 'on',
  no: 'off',
  yes: 'on',
  off: 'off',
  on: 'on',
} as const;

/** Kamailio's -1 / 0 / 1 knobs, where -1 leaves OpenSSL's default alone. */
const tristate = z.preprocess(
  (v) =>
    typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string'
      ? (TRISTATE[String(v).trim().toLowerCase() as keyof typeof TRISTATE] ?? v)
      : v,
  z.enum(['default', 'off', 'on'], { error: 'expected -1 (keep the OpenSSL default), 0 or 1' }),
);

const RAND_ENGINES = ['krand', 'fastrand', 'cryptorand', 'kxlibssl'] as const;

export const kamailioCompatShape = {
  /** Kamailio's name for tls_config (a tls.cfg path); resolved against the config's folder. */
  config: path.optional(),
  /** Level of the TLS connection and read/write debug lines: Kamailio's number (L_DBG = 3) or a name. */
  tls_debug: messageLevel.optional(),
  /** OpenSSL engine id (e.g. pkcs11) for `/engine:` private keys and engine_algorithms; NONE: off. */
  engine: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, {
      error: 'expected an OpenSSL engine id such as pkcs11, or NONE (its folder goes in OPENSSL_ENGINES)',
    })
    .optional(),
  /** OpenSSL configuration file that sets the engine up (PIN...); must be in force from Node's start. */
  engine_config: path.optional(),
  /** Methods the engine becomes the default for: ALL, RSA, DSA, DH, EC, RAND, CIPHERS, DIGESTS, PKEY... */
  engine_algorithms: z
    .string()
    .refine((v) => !('error' in engineAlgorithmFlags(v)), {
      error: (iss) => {
        const r = engineAlgorithmFlags(String(iss.input));
        return 'error' in r ? r.error : 'invalid engine_algorithms';
      },
    })
    .optional(),
  // Accepted without effect on Node's OpenSSL 3 (see NO_EFFECT).
  tls_disable_compression: kamailioFlag.optional(),
  ssl_release_buffers: tristate.optional(),
  ssl_freelist_max_len: int(-1).optional(),
  ssl_read_ahead: tristate.optional(),
  ct_wq_blk_size: int(1, 65536).optional(),
  tls_force_run: kamailioFlag.optional(),
  rand_engine: z.enum(RAND_ENGINES, { error: `expected one of ${RAND_ENGINES.join(', ')}` }).optional(),
};

export type CompatSettings = z.infer<z.ZodObject<typeof kamailioCompatShape>>;

const ALWAYS_NO_COMPRESSION = "TLS compression is always off (Node removes OpenSSL's compression methods)";
const RELEASED = "Node's TLS sockets always release OpenSSL's buffers when idle (SSL_MODE_RELEASE_BUFFERS)";
const OWN_BUFFER = 'Node feeds OpenSSL from its own buffer and never enables read-ahead';

/** Why each parameter without a meaning here has none, worded for the value that was set. */
const NO_EFFECT: { [K in keyof CompatSettings]?: (value: NonNullable<CompatSettings[K]>) => string } = {
  tls_disable_compression: (on) =>
    `${on ? 'no effect' : 'compression cannot be turned on'}: ${ALWAYS_NO_COMPRESSION}`,
  ssl_release_buffers: (v) => `${v === 'off' ? 'cannot be turned off' : 'no effect'}: ${RELEASED}`,
  ssl_freelist_max_len: () => 'no effect: OpenSSL 1.1.0 and later keep no freelist of buffers',
  ssl_read_ahead: (v) => `${v === 'on' ? 'cannot be turned on' : 'no effect'}: ${OWN_BUFFER}`,
  ct_wq_blk_size: () =>
    'no effect: write queues hold whole messages, bounded by con_ct_wq_max and ct_wq_max, not blocks',
  tls_force_run: () =>
    "no effect: Node carries the OpenSSL it was built with, so Kamailio's library version checks cannot fail",
  rand_engine: () =>
    "no effect: sipsd is one process and uses OpenSSL's default random generator, which is safe there",
};

/**
 * One line per Kamailio parameter that is set but has no effect here, plus a warning when tls_debug
 * lines fall below `log_level` (as in Kamailio, they are then not shown).
 */
export function compatNotices(config: CompatSettings & { log_level?: string }): string[] {
  const notices: string[] = [];
  for (const [key, describe] of Object.entries(NO_EFFECT)) {
    const value = config[key as keyof CompatSettings];
    if (value !== undefined) notices.push(`${key}: ${(describe as (v: unknown) => string)(value)}`);
  }
  if (config.tls_debug !== undefined && config.log_level !== undefined) {
    const level = config.tls_debug;
    const threshold = LOG_LEVELS.indexOf(config.log_level as LogLevel);
    if (config.log_level === 'silent' || LOG_LEVELS.indexOf(level) < threshold) {
      notices.push(
        `tls_debug: TLS debug lines are logged at ${level}, below log_level ${config.log_level}: not shown`,
      );
    }
  }
  return notices;
}

/**
 * tls_debug: the nearest to what Kamailio's TLS_RD/WR_DEBUG builds log, from the transport's events:
 * each TLS connection's session (or failure) and close, and each SIP message read or written on it,
 * with its size. Message contents are never logged. Registered only when tls_debug is set.
 */
export function tlsDebugObserver(log: Logger, level: LogLevel): TransportObserver {
  const on = () => log.isLevelEnabled(level);
  const who = (c: ConnectionView) => ({
    conn: c.id,
    direction: c.direction,
    remote: `${c.remote.address}:${c.remote.port}`,
    domain: c.tls?.domain,
  });
  return {
    connectionOpened(c) {
      if (c.proto !== 'tls' || !on()) return;
      const t = c.tls;
      log[level](
        {
          ...who(c),
          protocol: t?.protocol,
          cipher: t?.cipher,
          serverName: t?.serverName,
          peerVerified: t?.peer.verified,
          peerCode: t?.peer.code,
        },
        'TLS debug: session established',
      );
    },
    connectionFailed(f) {
      if (f.proto !== 'tls' || !on()) return;
      log[level](
        {
          direction: f.direction,
          remote: `${f.remote.address}:${f.remote.port}`,
          domain: f.domain,
          reason: f.reason,
        },
        'TLS debug: connection failed',
      );
    },
    connectionClosed(c, reason) {
      if (c.proto === 'tls' && on()) log[level]({ ...who(c), reason }, 'TLS debug: connection closed');
    },
    messageReceived(m) {
      if (m.connection?.proto === 'tls' && on())
        log[level]({ ...who(m.connection), bytes: m.data.length }, 'TLS debug: read');
    },
    messageSent(m) {
      if (m.connection?.proto === 'tls' && on())
        log[level]({ ...who(m.connection), bytes: m.data.length }, 'TLS debug: write');
    },
  };
}

/**
 * The configuration with Kamailio's `config` applied as tls_config (relative to the config file's
 * folder, as tls_config is). Throws when both name different files.
 */
export function withTlsConfigAlias<
  T extends { tls_config?: string | undefined; config?: string | undefined },
>(config: T, configFile: string): T {
  if (config.config === undefined) return config;
  const aliased = isAbsolute(config.config) ? config.config : resolve(dirname(configFile), config.config);
  if (config.tls_config !== undefined && resolve(config.tls_config) !== aliased) {
    throw new Error(
      `config (${aliased}) and tls_config (${config.tls_config}) name different tls.cfg files: keep one ` +
        "(config is Kamailio's name for tls_config)",
    );
  }
  return { ...config, tls_config: aliased };
}
