// Configuration keys of the SQL domain source, named as OpenSIPS tls_mgm names its modparams (seeds
// 000 §1.8.16–1.8.32). `dbConfigShape` is merged into the main schema (src/config/schema.ts).
import { z } from 'zod';
import { parseDbUrl } from './url.js';

/** Table and column names are spliced into SQL (quoted): plain identifiers only. */
const identifier = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, {
  error: 'expected a table or column name: letters, digits and _, not starting with a digit, at most 64',
});

export const TLS_MGM_TABLE = 'tls_mgm';
/** The table version sipsd reads and writes: OpenSIPS 3.x. */
export const TLS_MGM_VERSION = 3;

/** Column keys, each with its OpenSIPS default name. */
export const COLUMN_DEFAULTS = {
  domain_col: 'domain',
  match_ip_address_col: 'match_ip_address',
  match_sip_domain_col: 'match_sip_domain',
  tls_method_col: 'method',
  verify_cert_col: 'verify_cert',
  require_cert_col: 'require_cert',
  certificate_col: 'certificate',
  private_key_col: 'private_key',
  crl_check_all_col: 'crl_check_all',
  crl_dir_col: 'crl_dir',
  ca_list_col: 'ca_list',
  ca_dir_col: 'ca_dir',
  cipher_list_col: 'cipher_list',
  dh_params_col: 'dh_params',
  ec_curve_col: 'ec_curve',
} as const;
export type ColumnKey = keyof typeof COLUMN_DEFAULTS;

const columns = Object.fromEntries(
  Object.entries(COLUMN_DEFAULTS).map(([key, name]) => [key, identifier.default(name)]),
) as { [K in ColumnKey]: z.ZodDefault<typeof identifier> };

export const dbConfigShape = {
  /**
   * Where TLS domains are provisioned (table tls_mgm); unset: no database. `sqlite` is a file
   * sipsd.db beside the config; also sqlite:///path, postgres://..., mysql://...
   */
  db_url: z
    .string()
    .min(1)
    .refine((url) => !('error' in parseDbUrl(url, '.')), {
      error: (iss) => {
        const parsed = parseDbUrl(String(iss.input), '.');
        return 'error' in parsed ? parsed.error : 'invalid db_url';
      },
    })
    .optional(),
  db_table: identifier.default(TLS_MGM_TABLE),
  ...columns,
};

export const dbConfigSchema = z.object(dbConfigShape);
export type DbConfig = z.infer<typeof dbConfigSchema>;

/** The settings with every default applied (for callers without a configuration file). */
export function defaultDbConfig(dbUrl?: string): DbConfig {
  return dbConfigSchema.parse({ db_url: dbUrl });
}
