// The OpenSIPS 3.x `tls_mgm` table (version 3) and its row in OpenSIPS's `version` table: schema
// per dialect, and the few statements sipsd runs on it. Table and column names come from the
// configuration (db_table, *_col); rows are returned under the default column names whatever the
// real ones are, so readers need not know about renames. What a row means is the TLS layer's
// business (src/tls/sources/sql-domains.ts).
import { COLUMN_DEFAULTS, TLS_MGM_VERSION, type ColumnKey, type DbConfig } from './config.js';
import { DbError, type Db, type Dialect, type SqlValue } from './db.js';

/** The default name of each configurable column, used as the key of row objects. */
export type TlsMgmField = (typeof COLUMN_DEFAULTS)[ColumnKey];
export const TLS_MGM_FIELDS = Object.values(COLUMN_DEFAULTS) as TlsMgmField[];

/** OpenSIPS's `type` column. */
export const DOMAIN_TYPE = { client: 1, server: 2 } as const;

/** A raw row: `id`, `type` and every configurable column by its default name. */
export type TlsMgmRow = { id: SqlValue; type: SqlValue } & Record<TlsMgmField, SqlValue>;

/** What `sipsd db add-domain` writes; columns left out get the table's defaults. */
export type NewTlsMgmRow = { domain: string; type: 1 | 2 } & Partial<
  Record<Exclude<TlsMgmField, 'domain'>, SqlValue>
>;

type ColumnType =
  'id' | 'name' | 'text' | 'short' | 'int' | 'blob' | 'bigblob' | 'versionName' | 'versionInt';

const TYPES: Record<Dialect, Record<ColumnType, string> & { tableSuffix: string }> = {
  sqlite: {
    id: 'INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL',
    name: 'CHAR(64)',
    text: 'CHAR(255)',
    short: 'CHAR(16)',
    int: 'INTEGER',
    blob: 'BLOB',
    bigblob: 'BLOB',
    versionName: 'CHAR(32)',
    versionInt: 'INTEGER',
    tableSuffix: '',
  },
  postgres: {
    id: 'SERIAL PRIMARY KEY NOT NULL',
    name: 'VARCHAR(64)',
    text: 'VARCHAR(255)',
    short: 'VARCHAR(16)',
    int: 'INTEGER',
    blob: 'BYTEA',
    bigblob: 'BYTEA',
    versionName: 'VARCHAR(32)',
    versionInt: 'INTEGER',
    tableSuffix: '',
  },
  mysql: {
    id: 'INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL',
    name: 'CHAR(64)',
    text: 'CHAR(255)',
    short: 'CHAR(16)',
    int: 'INT',
    blob: 'BLOB',
    // A CA bundle easily outgrows BLOB's 64 KiB.
    bigblob: 'MEDIUMBLOB',
    versionName: 'CHAR(32)',
    versionInt: 'INT UNSIGNED',
    tableSuffix: ' ENGINE=InnoDB',
  },
};

/** Column definitions in OpenSIPS's order, with OpenSIPS's defaults. */
const COLUMNS: ReadonlyArray<{ field: TlsMgmField | 'id' | 'type'; type: ColumnType; extra: string }> = [
  { field: 'id', type: 'id', extra: '' },
  { field: 'domain', type: 'name', extra: ' NOT NULL' },
  { field: 'match_ip_address', type: 'text', extra: ' DEFAULT NULL' },
  { field: 'match_sip_domain', type: 'text', extra: ' DEFAULT NULL' },
  { field: 'type', type: 'int', extra: ' DEFAULT 1 NOT NULL' },
  { field: 'method', type: 'short', extra: " DEFAULT 'SSLv23'" },
  { field: 'verify_cert', type: 'int', extra: ' DEFAULT 1' },
  { field: 'require_cert', type: 'int', extra: ' DEFAULT 1' },
  { field: 'certificate', type: 'blob', extra: '' },
  { field: 'private_key', type: 'blob', extra: '' },
  { field: 'crl_check_all', type: 'int', extra: ' DEFAULT 0' },
  { field: 'crl_dir', type: 'text', extra: ' DEFAULT NULL' },
  { field: 'ca_list', type: 'bigblob', extra: ' DEFAULT NULL' },
  { field: 'ca_dir', type: 'text', extra: ' DEFAULT NULL' },
  { field: 'cipher_list', type: 'text', extra: ' DEFAULT NULL' },
  { field: 'dh_params', type: 'blob', extra: ' DEFAULT NULL' },
  { field: 'ec_curve', type: 'text', extra: ' DEFAULT NULL' },
];

export interface InitResult {
  /** False when the version row was there already (the table too, then). */
  created: boolean;
}

export class TlsMgmTable {
  readonly table: string;
  /** The real name of each column (renamed by the *_col settings). */
  readonly names: Readonly<Record<TlsMgmField | 'id' | 'type', string>>;

