// TLS domains provisioned in the OpenSIPS `tls_mgm` table (seeds 000 §1.4, 001 §1.4): read again on
// every reload. Each row becomes a native `TlsDomainInput` and goes through normalizeDomain, so
// the defaults of NULL columns are the module's, applied in the one place; PEM BLOBs become inline
// PemRefs. A row that cannot be used is skipped with a warning naming its id, domain and column,
// and the others load. An unreachable database fails the read (the manager keeps the running
// snapshot) with a message that names the database without its password.
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { DbConfig } from '../../db/config.js';
import { DbError, type Db, type SqlValue } from '../../db/db.js';
import { TlsMgmTable, type TlsMgmField, type TlsMgmRow } from '../../db/tls-mgm.js';
import { normalizeDomain, type PemRef, type TlsDomain, type TlsDomainInput } from '../domain.js';
import { digestOf } from '../load-cache.js';
import type { DomainSourceReader } from '../manager.js';
import { CERTIFICATE, DH_PARAMETERS, PRIVATE_KEY, pemBlocks } from '../pem-files.js';

export interface SqlDomainOptions {
  /** Folder of the main config: NULL certificate/private_key mean tls/cert.pem, tls/ckey.pem there. */
  baseDir: string;
  /** Rows per query; the event loop gets a turn between pages. */
  pageSize?: number;
}

export interface SqlDomainSource extends DomainSourceReader {
  /** Closes the database connection (at server stop). */
  close(): Promise<void>;
}

export const DEFAULT_PAGE_SIZE = 250;

/** Input keys whose column name differs from the key (normalizeDomain reports by input key). */
const COLUMN_OF_INPUT: Partial<Record<keyof TlsDomainInput, TlsMgmField>> = { tls_method: 'method' };

const PEM_COLUMNS = {
  certificate: { label: CERTIFICATE, what: 'certificate (BEGIN CERTIFICATE)' },
  private_key: { label: PRIVATE_KEY, what: 'private key (BEGIN PRIVATE KEY)' },
  ca_list: { label: CERTIFICATE, what: 'CA certificate (BEGIN CERTIFICATE)' },
  dh_params: { label: DH_PARAMETERS, what: 'DH parameters (BEGIN DH PARAMETERS)' },
} as const;
type PemColumn = keyof typeof PEM_COLUMNS;

/** Stands in for an inline PEM so normalizeDomain applies its rules for a set value; replaced after. */
const INLINE = 'inline-pem';

class RowProblem extends Error {
  readonly problems: RowIssue[];

  constructor(field: string, reason: string, more: RowIssue[] = []) {
    super(reason);
    this.problems = [{ field, reason }, ...more];
  }
}

function text(row: TlsMgmRow, field: TlsMgmField): string | undefined {
  const v = row[field];
  if (v === null) return undefined;
  const s = (Buffer.isBuffer(v) ? v.toString('utf8') : String(v)).trim();
  // An empty string is how many tools write "not set" into a CHAR column.
  return s === '' ? undefined : s;
}

/** OpenSIPS's comma-separated filters; NULL or empty means `*`. */
function list(row: TlsMgmRow, field: TlsMgmField): string[] | undefined {
  const items = text(row, field)
    ?.split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return items && items.length > 0 ? items : undefined;
}

/** NULL: the module default; any other integer: off when 0, on otherwise (as OpenSIPS reads it). */
function flag(row: TlsMgmRow, field: TlsMgmField): boolean | undefined {
  const v = row[field];
  if (v === null) return undefined;
  const n = typeof v === 'number' ? v : Number(String(v).trim());
  if (!Number.isInteger(n))
    throw new RowProblem(field, `"${String(v)}" is not an integer (0 = off, 1 = on, NULL = default)`);
  return n !== 0;
}

/**
 * PEM values already read in this pass, by content digest and column: rows sharing material (one CA
 * list, a wildcard certificate) share one checked Buffer, so it is checked, kept in memory and
 * parsed later (by digest) once.
 */
export type PemPool = Map<string, Buffer>;

function pem(row: TlsMgmRow, field: PemColumn, pool: PemPool): Buffer | undefined {
  const v = row[field];
  if (v === null) return undefined;
  // A TEXT column (or SQLite's dynamic typing) gives a string: the same bytes to OpenSSL.
  const data = Buffer.isBuffer(v) ? v : Buffer.from(String(v), 'utf8');
  if (data.length === 0) return undefined;
  const key = `${field}|${digestOf(data)}`;
  const known = pool.get(key);
  if (known) return known;
  if (pemBlocks(data.toString('latin1'), PEM_COLUMNS[field].label).length === 0) {
    throw new RowProblem(field, `no PEM ${PEM_COLUMNS[field].what} block in the ${data.length}-byte value`);
  }
  pool.set(key, data);
  return data;
}

function domainType(v: SqlValue): 'client' | 'server' {
  const n = Number(v);
  if (n === 1) return 'client';
  if (n === 2) return 'server';
  throw new RowProblem('type', `${String(v)} is not a domain type (1 = client, 2 = server)`);
}

/** What makes a row unusable; `field` is the column's default name. */
export type RowIssue = { field: string; reason: string };

