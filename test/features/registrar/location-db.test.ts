// The location table on SQLite, PostgreSQL and MariaDB: bindings written through on register,
// refresh and unregister, read back by a registrar started afterwards (a restart), expired rows
// dropped; and a write that fails keeps the registration and is repaired by the next sweep.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { tableVersion } from '../../../src/features/auth/sql-schema.js';
import { defaultRegistrarConfig, type RegistrarConfig } from '../../../src/features/registrar/config.js';
import { Location } from '../../../src/features/registrar/location.js';
import { LOCATION_VERSION, LocationTable } from '../../../src/features/registrar/location-table.js';
import { openRegistrar, Registrar } from '../../../src/features/registrar/registrar.js';
import type { Binding } from '../../../src/features/registrar/binding.js';
import type { Db } from '../../../src/db/db.js';
import { openTestDb, testDatabases, uniqueTable } from '../../db/helpers.js';
import { register, TestClock } from '../helpers.js';

const AOR = 'sip:alice@atlanta.example.com';
const INSTANCE = '"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>"';

/** A registrar writing through to `table`, as a server start would make it (loading the rows). */
async function start(db: Db, table: string, clock: TestClock, overrides: Partial<RegistrarConfig> = {}) {
  const config = defaultRegistrarConfig({ usrloc_db_mode: 1, location_table: table, ...overrides });
  const { registrar, loaded } = await openRegistrar(config, { db, createTable: true, now: clock.now });
  return { registrar, loaded };
}

for (const d of testDatabases()) {
  describe(`location table on ${d.dialect}`, { skip: d.skip }, () => {
    function fresh() {
      const table = uniqueTable('location_t');
      const { db } = openTestDb(d, { db_table: table });
      return { db, table, clock: new TestClock() };
    }

    test('bindings survive a restart with every field; unregistered and expired ones do not', async () => {
      const { db, table, clock } = fresh();
      const first = await start(db, table, clock);
      assert.deepEqual(first.loaded, { loaded: 0, skipped: [] });
      assert.equal(await tableVersion(db, table), LOCATION_VERSION);
      const r = first.registrar;
      const saved = await r.save(
        register({
          cseq: 1,
          contacts: [
            `<sip:alice@10.0.0.5:5060;transport=tcp>;+sip.instance=${INSTANCE};reg-id=1;q=0.7;expires=600`,
            '<sip:alice@192.0.2.10>;q=0.2',
            '<sip:gone@192.0.2.11>',
            '<sip:short@192.0.2.12>;expires=100',
          ],
          extra: [
            'Path: <sip:edge.atlanta.example.com;lr>, <sip:core.atlanta.example.com;lr;ob>',
            'User-Agent: Phone "X" 1.0',
          ],
        }),
        { source: { proto: 'tcp', address: '198.51.100.7', port: 40123 }, socket: 'tcp:192.0.2.1:5060' },
      );
      assert.ok(saved.ok && saved.persisted);
      clock.advance(10);
      assert.ok(
        (await r.save(register({ cseq: 2, contacts: ['<sip:alice@192.0.2.10>;q=0.2'], expires: 1200 }))).ok,
      );
      assert.ok((await r.save(register({ cseq: 3, contacts: ['<sip:gone@192.0.2.11>'], expires: 0 }))).ok);
      const before = r.lookup(AOR);
      assert.equal(before.length, 3);
      await r.location.close();

      clock.advance(100); // the short one expires while the server is down
      const second = await start(db, table, clock);
      assert.deepEqual(second.loaded, { loaded: 2, skipped: [] });
      const after = second.registrar.lookup(AOR);
      assert.deepEqual(
        after,
        before.filter((b) => b.contact !== 'sip:short@192.0.2.12'),
      );
      const tcp = after.find((b) => b.regId === 1)!;
      assert.deepEqual({ ...tcp }, {
        id: tcp.id,
        username: 'alice',
        domain: 'atlanta.example.com',
        contact: 'sip:alice@10.0.0.5:5060;transport=tcp',
        params: `;+sip.instance=${INSTANCE};reg-id=1`,
        q: 0.7,
        expires: clock.ms / 1000 - 110 + 600,
        callId: '843817637684230@998sdasdh09',
        cseq: 1,
        path: ['<sip:edge.atlanta.example.com;lr>', '<sip:core.atlanta.example.com;lr;ob>'],
        received: 'sip:198.51.100.7:40123;transport=tcp',
        socket: 'tcp:192.0.2.1:5060',
        userAgent: 'Phone "X" 1.0',
        instance: '<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>',
        regId: 1,
        lastModified: clock.ms / 1000 - 110,
      } satisfies Binding);
      const rows = await db.query(`SELECT ${db.ident('contact')} AS c FROM ${db.ident(table)} ORDER BY 1`);
      assert.deepEqual(
        rows.map((row) => row['c']),
        ['sip:alice@10.0.0.5:5060;transport=tcp', 'sip:alice@192.0.2.10'],
        'the expired row was deleted at load',
      );
      // The reloaded bindings keep refreshing by id: no duplicate rows.
      assert.ok(
        (await second.registrar.save(register({ cseq: 4, contacts: ['<sip:alice@192.0.2.10>'] }))).ok,
      );
      assert.equal((await db.query(`SELECT 1 AS one FROM ${db.ident(table)}`)).length, 2);
      await second.registrar.location.close();
    });

    test('Contact: * empties the rows; the sweep deletes expired rows', async () => {
      const { db, table, clock } = fresh();
      const { registrar } = await start(db, table, clock, { use_domain: true });
      await registrar.save(register({ cseq: 1, contacts: ['<sip:a@192.0.2.1>', '<sip:b@192.0.2.2>'] }));
      await registrar.save(register({ cseq: 1, user: 'bob', contacts: ['<sip:bob@192.0.2.3>;expires=60'] }));
      const count = async () => (await db.query(`SELECT 1 AS one FROM ${db.ident(table)}`)).length;
      assert.equal(await count(), 3);
      assert.ok((await registrar.save(register({ cseq: 2, contacts: ['*'], expires: 0 }))).ok);
      assert.equal(await count(), 1);
      clock.advance(60);
      assert.equal(await registrar.location.sweep(), 1);
      assert.equal(await count(), 0);
      await registrar.location.close();
    });

    test('a version row of another number is refused at start', async () => {
      const { db, table, clock } = fresh();
      await new LocationTable(db, table).init();
      await db.exec(`UPDATE ${db.ident('version')} SET table_version = 1013 WHERE table_name = ?`, [table]);
      await assert.rejects(start(db, table, clock), /version 1013; sipsd uses version 1/);
    });
  });
}

