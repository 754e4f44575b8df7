// tls_reload of SQL-provisioned domains on a running server, on SQLite, PostgreSQL and MariaDB:
// an inserted row is served by SNI after a reload without a restart, an UPDATEd row is served
// renewed while a connection made under the old row goes on working, a DELETEd row is refused to
// new clients while its live connection stays, and with the database down the reload fails saying
// why and the running domains keep serving until a reload after the database is back.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import { TlsMgmTable } from '../../src/db/tls-mgm.js';
import type { ReloadResult } from '../../src/tls/manager.js';
import { TestCa } from '../helpers/domains.js';
import { options, startTestServer, StreamPeer, type TestServer } from '../helpers/peers.js';
import {
  dbLink,
  insertServerRow,
  openTestDb,
  servedCn,
  testDatabases,
  updateRow,
  type DbLink,
} from '../db/helpers.js';

const UNRECOGNIZED = /^error: .*unrecognized name/i;

for (const d of testDatabases()) {
  describe(`tls_reload of tls_mgm rows on a running server, ${d.dialect}`, { skip: d.skip }, () => {
    const { db, config } = openTestDb(d);
    const table = new TlsMgmTable(db, config);
    let ca: TestCa;
    let link: DbLink;
    let sipsd: TestServer;
    const live: StreamPeer[] = [];
    const caPem = () => readFileSync(ca.caFile);
    const served = (sni: string) => servedCn(sipsd.port('tls'), caPem(), sni);
    const reload = () => sipsd.server.tls.reload();
    const assertReloaded = (r: ReloadResult) => assert.equal(r.ok, true, r.errors.join('\n'));

    /** A TLS connection to `sni`, checked the usual way (the CA and the name). */
    const connectTo = async (sni: string) => {
      const peer = await StreamPeer.tls(sipsd.port('tls'), { ca: caPem(), servername: sni });
      live.push(peer);
      return peer;
    };
    /** The connection is the one it was and carries SIP: OPTIONS answered with 200. */
    const assertAlive = async (peer: StreamPeer) => {
      const before = peer.received.length;
      peer.write(options('TLS'));
      await peer.until((r) => /^SIP\/2\.0 200 /m.test(r.slice(before)));
      assert.equal(peer.closed, false);
    };

    /** Stores a server row for `<name>.example.com`, with a certificate of that name. */
    const addRow = (name: string) =>
      insertServerRow(table, ca, name, `${name}.example.com`, { match_sip_domain: `${name}.example.com` });

    before(async () => {
      ca = await TestCa.create('SQL reload CA');
      await table.init();
      await addRow('boot');
      link = await dbLink(d);
      sipsd = await startTestServer(`db_url: ${link.url}\ndb_table: ${config.db_table}`);
    });
    after(async () => {
      for (const peer of live) peer.close();
      await sipsd?.stop();
      await link?.close();
      ca?.remove();
    });

    // Each test adds rows of its own names, so any of them can run alone (--test-name-pattern).

    test('a row inserted and reloaded is served by SNI without a restart; a connection made before lives on', async () => {
      assert.equal(await served('boot.example.com'), 'boot.example.com', 'the row read at start');
      const boot = await connectTo('boot.example.com');
      assert.match(await served('inserted.example.com'), UNRECOGNIZED);
      await addRow('inserted');
      assert.match(await served('inserted.example.com'), UNRECOGNIZED, 'not before the reload');
      assertReloaded(await reload());
      assert.equal(await served('inserted.example.com'), 'inserted.example.com');
      await assertAlive(boot);
    });

    test('an UPDATEd row is served renewed after reload; the connection made under the old row keeps working', async () => {
      await addRow('updated');
      assertReloaded(await reload());
      const old = await connectTo('updated.example.com');
      const renewed = await ca.issue('updated-renewed', 'renewed.example.com', 'server', [
        'updated.example.com',
      ]);
      const changed = await updateRow(table, 'updated', 2, {
        certificate: readFileSync(renewed.cert),
        private_key: readFileSync(renewed.key),
      });
      assert.equal(changed, 1);
      assertReloaded(await reload());
      assert.equal(await served('updated.example.com'), 'renewed.example.com');
      await assertAlive(old);
      const cn = (old.socket as TLSSocket).getPeerCertificate().subject.CN;
      assert.equal(cn, 'updated.example.com', 'still the connection of the old row');
    });

    test('a DELETEd row is refused to new clients after reload; its live connection stays', async () => {
      await addRow('deleted');
      await addRow('kept');
      assertReloaded(await reload());
      const doomed = await connectTo('deleted.example.com');
      assert.equal(await table.remove('deleted', 2), 1);
      assertReloaded(await reload());
      assert.match(await served('deleted.example.com'), UNRECOGNIZED);
      assert.equal(
        sipsd.server.tls.snapshot.domains.some((s) => s.domain.name === 'deleted'),
        false,
        'gone from the snapshot',
      );
      await assertAlive(doomed);
      assert.equal(await served('kept.example.com'), 'kept.example.com', 'the other rows stay');
    });

    test('with the database down the reload fails saying why; the running domains serve until it is back', async () => {
      await addRow('running');
      assertReloaded(await reload());
      const running = await connectTo('running.example.com');
      await addRow('later');
      await link.cut();
      try {
        const r = await reload();
        assert.equal(r.ok, false, 'a reload without the database fails');
        assert.match(r.errors.join('\n'), new RegExp(`^db: table ${config.db_table}: ${d.dialect}:`));
        assert.match(r.errors.join('\n'), link.downReason);
        assert.equal(await served('running.example.com'), 'running.example.com');
        assert.match(await served('later.example.com'), UNRECOGNIZED, 'the snapshot is the running one');
        await assertAlive(running);
      } finally {
        await link.restore();
      }
      assertReloaded(await reload());
      assert.equal(await served('later.example.com'), 'later.example.com', 'read again once it is back');
      await assertAlive(running);
    });
  });
}
