// SQLite through better-sqlite3: the embedded default, one file. Its calls are synchronous, so
// callers keep statements small (the tls_mgm reader pages) and the busy wait short.
import { access, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Connection, Driver, DbErrorKind, Row } from '../db.js';

/** Waiting for another writer blocks the event loop: keep it short. */
const BUSY_TIMEOUT_MS = 1_000;
/** Prepared statements kept per connection; the SQL sipsd runs is a handful of strings. */
const STATEMENT_CACHE = 64;

function cantOpen(reason: string): Error {
  return Object.assign(new Error(reason), { code: 'SQLITE_CANTOPEN' });
}

export const sqliteDriver: Driver = {
  async connect(target, opts) {
    if (target.dialect !== 'sqlite') throw new Error(`not an SQLite target: ${target.dialect}`);
    if (opts.create) await mkdir(dirname(target.file), { recursive: true });
    else {
      await access(target.file).catch((err: NodeJS.ErrnoException) => {
        throw cantOpen(
          err.code === 'ENOENT'
            ? `${target.file} does not exist; \`sipsd db init\` creates it`
            : `cannot open ${target.file} (${err.code ?? err.message})`,
        );
      });
    }
    let db: Database.Database;
    try {
      db = new Database(target.file, { fileMustExist: !opts.create, timeout: BUSY_TIMEOUT_MS });
    } catch (err) {
      throw cantOpen(`cannot open ${target.file} (${(err as Error).message})`);
    }
    // WAL lets the server read while `sipsd db` writes; the mode is stored in the file.
    if (opts.create) db.pragma('journal_mode = WAL');
    const statements = new Map<string, Database.Statement>();
    const prepare = (sql: string) => {
      let stmt = statements.get(sql);
      if (!stmt) {
        if (statements.size >= STATEMENT_CACHE) statements.clear();
        stmt = db.prepare(sql);
        statements.set(sql, stmt);
      }
      return stmt;
    };
    const connection: Connection = {
      all: async (sql, params) => prepare(sql).all(...params) as Row[],
      run: async (sql, params) => prepare(sql).run(...params).changes,
      close: async () => void db.close(),
    };
    return connection;
  },

  explain(err) {
    const code = (err as { code?: unknown }).code;
    const message = err instanceof Error ? err.message : String(err);
    const kind: DbErrorKind =
      code === 'SQLITE_CANTOPEN' ||
      code === 'SQLITE_NOTADB' ||
      code === 'SQLITE_PERM' ||
      code === 'SQLITE_AUTH'
        ? 'connect'
        : code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED'
          ? 'timeout'
          : code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
            ? 'duplicate'
            : /^no such (table|column)/.test(message)
              ? 'no-table'
              : 'query';
    if (kind === 'timeout') return { kind, reason: `the file is locked by another writer (${message})` };
    return { kind, reason: message };
  },
};