describe('write-through failures', () => {
  const sqlite = testDatabases()[0]!;

  /** A location table whose writes fail while `down` is set. */
  class FlakyTable extends LocationTable {
    down = false;
    override async upsert(b: Binding): Promise<void> {
      if (this.down) throw new Error('connection refused');
      return super.upsert(b);
    }
    override async remove(id: string): Promise<number> {
      if (this.down) throw new Error('connection refused');
      return super.remove(id);
    }
  }

  test('a failed write keeps the registration in memory and the next sweep rewrites the AoR', async () => {
    const table = uniqueTable('location_t');
    const { db } = openTestDb(sqlite, { db_table: table });
    const clock = new TestClock();
    const flaky = new FlakyTable(db, table);
    await flaky.init();
    const warnings: string[] = [];
    const log = {
      info: () => undefined,
      warn: (_o: unknown, msg?: string) => void warnings.push(String(msg)),
    };
    const location = new Location({ useDomain: false, table: flaky, now: clock.now, log: log as never });
    const registrar = new Registrar(defaultRegistrarConfig(), location, { now: clock.now });
    const contacts = async () =>
      (await db.query(`SELECT ${db.ident('contact')} AS c FROM ${db.ident(table)} ORDER BY 1`)).map(
        (r) => r['c'],
      );

    assert.ok((await registrar.save(register({ cseq: 1, contacts: ['<sip:a@192.0.2.1>'] }))).ok);
    flaky.down = true;
    const result = await registrar.save(
      register({ cseq: 2, contacts: ['<sip:a@192.0.2.1>;expires=0', '<sip:b@192.0.2.2>'] }),
    );
    assert.ok(result.ok, 'the REGISTER is answered 200 all the same');
    assert.equal(result.persisted, false);
    assert.match(warnings[0] ?? '', /write failed/);
    assert.deepEqual(
      registrar.lookup(AOR).map((b) => b.contact),
      ['sip:b@192.0.2.2'],
    );
    assert.deepEqual(await contacts(), ['sip:a@192.0.2.1']);
    flaky.down = false;
    await location.sweep();
    assert.deepEqual(await contacts(), ['sip:b@192.0.2.2']);
    await location.close();
  });

  test('usrloc_db_mode 1 without a database is refused', async () => {
    await assert.rejects(openRegistrar(defaultRegistrarConfig({ usrloc_db_mode: 1 })), /needs a database/);
  });
});
