// SQL-provisioned domains on a running server (SQLite file): rows are served by SNI, a broken row
// is skipped with a warning naming it, config-file domains win name collisions, contexts are built
// on first use, and tls_reload picks up added and removed rows and a `default` row. UPDATEs with
// live connections and a database down at reload run on all three databases in
// test/server/sql-reload.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateConfigText } from '../../src/config/load.js';
import { openDb, type Db } from '../../src/db/db.js';
import { defaultDbConfig } from '../../src/db/config.js';
import { TlsMgmTable, type NewTlsMgmRow } from '../../src/db/tls-mgm.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { TestCa } from '../helpers/domains.js';
import { testLog } from '../helpers/peers.js';
import { insertServerRow, servedCn } from '../db/helpers.js';

describe('tls_mgm rows on a running server', () => {
  let ca: TestCa;
  let db: Db;
  let table: TlsMgmTable;
  let server: RunningServer;
  let port = 0;
  const dbFile = () => join(ca.dir, 'sipsd.db');

  const served = (servername?: string) => servedCn(port, readFileSync(ca.caFile), servername);
  const row = (domain: string, cn: string, extra: Partial<NewTlsMgmRow> = {}) =>
    insertServerRow(table, ca, domain, cn, extra);

  before(async () => {
    ca = await TestCa.create();
    db = openDb(`sqlite://${dbFile()}`, { baseDir: ca.dir, create: true });
    table = new TlsMgmTable(db, defaultDbConfig('sqlite'));
    await table.init();
    await row('db1', 'db1.example.com', { match_sip_domain: 'db1.example.com' });
    // A key that belongs to another certificate: skipped, the rest loads.
    const other = await ca.issue('other', 'other.example.com', 'server');
    const mine = await ca.issue('broken', 'broken.example.com', 'server');
    await table.insert({
      domain: 'broken',
      type: 2,
      match_sip_domain: 'broken.example.com',
      certificate: readFileSync(mine.cert),
      private_key: readFileSync(other.key),
    });
    // Same name and type as a config-file domain: the file wins.
    await row('cfg', 'impostor.example.com', { match_sip_domain: 'cfg.example.com' });
    const cfg = await ca.issue('cfg-file', 'cfg.example.com', 'server');
    const text = [
      "listen: ['tls:127.0.0.1:0']",
      'mi: { enabled: false }',
      `db_url: sqlite://${dbFile()}`,
      'tls_domains:',
      `  - { name: cfg, type: server, certificate: ${cfg.cert}, private_key: ${cfg.key}, match_sip_domain: [cfg.example.com], verify_client: off }`,
    ].join('\n');
    const file = join(ca.dir, 'sipsd.yaml');
    const loaded = validateConfigText(text, file);
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
    server = await startServer(loaded.config, file, testLog);
    port = server.listeners[0]!.port;
  });
  after(async () => {
    await server?.stop();
    await db?.close();
    ca?.remove();
  });

  test('rows are served by SNI; the broken row is skipped and named; the file wins a name collision', async () => {
    assert.equal(await served('db1.example.com'), 'db1.example.com');
    assert.equal(await served('cfg.example.com'), 'cfg.example.com');
    assert.match(await served('broken.example.com'), /^error: .*unrecognized name/i);
    const r = await server.tls.reload();
    assert.equal(r.ok, true);
    assert.ok(
      r.warnings.some((w) => /tls_mgm row \d+.*broken|broken.*row/i.test(w)),
      r.warnings.join('\n'),
    );
    assert.ok(
      r.warnings.some((w) => /server domain "cfg" from db ignored/.test(w)),
      r.warnings.join('\n'),
    );
  });

  test('row contexts are built on first use and kept across reloads while the row is unchanged', async () => {
    const slot = (name: string) =>
      server.tls.snapshot.domains.find((d) => d.domain.name === name && d.domain.source.kind === 'db');
    await row('lazy', 'lazy.example.com', { match_sip_domain: 'lazy.example.com' });
    assert.equal((await server.tls.reload()).ok, true);
    assert.equal(slot('lazy')?.built, undefined, 'not built before a client asks for it');
    assert.match(String(slot('lazy')?.leaf?.subject), /CN=lazy\.example\.com/, 'checked at load');
    assert.equal(await served('lazy.example.com'), 'lazy.example.com');
    const built = slot('lazy')?.built;
    assert.ok(built, 'built by the handshake');
    assert.equal((await server.tls.reload()).ok, true);
    assert.equal(slot('lazy')?.built, built, 'an unchanged row keeps its context');
  });

  test('tls_reload picks up added and removed rows, and a `default` row replaces the built-in default', async () => {
    await row('db2', 'db2.example.com', { match_sip_domain: 'db2.example.com' });
    await row('default', 'db-default.example.com');
    await table.remove('db1', 2);
    assert.equal((await server.tls.reload()).ok, true);
    assert.equal(await served('db2.example.com'), 'db2.example.com');
    assert.match(await served('db1.example.com'), /^error: .*unrecognized name/i);
    assert.equal(await served(), 'db-default.example.com');
  });
});
