// Configuration keys of the registrar and its location table, named after OpenSIPS's registrar
// and usrloc parameters. `registrarConfigShape` is meant to be spread into the main schema
// (src/config/schema.ts) next to `authConfigShape`; both carry the same `use_domain`.
import { z } from 'zod';
import { dbConfigShape } from '../../db/config.js';
import { int } from '../../config/fields.js';
import { sqlIdentifier, useDomainField } from '../auth/config.js';

export const registrarConfigShape = {
  /** Seconds a binding lasts when the REGISTER says nothing (no expires parameter, no Expires). */
  default_expires: int(1).default(3600),
  /** Shortest registration accepted; shorter ones below an hour get 423 Interval Too Brief. */
  min_expires: int(0).default(60),
  /** Longest registration granted (longer requests are cut down); 0: no limit. */
  max_expires: int(0).default(0),
  /** Most bindings per address-of-record; a REGISTER adding more gets 503; 0: no limit. */
  max_contacts: int(0).default(0),
  use_domain: useDomainField,
  /** usrloc db_mode: 0 keeps bindings in memory only; 1 also writes them through to SQL. */
  usrloc_db_mode: int(0, 1).default(0),
  /** Database of the location table; unset: the one of `db_url`. */
  usrloc_db_url: dbConfigShape.db_url,
  /** The location table (OpenSIPS: the `domain` argument of save/lookup). */
  location_table: sqlIdentifier.default('location'),
  /** Seconds between sweeps of expired bindings (and retries of failed writes). */
  usrloc_timer_interval: int(1, 3600).default(60),
};

export const registrarConfigSchema = z.object(registrarConfigShape);
export type RegistrarConfig = z.infer<typeof registrarConfigSchema>;

export function defaultRegistrarConfig(
  overrides: Partial<z.input<typeof registrarConfigSchema>> = {},
): RegistrarConfig {
  return registrarConfigSchema.parse(overrides);
}
