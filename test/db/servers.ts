// Private PostgreSQL and MariaDB servers for one test run, started by test/run.ts when their
// binaries are installed and no SIPSD_TEST_*_URL names a server already: a fresh data folder in one
// temp folder, loopback TCP on a free port (never the system servers' 5432/3306) and unix sockets
// in that folder, a `sipsd_test` user with password `sipsd_test` owning database `sipsd_test`.
// Both servers refuse to run as root, so as root each runs as its Debian system account.
// Throwaway data: durability is switched off, which makes startup and the tests faster.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  accessSync,
  chmodSync,
  chownSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { redactUrl } from '../../src/db/url.js';
import { TEST_DB_ENV } from './env.js';

const USER = 'sipsd_test';
const PASSWORD = 'sipsd_test';
const DATABASE = 'sipsd_test';
const FOLDER_PREFIX = 'sipsd-testdb-';
/** Holds the pid of the runner that owns the folder, so a later run can tell it was abandoned. */
const OWNER_FILE = 'owner.pid';
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;

export type Say = (line: string) => void;

/** The binaries are not installed: the tests skip, saying what to install. */
class NotInstalled extends Error {}

interface Identity {
  uid?: number;
  gid?: number;
}

interface SpawnHow {
  who: Identity;
  cwd: string;
  /** Gets the process's stdout and stderr. */
  logFile: string;
  /** How to ask it to stop; SIGTERM unless given. */
  stopSignal?: NodeJS.Signals;
}

interface ServerKind {
  dialect: keyof typeof TEST_DB_ENV;
  name: string;
  /** Starts the server in `dir` (which it owns); resolves to its URL once it accepts the test user. */
  start(servers: TestDatabaseServers, dir: string, who: Identity): Promise<{ url: string; version: string }>;
  /** The system account it runs as when we are root. */
  account: string;
}

/**
 * The servers of one run. `start()` fills `env` (URLs, or skip reasons) and `failures` (servers
 * that are installed but would not start: the run must fail then, not skip); `stop()` stops them
 * and removes the folder, and may be called at any time, also while `start()` is under way.
 */
export class TestDatabaseServers {
  readonly env: Record<string, string> = {};
  readonly failures: string[] = [];
  private readonly processes = new Map<ChildProcess, NodeJS.Signals>();
  private folder: string | undefined;
  private stopping: Promise<void> | undefined;

  constructor(private readonly say: Say) {}

  async start(): Promise<void> {
    await reapAbandoned(this.say);
    await Promise.all(KINDS.map((kind) => this.startOne(kind)));
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await Promise.all([...this.processes].map(([child, signal]) => stopProcess(child, signal)));
      if (this.folder) rmSync(this.folder, { recursive: true, force: true });
    })();
    return this.stopping;
  }

  /**
   * Spawns a process that `stop()` ends with `stopSignal` (SIGKILL if it hangs); refused once
   * stopping began, as when a signal comes while the servers start.
   */
  spawn(command: string, args: string[], how: SpawnHow): ChildProcess {
    if (this.stopping) throw new Error('stopping');
    const log = openSync(how.logFile, 'a');
    try {
      // Own process group: a Ctrl-C on the terminal reaches the tests only, and stop() ends the
      // servers after them.
      const child = spawn(command, args, {
        cwd: how.cwd,
        detached: true,
        stdio: ['ignore', log, log],
        ...how.who,
      });
      this.processes.set(child, how.stopSignal ?? 'SIGTERM');
      const forget = () => this.processes.delete(child);
      child.once('exit', forget).once('error', forget);
      return child;
    } finally {
      closeSync(log);
    }
  }

  /** Stops one process spawned here (a server that failed its start). */
  async end(child: ChildProcess): Promise<void> {
    await stopProcess(child, this.processes.get(child) ?? 'SIGTERM');
  }

  private async startOne(kind: ServerKind): Promise<void> {
    const env = TEST_DB_ENV[kind.dialect];
    const given = process.env[env.url];
    if (given) {
      this.say(`${kind.name}: using ${env.url}=${redactUrl(given)}`);
      return;
    }
    const started = Date.now();
    try {
      const who = identity(kind.account);
      const dir = join(this.baseFolder(), kind.dialect);
      mkdirSync(dir, { mode: 0o700 });
      if (who.uid !== undefined) chownSync(dir, who.uid, who.gid!);
      const { url, version } = await kind.start(this, dir, who);
      this.env[env.url] = url;
      const port = new URL(url).port;
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      this.say(`${kind.name} ${version} ready on 127.0.0.1:${port} in ${seconds} s`);
    } catch (err) {
      const reason = (err as Error).message;
      if (err instanceof NotInstalled) {
        this.env[env.skip] = reason;
        this.say(`${kind.name}: ${reason}; its tests are skipped`);
      } else if (!this.stopping) {
        this.env[env.skip] = `${kind.name} is installed but did not start (see the start of the output)`;
        this.failures.push(kind.name);
        this.say(`${kind.name} did not start: ${reason}`);
      }
    }
  }

  /** One folder for both servers, made on first need; traversable so each account reaches its own. */
  private baseFolder(): string {
    if (!this.folder) {
      this.folder = mkdtempSync(join(tmpdir(), FOLDER_PREFIX));
      chmodSync(this.folder, 0o711);
      writeFileSync(join(this.folder, OWNER_FILE), String(process.pid));
    }
    return this.folder;
  }
}

