// The SQL interface on each driver against a real database: values come back as the same plain
// types everywhere, failures are DbErrors of a clear kind whose message names the database without
// its password, and a lost or unreachable server never throws anything else.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { DbError, openDb } from '../../src/db/db.js';
import { openTestDb, tempDir, testDatabases, uniqueTable } from './helpers.js';

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

for (const d of testDatabases()) {
  describe(`Db on ${d.dialect}`, { skip: d.skip }, () => {
    // Hooks registered here, at suite level: node:test runs an after() made inside before() at once.
    const { db } = openTestDb(d);
    const t = db.ident(uniqueTable('iface'));
    before(async () => {
      const blob = d.dialect === 'postgres' ? 'BYTEA' : 'BLOB';
      await db.exec(`CREATE TABLE ${t} (id INTEGER PRIMARY KEY, name VARCHAR(64), data ${blob}, n INTEGER)`);
    });
    after(async () => {
      await db.exec(`DROP TABLE IF EXISTS ${t}`);
      await db.close();
    });

    test('rows are plain objects: integers as numbers, text as strings, BLOBs as Buffers, NULL as null', async () => {
      assert.equal(
        await db.exec(`INSERT INTO ${t} (id, name, data, n) VALUES (?, ?, ?, ?)`, [1, 'é?', ALL_BYTES, null]),
        1,
      );
      await db.exec(`INSERT INTO ${t} (id, name, data, n) VALUES (?, ?, ?, ?)`, [2, 'two', null, 7]);
      const rows = await db.query(`SELECT id, name, data, n FROM ${t} ORDER BY id`);
      assert.deepEqual(rows[0], { id: 1, name: 'é?', data: ALL_BYTES, n: null });
      assert.deepEqual(rows[1], { id: 2, name: 'two', data: null, n: 7 });
      assert.ok(Buffer.isBuffer(rows[0]!['data']));
      const [count] = await db.query(`SELECT COUNT(*) AS c FROM ${t}`);
      assert.equal(count!['c'], 2, 'COUNT(*) is a number on every driver');
    });

    test('a ? inside a quoted literal is text, not a placeholder', async () => {
      const rows = await db.query(`SELECT 'what?' AS s, name FROM ${t} WHERE id = ?`, [2]);
      assert.deepEqual(rows, [{ s: 'what?', name: 'two' }]);
    });

    test('exec answers the number of rows changed', async () => {
      assert.equal(await db.exec(`UPDATE ${t} SET n = ? WHERE id > ?`, [9, 0]), 2);
      assert.equal(await db.exec(`DELETE FROM ${t} WHERE id = ?`, [99]), 0);
    });

    test('a unique key refusing a row is kind "duplicate"; a missing table is "no-table"', async () => {
      await assert.rejects(db.exec(`INSERT INTO ${t} (id) VALUES (?)`, [1]), (e: unknown) => {
        assert.ok(e instanceof DbError);
        assert.equal(e.kind, 'duplicate');
        return true;
      });
      await assert.rejects(db.query(`SELECT * FROM ${db.ident('no_such_table_here')}`), { kind: 'no-table' });
      await assert.rejects(db.query(`SELECT no_such_column FROM ${t}`), { kind: 'no-table' });
    });

    test('after close, the next query opens a new connection', async () => {
      await db.close();
      assert.equal((await db.query(`SELECT name FROM ${t} WHERE id = ?`, [2]))[0]!['name'], 'two');
    });
  });
}