  constructor(
    readonly db: Db,
    config: DbConfig,
  ) {
    this.table = config.db_table;
    const renamed = Object.fromEntries(
      (Object.entries(COLUMN_DEFAULTS) as Array<[ColumnKey, TlsMgmField]>).map(([key, field]) => [
        field,
        config[key],
      ]),
    ) as Record<TlsMgmField, string>;
    this.names = { id: 'id', type: 'type', ...renamed };
  }

  /** Where messages say a row comes from, e.g. `tls_mgm (postgres://sipsd:***@db/sipsd)`. */
  get label(): string {
    return `${this.table} (${this.db.label})`;
  }

  /** Creates the version table, the domain table and its version row, keeping what exists. */
  async init(): Promise<InitResult> {
    const t = TYPES[this.db.dialect];
    const q = this.q;
    await this.db.exec(
      `CREATE TABLE IF NOT EXISTS ${q('version')} (${q('table_name')} ${t.versionName} NOT NULL, ` +
        `${q('table_version')} ${t.versionInt} DEFAULT 0 NOT NULL, ` +
        `CONSTRAINT ${q('t_name_idx')} UNIQUE (${q('table_name')}))${t.tableSuffix}`,
    );
    const version = await this.version();
    const columns = COLUMNS.map((c) => `${q(this.names[c.field])} ${t[c.type]}${c.extra}`);
    await this.db.exec(
      `CREATE TABLE IF NOT EXISTS ${q(this.table)} (${columns.join(', ')}, ` +
        `CONSTRAINT ${q(`${this.table}_domain_type_idx`)} UNIQUE (${q(this.names.domain)}, ${q('type')}))${t.tableSuffix}`,
    );
    if (version === undefined) {
      await this.db.exec(
        `INSERT INTO ${q('version')} (${q('table_name')}, ${q('table_version')}) VALUES (?, ?)`,
        [this.table, TLS_MGM_VERSION],
      );
    }
    // A table that existed before may lack a (renamed) column: say so now, not at the first load.
    await this.db.query(`${this.selectList()} WHERE 1 = 0`);
    return { created: version === undefined };
  }

  /**
   * The table's version from OpenSIPS's `version` table; undefined if it has no row (or there is no
   * version table: tables made by hand are read all the same). Throws if the version is not 3:
   * version 2 (OpenSIPS 2.x) has `address` instead of the match columns.
   */
  async version(): Promise<number | undefined> {
    const q = this.q;
    let rows;
    try {
      rows = await this.db.query(
        `SELECT ${q('table_version')} AS v FROM ${q('version')} WHERE ${q('table_name')} = ?`,
        [this.table],
      );
    } catch (err) {
      if (err instanceof DbError && err.kind === 'no-table') return undefined;
      throw err;
    }
    const v = rows[0]?.['v'];
    if (v === undefined || v === null) return undefined;
    if (Number(v) !== TLS_MGM_VERSION) {
      throw new DbError(
        'query',
        `${this.label}: the version table says version ${String(v)}; sipsd reads version ${TLS_MGM_VERSION} ` +
          `(OpenSIPS 3.x: match_ip_address and match_sip_domain instead of address); migrate the table first`,
      );
    }
    return TLS_MGM_VERSION;
  }

  /** Up to `limit` rows with an id above `afterId`, in id order: pages that never skip nor repeat. */
  async page(afterId: number, limit: number): Promise<TlsMgmRow[]> {
    const q = this.q;
    return (await this.db.query(`${this.selectList()} WHERE ${q('id')} > ? ORDER BY ${q('id')} LIMIT ?`, [
      afterId,
      limit,
    ])) as TlsMgmRow[];
  }

  /** Inserts a row; resolves to its id. A (domain, type) that exists is a DbError of kind `duplicate`. */
  async insert(row: NewTlsMgmRow): Promise<number> {
    const q = this.q;
    const entries = Object.entries(row) as Array<[TlsMgmField | 'type', SqlValue | undefined]>;
    const set = entries.filter((e): e is [TlsMgmField | 'type', SqlValue] => e[1] !== undefined);
    await this.db.exec(
      `INSERT INTO ${q(this.table)} (${set.map(([f]) => q(this.names[f])).join(', ')}) VALUES (${set.map(() => '?').join(', ')})`,
      set.map(([, v]) => v),
    );
    const found = await this.db.query(
      `SELECT ${q('id')} AS id FROM ${q(this.table)} WHERE ${q(this.names.domain)} = ? AND ${q('type')} = ?`,
      [row.domain, row.type],
    );
    return Number(found[0]?.['id']);
  }

  /** Deletes the domain of that name and type; resolves to the number of rows deleted. */
  remove(domain: string, type: 1 | 2): Promise<number> {
    const q = this.q;
    return this.db.exec(
      `DELETE FROM ${q(this.table)} WHERE ${q(this.names.domain)} = ? AND ${q('type')} = ?`,
      [domain, type],
    );
  }

  private readonly q = (name: string) => this.db.ident(name);

  private selectList(): string {
    const q = this.q;
    const fields = ['id', 'type', ...TLS_MGM_FIELDS] as const;
    return `SELECT ${fields.map((f) => `${q(this.names[f])} AS ${q(f)}`).join(', ')} FROM ${q(this.table)}`;
  }
}