/**
 * One row as a domain, or what makes it unusable. `table` names the inline PEM values in later
 * messages; `baseDir` is the main config's folder. Also used by `sipsd db add-domain` to check a
 * row before it is written.
 */
export function tlsMgmRowToDomain(
  row: TlsMgmRow,
  table: string,
  baseDir: string,
  pool: PemPool = new Map(),
): TlsDomain | { problems: RowIssue[] } {
  try {
    return rowToDomain(row, Number(row.id), table, baseDir, pool);
  } catch (err) {
    if (!(err instanceof RowProblem)) throw err;
    return { problems: err.problems };
  }
}

function rowToDomain(row: TlsMgmRow, id: number, table: string, baseDir: string, pool: PemPool): TlsDomain {
  const name = text(row, 'domain');
  if (name === undefined) throw new RowProblem('domain', 'empty domain name');
  const pems = {
    certificate: pem(row, 'certificate', pool),
    private_key: pem(row, 'private_key', pool),
    ca_list: pem(row, 'ca_list', pool),
    dh_params: pem(row, 'dh_params', pool),
  };
  const input: TlsDomainInput = {
    name,
    type: domainType(row.type),
    match_ip_address: list(row, 'match_ip_address'),
    match_sip_domain: list(row, 'match_sip_domain'),
    tls_method: text(row, 'method'),
    verify_cert: flag(row, 'verify_cert'),
    require_cert: flag(row, 'require_cert'),
    crl_check_all: flag(row, 'crl_check_all'),
    crl_dir: text(row, 'crl_dir'),
    ca_dir: text(row, 'ca_dir'),
    cipher_list: text(row, 'cipher_list'),
    ec_curve: text(row, 'ec_curve'),
    certificate: pems.certificate && INLINE,
    private_key: pems.private_key && INLINE,
    ca_list: pems.ca_list && INLINE,
    dh_params: pems.dh_params && INLINE,
  };
  // The table is OpenSIPS's, and OpenSIPS does not check server names: as for imported configs.
  const d = normalizeDomain(input, {
    source: { kind: 'db', row: id },
    baseDir,
    verifyServerNameDefault: false,
  });
  if (Array.isArray(d)) {
    const [first, ...more] = d.map((p) => ({
      field: COLUMN_OF_INPUT[p.field as keyof TlsDomainInput] ?? p.field,
      reason: p.reason,
    }));
    throw new RowProblem(first!.field, first!.reason, more);
  }
  const inline = (field: PemColumn, fallback: PemRef | undefined): PemRef | undefined => {
    const data = pems[field];
    return data ? { pem: data, label: `${table} row ${id} ${field}` } : fallback;
  };
  return {
    ...d,
    certificate: inline('certificate', d.certificate),
    privateKey: inline('private_key', d.privateKey),
    caList: inline('ca_list', d.caList),
    dhParams: inline('dh_params', d.dhParams),
  };
}

/**
 * The `tls_mgm` table as a domain source. Rows are read in pages of `pageSize` by ascending id,
 * with a turn of the event loop between pages, so a large table never stalls SIP traffic.
 */
export function sqlDomainSource(db: Db, dbConfig: DbConfig, opts: SqlDomainOptions): SqlDomainSource {
  const table = new TlsMgmTable(db, dbConfig);
  const pageSize = opts.pageSize ?? DEFAULT_PAGE_SIZE;
  const column = (field: string) => (field in table.names ? table.names[field as TlsMgmField] : field);

  async function readAll(): Promise<{ domains: TlsDomain[]; warnings: string[] }> {
    const domains: TlsDomain[] = [];
    const warnings: string[] = [];
    const seen = new Map<string, number>();
    const pool: PemPool = new Map();
    await table.version();
    let after = 0;
    for (;;) {
      const rows = await table.page(after, pageSize);
      for (const row of rows) {
        const id = Number(row.id);
        const name = text(row, 'domain') ?? '';
        const skip = (problems: RowIssue[]) => {
          const what = problems.map((p) => `${column(p.field)}: ${p.reason}`).join('; ');
          warnings.push(`${table.table} row ${id} (domain "${name}"): ${what}; row skipped`);
        };
        const d = tlsMgmRowToDomain(row, table.table, opts.baseDir, pool);
        if ('problems' in d) {
          skip(d.problems);
          continue;
        }
        const key = `${d.type}:${d.name}`;
        const first = seen.get(key);
        // Only a table without OpenSIPS's unique (domain, type) key can hold these.
        if (first !== undefined) {
          skip([{ field: 'domain', reason: `${d.type} domain "${d.name}" is row ${first} already` }]);
          continue;
        }
        seen.set(key, id);
        domains.push(d);
      }
      if (rows.length < pageSize) break;
      after = Number(rows.at(-1)!.id);
      await nextTurn();
    }
    return { domains, warnings };
  }

  return {
    kind: 'db',
    async read() {
      try {
        return await readAll();
      } catch (err) {
        if (!(err instanceof DbError)) throw err;
        const hint = err.kind === 'no-table' ? ' (create the table with `sipsd db init`)' : '';
        throw new Error(`table ${table.table}: ${err.message}${hint}`);
      }
    },
    close: () => db.close(),
  };
}