/** A TCP port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** A server that accepts connections and never says a word. */
async function silentServer(): Promise<number> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => sockets.push(s)).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  after(() => {
    sockets.forEach((s) => s.destroy());
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

function assertRedacted(err: unknown, kind: DbError['kind'], reason: RegExp): true {
  assert.ok(err instanceof DbError, `a DbError, not ${String(err)}`);
  assert.equal(err.kind, kind, err.message);
  assert.doesNotMatch(err.message, /s3cret/, 'the password never appears');
  assert.match(err.message, /:\*\*\*@127\.0\.0\.1/, 'the database is named by its redacted URL');
  assert.match(err.message, reason);
  return true;
}

describe('unreachable databases', () => {
  for (const scheme of ['postgres', 'mysql'] as const) {
    test(`${scheme}: connection refused is kind "connect", names the URL without the password`, async () => {
      const db = openDb(`${scheme}://sipsd:s3cret@127.0.0.1:${await closedPort()}/sipsd`, { baseDir: '.' });
      await assert.rejects(db.query('SELECT 1'), (e) => assertRedacted(e, 'connect', /connection refused/));
      await db.close();
    });

    test(`${scheme}: a server that never answers is kind "timeout" within the connect timeout`, async () => {
      const db = openDb(`${scheme}://sipsd:s3cret@127.0.0.1:${await silentServer()}/sipsd`, {
        baseDir: '.',
        connectTimeoutMs: 300,
      });
      const started = Date.now();
      await assert.rejects(db.query('SELECT 1'), (e) => assertRedacted(e, 'timeout', /in time/));
      assert.ok(Date.now() - started < 3000, `gave up after ${Date.now() - started} ms`);
      await db.close();
    });
  }

  test('an unsupported URL is refused when opened, redacted', () => {
    assert.throws(
      () => openDb('oracle://scott:s3cret@db/orcl', { baseDir: '.' }),
      (e: unknown) => {
        assert.ok(e instanceof DbError);
        assert.equal(e.message.includes('s3cret'), false);
        assert.match(e.message, /unsupported database/);
        return true;
      },
    );
  });

  test('sqlite: a missing file says how to create it; a file that is not a database is kind "connect"', async () => {
    const dir = tempDir();
    const missing = openDb(`sqlite://${join(dir, 'nope.db')}`, { baseDir: '.' });
    await assert.rejects(missing.query('SELECT 1'), {
      kind: 'connect',
      message: /nope\.db does not exist; `sipsd db init` creates it/,
    });
    writeFileSync(
      join(dir, 'junk.db'),
      'this is not an SQLite file, not even close to one, at all. '.repeat(20),
    );
    const junk = openDb(`sqlite://${join(dir, 'junk.db')}`, { baseDir: '.' });
    await assert.rejects(junk.query('SELECT 1'), { kind: 'connect' });
    await junk.close();
  });
});

for (const d of testDatabases().filter((x) => x.dialect !== 'sqlite')) {
  describe(`${d.dialect} server refusals`, { skip: d.skip }, () => {
    const withPassword = (password: string) => {
      const u = new URL(d.url!);
      u.password = password;
      return u;
    };

    test('a wrong password is kind "connect" and never shown', async () => {
      const db = openDb(withPassword('s3cret-wrong').href, { baseDir: '.' });
      await assert.rejects(db.query('SELECT 1'), (e) =>
        assertRedacted(e, 'connect', /denied|authentication/i),
      );
      await db.close();
    });

    test('a database that does not exist is kind "connect"', async () => {
      const u = withPassword(decodeURIComponent(new URL(d.url!).password));
      u.pathname = '/no_such_database_sipsd';
      const db = openDb(u.href, { baseDir: '.' });
      await assert.rejects(db.query('SELECT 1'), { kind: 'connect', message: /no_such_database_sipsd/ });
      await db.close();
    });

    test('a statement running past the query timeout is kind "timeout"; the next one works', async () => {
      const db = openDb(d.url!, { baseDir: '.', queryTimeoutMs: 300 });
      const sleep = d.dialect === 'postgres' ? 'SELECT pg_sleep(3)' : 'SELECT SLEEP(3)';
      const started = Date.now();
      await assert.rejects(db.query(sleep), { kind: 'timeout' });
      assert.ok(Date.now() - started < 2000, `gave up after ${Date.now() - started} ms`);
      assert.deepEqual(await db.query('SELECT 1 AS one'), [{ one: 1 }]);
      await db.close();
    });

    test('a connection killed by the server is replaced, never an uncaught error', async () => {
      const db = openDb(d.url!, { baseDir: '.' });
      const admin = openDb(d.url!, { baseDir: '.' });
      const pidSql =
        d.dialect === 'postgres' ? 'SELECT pg_backend_pid() AS p' : 'SELECT CONNECTION_ID() AS p';
      const pid = (await db.query(pidSql))[0]!['p'];
      await admin.exec(
        d.dialect === 'postgres' ? 'SELECT pg_terminate_backend(?)' : `KILL ${Number(pid)}`,
        d.dialect === 'postgres' ? [pid!] : [],
      );
      await new Promise((r) => setTimeout(r, 200));
      // The driver may learn of the loss only on use: one failure is allowed, then a new connection.
      const again = await db.query(pidSql).catch(async (e: unknown) => {
        assert.ok(e instanceof DbError, String(e));
        return db.query(pidSql);
      });
      assert.notEqual(again[0]!['p'], pid);
      await Promise.all([db.close(), admin.close()]);
    });
  });
}