/** Ourselves, or as root the server's system account (both servers refuse to run as root). */
function identity(account: string): Identity {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => Number(execFileSync('id', [flag, account], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    throw new Error(`running as root, and there is no "${account}" system account to run it as`);
  }
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** PATH, then the sbin folders that a non-root PATH often lacks. */
function searchPath(): string[] {
  const dirs = (process.env['PATH'] ?? '').split(delimiter).filter((d) => d !== '');
  return [...dirs, '/usr/sbin', '/usr/local/sbin'];
}

/** The first of `names` found in `dirs`, every name tried in a folder before the next folder. */
function findBinary(dirs: string[], names: string[]): string | undefined {
  for (const dir of dirs) {
    for (const name of names) if (executable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** The end of a log, to quote in an error (the folder is removed at the end of the run). */
function tail(file: string, lines = 12): string {
  const text = readText(file)?.trimEnd();
  return text ? `; its log ends:\n    ${text.split('\n').slice(-lines).join('\n    ')}` : '';
}

function exitOf(child: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve(`exited (${child.exitCode ?? child.signalCode})`);
      return;
    }
    child.once('exit', (code, signal) => resolve(`exited (${code ?? signal})`));
    child.once('error', (err) => resolve(`could not be run (${err.message})`));
  });
}

/** Runs a setup command (initdb, mariadb-install-db) to its end; its output goes to `logFile`. */
async function runSetup(
  servers: TestDatabaseServers,
  command: string,
  args: string[],
  who: Identity,
  dir: string,
  logFile: string,
): Promise<void> {
  const child = servers.spawn(command, args, { who, cwd: dir, logFile });
  const outcome = await exitOf(child);
  if (child.exitCode !== 0) throw new Error(`${command} ${outcome}${tail(logFile)}`);
}

/**
 * Waits until `probe` succeeds against a starting server. An exit meanwhile is a failure; one that
 * lost the race for its port is tried again by the caller.
 */
async function whenReady(child: ChildProcess, logFile: string, probe: () => Promise<unknown>): Promise<void> {
  let exited: string | undefined;
  void exitOf(child).then((outcome) => (exited = outcome));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (exited !== undefined) throw new Error(`the server ${exited}${tail(logFile)}`);
    try {
      await probe();
      return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline)
      throw new Error(`not ready after ${READY_TIMEOUT_MS / 1000} s${tail(logFile)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts a server on a free port, again on another one if the port was taken meanwhile. */
async function onFreePort<T>(start: (port: number) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(await freePort());
    } catch (err) {
      if (attempt >= 3 || !/already in use/i.test((err as Error).message)) throw err;
    }
  }
}

/** Polite stop with `signal`, then SIGKILL if it hangs. */
async function stopProcess(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = exitOf(child);
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

const postgres: ServerKind = {
  dialect: 'postgres',
  name: 'PostgreSQL',
  account: 'postgres',
  async start(servers, dir, who) {
    // Debian keeps each major version apart; the newest wins. Elsewhere they are on the PATH.
    const debian = '/usr/lib/postgresql';
    const versions = existsSync(debian)
      ? readdirSync(debian)
          .filter((v) => /^\d+(\.\d+)?$/.test(v))
          .sort((a, b) => Number(b) - Number(a))
          .map((v) => join(debian, v, 'bin'))
      : [];
    const bin = [...versions, ...searchPath()].find(
      (d) => executable(join(d, 'initdb')) && executable(join(d, 'postgres')),
    );
    if (!bin) {
      throw new NotInstalled(
        'initdb and postgres not found in /usr/lib/postgresql/*/bin or on the PATH: ' +
          'install the postgresql package (apt-get install postgresql), or set SIPSD_TEST_PG_URL',
      );
    }
    const data = join(dir, 'data');
    const logFile = join(dir, 'postgres.log');
    // Trust on the socket (our own admin connection), passwords over TCP, where the tests connect
    // (they check that a wrong password is refused).
    await runSetup(
      servers,
      join(bin, 'initdb'),
      [
        '-D',
        data,
        '-U',
        'postgres',
        '--auth-local=trust',
        '--auth-host=scram-sha-256',
        '-E',
        'UTF8',
        '--locale=C',
        '--no-sync',
      ],
      who,
      dir,
      logFile,
    );
    const version = readFileSync(join(data, 'PG_VERSION'), 'utf8').trim();
    // Through its own socket, where no other server can answer (the port may be taken meanwhile).
    const admin = (port: number) =>
      new pg.Client({
        host: dir,
        port,
        user: 'postgres',
        database: 'postgres',
        connectionTimeoutMillis: 2000,
      });
    const port = await onFreePort(async (port) => {
      const settings = {
        listen_addresses: '127.0.0.1',
        fsync: 'off',
        synchronous_commit: 'off',
        full_page_writes: 'off',
        shared_buffers: '32MB',
      };
      const args = ['-D', data, '-p', String(port), '-k', dir];
      for (const [key, value] of Object.entries(settings)) args.push('-c', `${key}=${value}`);
      // SIGINT is PostgreSQL's fast shutdown; SIGTERM would wait for clients to leave.
      const child = servers.spawn(join(bin, 'postgres'), args, {
        who,
        cwd: dir,
        logFile,
        stopSignal: 'SIGINT',
      });
      try {
        await whenReady(child, logFile, async () => {
          const c = admin(port);
          await c.connect();
          await c.end();
        });
      } catch (err) {
        await servers.end(child);
        throw err;
      }
      return port;
    });
    const c = admin(port);
    await c.connect();
    try {
      await c.query(`CREATE ROLE ${USER} LOGIN PASSWORD '${PASSWORD}'`);
      await c.query(`CREATE DATABASE ${DATABASE} OWNER ${USER}`);
    } finally {
      await c.end();
    }
    return { url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`, version };
  },
};

const mariadb: ServerKind = {
  dialect: 'mysql',
  name: 'MariaDB',
  account: 'mysql',
  async start(servers, dir, who) {
    const path = searchPath();
    const server = findBinary(path, ['mariadbd', 'mysqld']);
    const installer = findBinary(path, ['mariadb-install-db', 'mysql_install_db']);
    if (!server || !installer) {
      throw new NotInstalled(
        'mariadbd and mariadb-install-db not found on the PATH or in /usr/sbin: ' +
          'install the mariadb-server package (apt-get install mariadb-server), or set SIPSD_TEST_MYSQL_URL',
      );
    }
    const data = join(dir, 'data');
    const logFile = join(dir, 'mariadb.log');
    // --no-defaults first, always: /etc/mysql/my.cnf describes the system server (its port, socket
    // and data folder), not this one.
    await runSetup(
      servers,
      installer,
      ['--no-defaults', `--datadir=${data}`, '--auth-root-authentication-method=socket', '--skip-test-db'],
      who,
      dir,
      logFile,
    );
    // Run by the server before it accepts connections: no admin login needed.
    const initFile = join(dir, 'init.sql');
    writeFileSync(
      initFile,
      `CREATE DATABASE IF NOT EXISTS ${DATABASE};\n` +
        `CREATE USER IF NOT EXISTS '${USER}'@'%' IDENTIFIED BY '${PASSWORD}';\n` +
        `GRANT ALL PRIVILEGES ON ${DATABASE}.* TO '${USER}'@'%';\n`,
    );
    if (who.uid !== undefined) chownSync(initFile, who.uid, who.gid!);
    const socket = join(dir, 'mariadbd.sock');
    let version = '';
    const port = await onFreePort(async (port) => {
      const child = servers.spawn(
        server,
        [
          '--no-defaults',
          `--datadir=${data}`,
          `--port=${port}`,
          '--bind-address=127.0.0.1',
          `--socket=${socket}`,
          `--pid-file=${join(dir, 'mariadbd.pid')}`,
          `--init-file=${initFile}`,
          '--skip-name-resolve',
          '--innodb-buffer-pool-size=32M',
          '--innodb-flush-log-at-trx-commit=0',
        ],
        { who, cwd: dir, logFile },
      );
      try {
        // Through its own socket: should another server have taken the port, a TCP probe would
        // reach that one (this one exits when it cannot bind, and makes its socket after TCP).
        await whenReady(child, logFile, async () => {
          const c = await mysql.createConnection({
            socketPath: socket,
            user: USER,
            password: PASSWORD,
            database: DATABASE,
            connectTimeout: 2000,
          });
          try {
            const [rows] = await c.query('SELECT VERSION() AS v');
            version = String((rows as Array<{ v: string }>)[0]?.v).replace(/-.*/, '');
          } finally {
            await c.end().catch(() => undefined);
          }
        });
      } catch (err) {
        await servers.end(child);
        throw err;
      }
      return port;
    });
    return { url: `mysql://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`, version };
  },
};

const KINDS: ServerKind[] = [postgres, mariadb];

/**
 * Folders left by a run that was killed without a chance to clean up (SIGKILL, a crash): their
 * servers are still running. Stops those (by the pid files they wrote, checked against the
 * folder in their command line) and removes the folder. Runs whose owner lives are left alone.
 */
async function reapAbandoned(say: Say): Promise<void> {
  let entries: string[];
  try {
    entries = readdirSync(tmpdir()).filter((e) => e.startsWith(FOLDER_PREFIX));
  } catch {
    return;
  }
  for (const entry of entries) {
    const folder = join(tmpdir(), entry);
    const owner = Number(readText(join(folder, OWNER_FILE)));
    if (!Number.isInteger(owner) || owner <= 0 || alive(owner)) continue;
    const pidFiles = [join(folder, 'postgres/data/postmaster.pid'), join(folder, 'mysql/mariadbd.pid')];
    const killed: number[] = [];
    for (const file of pidFiles) {
      const pid = Number(readText(file)?.split('\n')[0]);
      if (!Number.isInteger(pid) || pid <= 0) continue;
      if (!readText(`/proc/${pid}/cmdline`)?.includes(folder)) continue;
      try {
        process.kill(pid, 'SIGKILL');
        killed.push(pid);
      } catch {
        // gone meanwhile
      }
    }
    // A dying server may still write into the folder for a moment.
    const deadline = Date.now() + 5_000;
    while (killed.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    rmSync(folder, { recursive: true, force: true });
    say(`removed ${folder}, left by an interrupted run (pid ${owner}), and stopped its servers`);
  }
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
