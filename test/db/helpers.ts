// The databases the tests run on: SQLite in a temp folder always; PostgreSQL and MySQL/MariaDB at
// the URLs in SIPSD_TEST_PG_URL / SIPSD_TEST_MYSQL_URL, which test/run.ts (`npm test`) sets to
// servers it starts when they are installed, unless set already. Without a URL those tests are
// skipped with a message saying why. Each test gets tables of its own name, dropped afterwards, so
// runs never see each other's rows. Also: a loopback proxy to cut a database off, and TLS helpers
// for tests of SQL-provisioned domains on a running server.
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { defaultDbConfig, type DbConfig } from '../../src/db/config.js';
import { openDb, type Db, type Dialect, type SqlValue } from '../../src/db/db.js';
import { TlsMgmTable, type NewTlsMgmRow, type TlsMgmField } from '../../src/db/tls-mgm.js';
import type { TestCa } from '../helpers/domains.js';
import { TEST_DB_ENV } from './env.js';

export interface TestDatabase {
  dialect: Dialect;
  /** Set when the database can be used. */
  url?: string;
  /** Why it is skipped otherwise. */
  skip?: string;
}

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
  const networked = (Object.keys(TEST_DB_ENV) as Array<keyof typeof TEST_DB_ENV>).map(
    (dialect): TestDatabase => {
      const env = TEST_DB_ENV[dialect];
      const url = process.env[env.url];
      if (url) return { dialect, url };
      // test/run.ts says why it started no server; without test/run.ts, none was tried.
      const skip =
        process.env[env.skip] ??
        `${env.url} is not set: run the tests with \`npm test\` (test/run.ts starts the server when it is installed), or set it`;
      return { dialect, skip };
    },
  );
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

/**
 * A loopback TCP proxy to a database server: it stands for the network path, so a test can cut
 * it (the server refuses connections, as a server that is down does) and restore it on the same port.
 */
export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;

  private constructor(
    private readonly target: { host: string; port: number },
    public port = 0,
  ) {}

  static async start(host: string, port: number): Promise<TcpProxy> {
    const proxy = new TcpProxy({ host, port });
    await proxy.restore();
    return proxy;
  }

  /** `url` with its port replaced by the proxy's. */
  via(url: string): string {
    const u = new URL(url);
    u.port = String(this.port);
    return u.href;
  }

  /** Refuses new connections and drops the open ones. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise((resolve) => server.close(resolve));
  }

  /** Accepts connections again (on the port it had, so URLs given out stay valid). */
  async restore(): Promise<void> {
    if (this.server) return;
    const server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', () => s.destroy());
        s.on('close', () => this.sockets.delete(s));
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) =>
      server.once('error', reject).listen(this.port, '127.0.0.1', resolve),
    );
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  close(): Promise<void> {
    return this.cut();
  }
}

/** The way from sipsd to a test database, which a test can cut to play a database that is down. */
export interface DbLink {
  /** The db_url to give sipsd. */
  url: string;
  /** What a reload says while the link is cut. */
  downReason: RegExp;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A server is reached through a TcpProxy. An SQLite file is cut by moving it away, once no
 * connection of this process has it open (each closes after 2 s unused): an open one would go on
 * reading the moved file. While it is cut, the test must not use its own Db on the file, which
 * would create an empty one.
 */
export async function dbLink(d: TestDatabase): Promise<DbLink> {
  if (d.dialect !== 'sqlite') {
    const real = new URL(d.url!);
    const proxy = await TcpProxy.start(real.hostname, Number(real.port));
    return {
      url: proxy.via(d.url!),
      downReason: /connection refused/,
      cut: () => proxy.cut(),
      restore: () => proxy.restore(),
      close: () => proxy.close(),
    };
  }
  const file = d.url!.replace(/^sqlite:\/\//, '');
  const moved = `${file}.down`;
  const restore = async () => {
    if (existsSync(moved)) renameSync(moved, file);
  };
  return {
    url: d.url!,
    downReason: /does not exist/,
    async cut() {
      await untilClosed(file);
      renameSync(file, moved);
    },
    restore,
    close: restore,
  };
}

/** Waits until no descriptor of this process refers to `file` (Linux: /proc/self/fd). */
async function untilClosed(file: string, timeoutMs = 10_000): Promise<void> {
  const open = () => {
    try {
      return readdirSync('/proc/self/fd').some((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`) === file;
        } catch {
          return false;
        }
      });
    } catch {
      return false; // no /proc: the caller's reload fails to prove the cut, and says so
    }
  };
  const deadline = Date.now() + timeoutMs;
  while (open()) {
    if (Date.now() > deadline) throw new Error(`${file} is still open after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Makes a TLS handshake with `servername` (certificate checked against `ca`, the name not: the CN
 * is what is compared) and resolves to the CN of the certificate served, or `error: <reason>`.
 */
export function servedCn(port: number, ca: Buffer, servername?: string): Promise<string> {
  return new Promise((resolve) => {
    const s = tlsConnect({
      host: '127.0.0.1',
      port,
      ca,
      ...(servername ? { servername } : {}),
      checkServerIdentity: () => undefined,
    });
    const done = (outcome: string) => {
      clearTimeout(timer);
      s.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => done('error: no handshake within 5 s'), 5_000);
    s.once('secureConnect', () => done(String(s.getPeerCertificate().subject.CN)));
    s.once('error', (err) => done(`error: ${err.message}`));
  });
}

/** Issues a server certificate (CN and DNS name `cn`) from `ca` and stores it as a server row. */
export async function insertServerRow(
  table: TlsMgmTable,
  ca: TestCa,
  domain: string,
  cn: string,
  extra: Partial<NewTlsMgmRow> = {},
): Promise<number> {
  const files = await ca.issue(`${domain}-${cn}`, cn, 'server');
  return table.insert({
    domain,
    type: 2,
    certificate: readFileSync(files.cert),
    private_key: readFileSync(files.key),
    verify_cert: 0,
    ...extra,
  });
}

/** UPDATEs columns of the row of that domain and type; resolves to the number of rows changed. */
export function updateRow(
  table: TlsMgmTable,
  domain: string,
  type: 1 | 2,
  values: Partial<Record<TlsMgmField, SqlValue>>,
): Promise<number> {
  const q = (name: string) => table.db.ident(name);
  const set = Object.entries(values) as Array<[TlsMgmField, SqlValue]>;
  return table.db.exec(
    `UPDATE ${q(table.table)} SET ${set.map(([f]) => `${q(table.names[f])} = ?`).join(', ')} ` +
      `WHERE ${q(table.names.domain)} = ? AND ${q(table.names.type)} = ?`,
    [...set.map(([, v]) => v), domain, type],
  );
}
