// Configuration keys of digest authentication, named after OpenSIPS's auth and auth_db parameters
// (`nonce_expire`, `calculate_ha1`, `use_domain`, `password_column`...). `authConfigShape` is meant
// to be spread into the main schema (src/config/schema.ts) next to `registrarConfigShape`.
import { z } from 'zod';
import { dbConfigShape } from '../../db/config.js';
import { flag, int } from '../../config/fields.js';
import { DIGEST_ALGORITHMS } from './digest.js';

/** A table or column name, validated as the tls_mgm names are (the same schema object). */
export const sqlIdentifier = dbConfigShape.db_table.unwrap();

/**
 * Users are told apart by user@domain rather than by user alone: in the subscriber lookup (the
 * realm is the domain) and in the registrar's address-of-record keys. Shared by both shapes.
 */
export const useDomainField = flag.default(false);

export const authConfigShape = {
  /** Database of the subscriber table; unset: the one of `db_url`. */
  auth_db_url: dbConfigShape.db_url,
  /** Table of users and their passwords (OpenSIPS: the `table` argument of www_authorize). */
  subscriber_table: sqlIdentifier.default('subscriber'),
  user_column: sqlIdentifier.default('username'),
  domain_column: sqlIdentifier.default('domain'),
  /**
   * The column read for MD5: a plain-text password with calculate_ha1, else the HA1 hash
   * MD5(user:realm:password). OpenSIPS's default, `ha1`; the seeds' example sets `password`.
   */
  password_column: sqlIdentifier.default('ha1'),
  /** The SHA-256 HA1 column, read for SHA-256 unless calculate_ha1 is set. */
  hash_column_sha256: sqlIdentifier.default('ha1_sha256'),
  /** Passwords are stored in plain text (in password_column): HA1 is computed for each algorithm. */
  calculate_ha1: flag.default(false),
  use_domain: useDomainField,
  /** Seconds a nonce stays valid; an older one is answered with `stale=true`. */
  nonce_expire: int(1, 86_400).default(30),
  /**
   * Key of the nonces' HMAC (OpenSIPS auth `secret`); unset: random at each start. Servers that
   * share it accept each other's nonces.
   */
  auth_secret: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
  /** Algorithms offered, one challenge header each, in this order (RFC 8760: strongest first). */
  auth_algorithms: z
    .array(z.enum(DIGEST_ALGORITHMS))
    .min(1, { error: 'at least one algorithm is needed' })
    .default([...DIGEST_ALGORITHMS]),
  /** Seconds a subscriber row (or its absence) is kept in memory; 0 reads the table every time. */
  auth_cache_ttl: int(0, 86_400).default(60),
};

export const authConfigSchema = z.object(authConfigShape);
export type AuthConfig = z.infer<typeof authConfigSchema>;

/** The settings with every default applied, and `overrides` on top (tests, embedders). */
export function defaultAuthConfig(overrides: Partial<z.input<typeof authConfigSchema>> = {}): AuthConfig {
  return authConfigSchema.parse(overrides);
}
