// Creating a feature's table on any of the three databases, with its row in OpenSIPS's `version`
// table, and reading that version back. Used by the subscriber table here and by the registrar's
// location table; it depends on src/db only (see docs/auth-registrar.md for the schemas).
import { DbError, type Db, type Dialect } from '../../db/db.js';

/** Column kinds; `string` takes a size. */
export type ColumnType = 'id' | 'string' | 'text' | 'int' | 'bigint' | 'real';

export interface ColumnSpec {
  name: string;
  type: ColumnType;
  /** VARCHAR length for `string`. */
  size?: number;
  notNull?: boolean;
  /** SQL DEFAULT; null writes DEFAULT NULL, undefined writes none. */
  default?: string | number | null;
}

export interface TableSpec {
  table: string;
  /** The value written to, and expected in, the `version` table. */
  version: number;
  /** What the version means, for the message given when a table has another one. */
  describe: string;
  columns: readonly ColumnSpec[];
  /** UNIQUE constraints, by the columns they cover (named `<table>_<first column>_idx`). */
  unique?: ReadonlyArray<readonly string[]>;
}

const TYPES: Record<Dialect, Record<Exclude<ColumnType, 'string'>, string> & { suffix: string }> = {
  sqlite: {
    id: 'INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL',
    text: 'TEXT',
    int: 'INTEGER',
    bigint: 'INTEGER',
    real: 'REAL',
    suffix: '',
  },
  postgres: {
    id: 'SERIAL PRIMARY KEY NOT NULL',
    text: 'TEXT',
    int: 'INTEGER',
    bigint: 'BIGINT',
    real: 'DOUBLE PRECISION',
    suffix: '',
  },
  mysql: {
    id: 'INT UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL',
    text: 'TEXT',
    int: 'INT',
    bigint: 'BIGINT',
    real: 'DOUBLE',
    suffix: ' ENGINE=InnoDB',
  },
};

function columnSql(db: Db, c: ColumnSpec): string {
  const types = TYPES[db.dialect];
  let sql = `${db.ident(c.name)} ${c.type === 'string' ? `VARCHAR(${c.size ?? 255})` : types[c.type]}`;
  if (c.default === null) sql += ' DEFAULT NULL';
  else if (typeof c.default === 'number') sql += ` DEFAULT ${c.default}`;
  else if (typeof c.default === 'string') sql += ` DEFAULT '${c.default.replaceAll("'", "''")}'`;
  if (c.notNull) sql += ' NOT NULL';
  return sql;
}

/**
 * The table's version from the `version` table; undefined when it has no row or there is no
 * version table (tables made by hand are used all the same).
 */
export async function tableVersion(db: Db, table: string): Promise<number | undefined> {
  const q = (n: string) => db.ident(n);
  try {
    const rows = await db.query(
      `SELECT ${q('table_version')} AS v FROM ${q('version')} WHERE ${q('table_name')} = ?`,
      [table],
    );
    const v = rows[0]?.['v'];
    return v === undefined || v === null ? undefined : Number(v);
  } catch (err) {
    if (err instanceof DbError && err.kind === 'no-table') return undefined;
    throw err;
  }
}

/**
 * Creates the version table, the table and its version row, keeping what exists; a version row
 * with another number is refused (the columns would not be what sipsd reads). Resolves to whether
 * the version row was written now.
 */
export async function createVersionedTable(db: Db, spec: TableSpec): Promise<{ created: boolean }> {
  const q = (n: string) => db.ident(n);
  const suffix = TYPES[db.dialect].suffix;
  await db.exec(
    `CREATE TABLE IF NOT EXISTS ${q('version')} (${q('table_name')} VARCHAR(32) NOT NULL, ` +
      `${q('table_version')} INTEGER DEFAULT 0 NOT NULL, ` +
      `CONSTRAINT ${q('t_name_idx')} UNIQUE (${q('table_name')}))${suffix}`,
  );
  const version = await tableVersion(db, spec.table);
  if (version !== undefined && version !== spec.version) {
    throw new DbError(
      'query',
      `${spec.table} (${db.label}): the version table says version ${version}; sipsd uses version ` +
        `${spec.version} (${spec.describe}); use another table name or migrate the table`,
    );
  }
  const parts = spec.columns.map((c) => columnSql(db, c));
  for (const cols of spec.unique ?? []) {
    parts.push(
      `CONSTRAINT ${q(`${spec.table}_${cols[0]}_idx`)} UNIQUE (${cols.map((c) => q(c)).join(', ')})`,
    );
  }
  await db.exec(`CREATE TABLE IF NOT EXISTS ${q(spec.table)} (${parts.join(', ')})${suffix}`);
  if (version === undefined) {
    await db.exec(`INSERT INTO ${q('version')} (${q('table_name')}, ${q('table_version')}) VALUES (?, ?)`, [
      spec.table,
      spec.version,
    ]);
  }
  // A table that existed before may lack a column: say so now rather than at the first request.
  await db.query(`SELECT ${spec.columns.map((c) => q(c.name)).join(', ')} FROM ${q(spec.table)} WHERE 1 = 0`);
  return { created: version === undefined };
}
