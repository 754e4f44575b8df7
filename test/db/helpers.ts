// The databases the tests run on: SQLite in a temp folder always; PostgreSQL and MySQL/MariaDB at
// the URLs in SIPSD_TEST_PG_URL / SIPSD_TEST_MYSQL_URL (.ci/databases.sh starts them and prints
// them). Without a URL those tests are skipped with a message saying so. Each test gets tables of
// its own name, dropped afterwards, so runs never see each other's rows.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { defaultDbConfig, type DbConfig } from '../../src/db/config.js';
import { openDb, type Db, type Dialect } from '../../src/db/db.js';

export interface TestDatabase {
  dialect: Dialect;
  /** Set when the database can be used. */
  url?: string;
  /** Why it is skipped otherwise. */
  skip?: string;
}

const ENV: Record<Exclude<Dialect, 'sqlite'>, string> = {
  postgres: 'SIPSD_TEST_PG_URL',
  mysql: 'SIPSD_TEST_MYSQL_URL',
};

let sqliteDir: string | undefined;

/** A temp folder removed when the test file ends. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sipsd-db-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The three databases, for `for (const d of testDatabases()) test(name, { skip: d.skip }, ...)`. */
export function testDatabases(): TestDatabase[] {
  sqliteDir ??= tempDir();
  const networked = (Object.keys(ENV) as Array<keyof typeof ENV>).map((dialect): TestDatabase => {
    const url = process.env[ENV[dialect]];
    return url
      ? { dialect, url }
      : {
          dialect,
          skip: `${ENV[dialect]} is not set (eval "$(bash .ci/databases.sh)" starts a server and sets it)`,
        };
  });
  return [{ dialect: 'sqlite', url: `sqlite://${join(sqliteDir, 'test.db')}` }, ...networked];
}

let counter = 0;

/** A table name unique to this process and call. */
export function uniqueTable(prefix = 'tls_mgm_t'): string {
  return `${prefix}_${process.pid}_${++counter}`;
}

/**
 * Opens the database (creating the SQLite file) with its own tls_mgm-style table name; the table
 * and its version row are dropped and the connection closed when the test file ends.
 */
export function openTestDb(d: TestDatabase, overrides: Partial<DbConfig> = {}): { db: Db; config: DbConfig } {
  const db = openDb(d.url!, { baseDir: tmpdir(), create: true });
  const config = { ...defaultDbConfig(d.url), db_table: uniqueTable(), ...overrides };
  after(async () => {
    await db.exec(`DROP TABLE IF EXISTS ${db.ident(config.db_table)}`).catch(() => undefined);
    await db
      .exec(`DELETE FROM ${db.ident('version')} WHERE ${db.ident('table_name')} = ?`, [config.db_table])
      .catch(() => undefined);
    await db.close();
  });
  return { db, config };
}
