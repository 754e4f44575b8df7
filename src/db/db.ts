// The one SQL interface of sipsd: SQL with `?` placeholders in, rows as plain objects out (integers
// as numbers, text as strings, BLOBs as Buffers, NULL as null), on SQLite, PostgreSQL or MySQL/
// MariaDB chosen by URL. Driver objects stay inside src/db/drivers; callers only see this file.
//
// A Db holds at most one connection, opened on first use and closed after a short idle time, so a
// server that reads its table once per reload keeps nothing open in between, and a database that
// restarts costs nothing but the next connect. Every failure is a DbError whose message names the
// database by its redacted URL and says what went wrong; no driver error escapes.
import { parseDbUrl, redactUrl, type DbTarget, type Dialect } from './url.js';

export type { Dialect } from './url.js';

export type SqlValue = string | number | Buffer | null;
export type Row = Record<string, SqlValue>;

/**
 * - `connect`: the database cannot be reached or refuses us (refused, unknown host, bad
 *   credentials, no such database, file missing);
 * - `timeout`: no answer in time;
 * - `no-table`: a table or column does not exist (run `sipsd db init`);
 * - `duplicate`: a unique constraint refused a row;
 * - `query`: anything else the database refused.
 */
export type DbErrorKind = 'connect' | 'timeout' | 'no-table' | 'duplicate' | 'query';

export class DbError extends Error {
  constructor(
    readonly kind: DbErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'DbError';
  }
}

export interface Db {
  readonly dialect: Dialect;
  /** The URL with the password masked: the name to use in every message. */
  readonly label: string;
  /** Rows of a statement that returns some (SELECT). */
  query(sql: string, params?: readonly SqlValue[]): Promise<Row[]>;
  /** Runs a statement that returns no rows; resolves to the number of rows it changed. */
  exec(sql: string, params?: readonly SqlValue[]): Promise<number>;
  /** Quotes an identifier for this dialect (names are validated by the config schema). */
  ident(name: string): string;
  /** Closes the connection, if one is open; the Db opens a new one if used again. */
  close(): Promise<void>;
}

export interface DbOptions {
  /** Folder relative SQLite paths resolve against: the configuration file's. */
  baseDir: string;
  /** SQLite: create the file (and its folder) if missing; only `sipsd db init` does. */
  create?: boolean;
  connectTimeoutMs?: number;
  queryTimeoutMs?: number;
  /** An unused connection is closed after this long. */
  idleCloseMs?: number;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_QUERY_TIMEOUT_MS = 30_000;
const DEFAULT_IDLE_CLOSE_MS = 2_000;

/** What each driver module provides; implemented in drivers/*.ts. */
export interface Connection {
  all(sql: string, params: readonly SqlValue[]): Promise<Row[]>;
  run(sql: string, params: readonly SqlValue[]): Promise<number>;
  close(): Promise<void>;
}

export interface Driver {
  /** `onBroken` is called when the connection dies on its own (server restart, network). */
  connect(
    target: DbTarget,
    opts: Required<Omit<DbOptions, 'baseDir'>>,
    onBroken: () => void,
  ): Promise<Connection>;
  /** Turns a driver error into a kind and a reason fit for an operator. */
  explain(err: unknown): { kind: DbErrorKind; reason: string };
}

const QUOTE: Record<Dialect, (name: string) => string> = {
  sqlite: (n) => `"${n.replaceAll('"', '""')}"`,
  postgres: (n) => `"${n.replaceAll('"', '""')}"`,
  mysql: (n) => `\`${n.replaceAll('`', '``')}\``,
};

async function loadDriver(dialect: Dialect): Promise<Driver> {
  // Loaded on demand: a server without db_url never loads a database driver.
  switch (dialect) {
    case 'sqlite':
      return (await import('./drivers/sqlite.js')).sqliteDriver;
    case 'postgres':
      return (await import('./drivers/postgres.js')).postgresDriver;
    case 'mysql':
      return (await import('./drivers/mysql.js')).mysqlDriver;
  }
}

/** Opens a database by URL. Throws DbError (kind `connect`) only for a URL that cannot be used. */
export function openDb(url: string, options: DbOptions): Db {
  const target = parseDbUrl(url, options.baseDir);
  if ('error' in target) throw new DbError('connect', target.error);
  return new LazyDb(target, redactUrl(url), {
    create: options.create ?? false,
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    queryTimeoutMs: options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS,
    idleCloseMs: options.idleCloseMs ?? DEFAULT_IDLE_CLOSE_MS,
  });
}

class LazyDb implements Db {
  readonly dialect: Dialect;
  private driver: Driver | undefined;
  private connection: Promise<Connection> | undefined;
  private busy = 0;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly target: DbTarget,
    readonly label: string,
    private readonly opts: Required<Omit<DbOptions, 'baseDir'>>,
  ) {
    this.dialect = target.dialect;
  }

  ident(name: string): string {
    return QUOTE[this.dialect](name);
  }

  query(sql: string, params: readonly SqlValue[] = []): Promise<Row[]> {
    return this.use((c) => c.all(sql, params), true);
  }

  exec(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    return this.use((c) => c.run(sql, params), false);
  }

  async close(): Promise<void> {
    clearTimeout(this.idleTimer);
    await this.drop(this.connection);
  }

  /** `retry`: the statement only reads, so it may run again on a new connection. */
  private async use<T>(work: (c: Connection) => Promise<T>, retry: boolean): Promise<T> {
    clearTimeout(this.idleTimer);
    this.busy++;
    try {
      const driver = (this.driver ??= await loadDriver(this.dialect).catch((err: unknown) => {
        throw new DbError(
          'connect',
          `${this.label}: the ${this.dialect} driver cannot be loaded (${(err as Error).message})`,
        );
      }));
      for (let attempt = 1; ; attempt++) {
        const reused = this.connection !== undefined;
        try {
          return await work(await this.connect(driver));
        } catch (err) {
          const { kind, reason } = driver.explain(err);
          // After a lost or timed-out connection its state is unknown: the next use opens a new one.
          if (kind === 'connect' || kind === 'timeout') await this.drop(this.connection);
          // A connection that died while idle (server restart, network cut) is only noticed when
          // used: a read gets one more try on a fresh connection before the failure counts.
          if (!(retry && reused && kind === 'connect' && attempt === 1)) {
            throw new DbError(kind, `${this.label}: ${reason}`);
          }
        }
      }
    } finally {
      if (--this.busy === 0) {
        this.idleTimer = setTimeout(() => void this.close(), this.opts.idleCloseMs);
        this.idleTimer.unref();
      }
    }
  }

  private connect(driver: Driver): Promise<Connection> {
    const opening = (this.connection ??= driver.connect(
      this.target,
      this.opts,
      () => void this.drop(opening),
    ));
    return opening.catch(async (err: unknown) => {
      await this.drop(opening);
      throw err;
    });
  }

  /** Forgets and closes `which` if it is still the current connection (not already replaced). */
  private async drop(which: Promise<Connection> | undefined): Promise<void> {
    if (which === undefined || which !== this.connection) return;
    this.connection = undefined;
    // A connection that never opened has nothing to close; one that fails to close is gone anyway.
    await which.then(
      (c) => c.close().catch(() => undefined),
      () => undefined,
    );
  }
}
