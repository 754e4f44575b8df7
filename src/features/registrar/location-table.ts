// The `location` table: one row per binding, keyed by `ruid`. Its columns follow OpenSIPS's and
// Kamailio's usrloc tables where they mean the same (username, domain, contact, received, path,
// expires, q, callid, cseq, last_modified, user_agent, socket), but times are Unix seconds and the
// Contact's parameters have a column: it is sipsd's own schema (version 1), not OpenSIPS's.
import { DbError, type Db, type Row, type SqlValue } from '../../db/db.js';
import { splitHeaderValues } from '../../sip/index.js';
import { createVersionedTable, type ColumnSpec } from '../auth/sql-schema.js';
import type { Binding } from './binding.js';

export const LOCATION_VERSION = 1;

/** Columns in order, each with the Binding field it holds. */
const COLUMNS: ReadonlyArray<ColumnSpec & { field: keyof Binding }> = [
  { name: 'ruid', field: 'id', type: 'string', size: 64, notNull: true },
  { name: 'username', field: 'username', type: 'string', size: 64, notNull: true },
  { name: 'domain', field: 'domain', type: 'string', size: 64, notNull: true, default: '' },
  { name: 'contact', field: 'contact', type: 'text', notNull: true },
  { name: 'params', field: 'params', type: 'text' },
  { name: 'received', field: 'received', type: 'string', size: 255, default: null },
  { name: 'path', field: 'path', type: 'text' },
  { name: 'expires', field: 'expires', type: 'bigint', notNull: true },
  { name: 'q', field: 'q', type: 'real', default: null },
  { name: 'callid', field: 'callId', type: 'string', size: 255, notNull: true },
  { name: 'cseq', field: 'cseq', type: 'bigint', notNull: true },
  { name: 'last_modified', field: 'lastModified', type: 'bigint', notNull: true },
  { name: 'user_agent', field: 'userAgent', type: 'string', size: 255, default: null },
  { name: 'socket', field: 'socket', type: 'string', size: 128, default: null },
  { name: 'sip_instance', field: 'instance', type: 'string', size: 255, default: null },
  { name: 'reg_id', field: 'regId', type: 'int', default: null },
];

function toSql(binding: Binding, field: keyof Binding): SqlValue {
  const value = binding[field];
  if (field === 'path') return (value as readonly string[]).join(', ');
  return (value as SqlValue | undefined) ?? null;
}

/** A stored row back as a binding, or why sipsd cannot use it. */
export function rowToBinding(row: Row): Binding | string {
  const text = (name: string) => {
    const v = row[name];
    return v === null || v === undefined ? undefined : String(v);
  };
  const num = (name: string) => {
    const v = row[name];
    return v === null || v === undefined || v === '' ? undefined : Number(v);
  };
  const id = text('ruid');
  const username = text('username');
  const contact = text('contact');
  const expires = num('expires');
  if (!id || !username || !contact || expires === undefined || !Number.isFinite(expires))
    return `row ${String(row['id'])} lacks ruid, username, contact or expires`;
  const q = num('q');
  const path = text('path');
  return {
    id,
    username,
    domain: (text('domain') ?? '').toLowerCase(),
    contact,
    params: text('params') ?? '',
    // REAL columns may return 0.69999...: q has three decimals at most.
    q: q === undefined ? undefined : Math.round(q * 1000) / 1000,
    expires,
    callId: text('callid') ?? '',
    cseq: num('cseq') ?? 0,
    path: path ? splitHeaderValues(path) : [],
    received: text('received'),
    socket: text('socket'),
    userAgent: text('user_agent'),
    instance: text('sip_instance'),
    regId: num('reg_id'),
    lastModified: num('last_modified') ?? 0,
  };
}

export class LocationTable {
  constructor(
    readonly db: Db,
    readonly table: string,
  ) {}

  get label(): string {
    return `${this.table} (${this.db.label})`;
  }

  init(): Promise<{ created: boolean }> {
    return createVersionedTable(this.db, {
      table: this.table,
      version: LOCATION_VERSION,
      describe: "sipsd's location schema",
      columns: [{ name: 'id', type: 'id' }, ...COLUMNS],
      unique: [['ruid']],
    });
  }

  /** Up to `limit` rows with an id above `afterId`, in id order, with their ids. */
  async page(afterId: number, limit: number): Promise<Array<{ rowId: number; row: Row }>> {
    const q = this.q;
    const rows = await this.db.query(
      `SELECT ${['id', ...COLUMNS.map((c) => c.name)].map(q).join(', ')} FROM ${q(this.table)} ` +
        `WHERE ${q('id')} > ? ORDER BY ${q('id')} LIMIT ?`,
      [afterId, limit],
    );
    return rows.map((row) => ({ rowId: Number(row['id']), row }));
  }

  /** Writes the binding: an UPDATE of its row, an INSERT if there is none. */
  async upsert(binding: Binding): Promise<void> {
    const q = this.q;
    const rest = COLUMNS.slice(1);
    const changed = await this.db.exec(
      `UPDATE ${q(this.table)} SET ${rest.map((c) => `${q(c.name)} = ?`).join(', ')} WHERE ${q('ruid')} = ?`,
      [...rest.map((c) => toSql(binding, c.field)), binding.id],
    );
    if (changed > 0) return;
    try {
      await this.insert(binding);
    } catch (err) {
      // MySQL counts an UPDATE that sets the same values as changing nothing: the row is there.
      if (!(err instanceof DbError && err.kind === 'duplicate')) throw err;
    }
  }

  async insert(binding: Binding): Promise<void> {
    const q = this.q;
    await this.db.exec(
      `INSERT INTO ${q(this.table)} (${COLUMNS.map((c) => q(c.name)).join(', ')}) ` +
        `VALUES (${COLUMNS.map(() => '?').join(', ')})`,
      COLUMNS.map((c) => toSql(binding, c.field)),
    );
  }

  remove(id: string): Promise<number> {
    return this.db.exec(`DELETE FROM ${this.q(this.table)} WHERE ${this.q('ruid')} = ?`, [id]);
  }

  /** Deletes every row of a user (of one domain, or of all when `domain` is undefined). */
  removeUser(username: string, domain: string | undefined): Promise<number> {
    const q = this.q;
    let sql = `DELETE FROM ${q(this.table)} WHERE ${q('username')} = ?`;
    const params: SqlValue[] = [username];
    if (domain !== undefined) {
      sql += ` AND ${q('domain')} = ?`;
      params.push(domain);
    }
    return this.db.exec(sql, params);
  }

  /** Deletes the rows expired at `nowS`. */
  removeExpired(nowS: number): Promise<number> {
    return this.db.exec(`DELETE FROM ${this.q(this.table)} WHERE ${this.q('expires')} <= ?`, [nowS]);
  }

  private readonly q = (name: string) => this.db.ident(name);
}
