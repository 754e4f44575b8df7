// The tls_mgm table as a TLS domain source: rows become domains with inline PEMs and the module's
// defaults for NULL columns; a bad row is skipped with a warning naming its id, domain and column
// while the others load; the manager keeps config-file domains over DB ones, lets a DB `default`
// replace the built-in one, and keeps the running snapshot when the database is gone.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { defaultDbConfig } from '../../src/db/config.js';
import { openDb, type Db } from '../../src/db/db.js';
import { TlsMgmTable, type NewTlsMgmRow } from '../../src/db/tls-mgm.js';
import { silentLogger } from '../../src/log/logger.js';
import { DEFAULT_CA_DIR } from '../../src/tls/domain.js';
import { TlsManager } from '../../src/tls/manager.js';
import { configDomainSource } from '../../src/tls/sources/config-domains.js';
import { sqlDomainSource } from '../../src/tls/sources/sql-domains.js';
import { TestCa } from '../helpers/domains.js';
import { openTestDb, TcpProxy, tempDir, testDatabases, uniqueTable, type TestDatabase } from './helpers.js';

interface Pems {
  cert: Buffer;
  key: Buffer;
  otherKey: Buffer;
  ca: Buffer;
}

let ca: TestCa;
let pems: Pems;
before(async () => {
  ca = await TestCa.create('DB CA');
  const a = await ca.issue('a', 'a.example.com', 'server');
  const b = await ca.issue('b', 'b.example.com', 'server');
  pems = {
    cert: readFileSync(a.cert),
    key: readFileSync(a.key),
    otherKey: readFileSync(b.key),
    ca: readFileSync(ca.caFile),
  };
});
after(() => ca?.remove());

const good = (domain: string, type: 1 | 2 = 2, extra: Partial<NewTlsMgmRow> = {}): NewTlsMgmRow => ({
  domain,
  type,
  certificate: pems.cert,
  private_key: pems.key,
  ...extra,
});

async function filledTable(d: TestDatabase, rows: NewTlsMgmRow[], renames = {}) {
  const { db, config } = openTestDb(d, renames);
  const table = new TlsMgmTable(db, config);
  await table.init();
  const ids: number[] = [];
  for (const r of rows) ids.push(await table.insert(r));
  return { db, config, table, ids };
}

for (const d of testDatabases()) {
  describe(`SQL domain source on ${d.dialect}`, { skip: d.skip }, () => {
    test('rows become domains: PEM BLOBs inline and labelled, source db with the row id', async () => {
      const { db, config, ids } = await filledTable(d, [
        good('atlanta', 2, {
          match_ip_address: '10.0.0.10:5061, [2001:db8::1]:5061',
          match_sip_domain: 'atlanta.com,*.atlanta.com',
          method: 'TLSv1_2-TLSv1_3',
          verify_cert: 1,
          require_cert: 0,
          ca_list: pems.ca,
          cipher_list: 'ECDHE+AESGCM',
          ec_curve: 'prime256v1',
        }),
        good('gw', 1, { verify_cert: 0 }),
      ]);
      const { domains, warnings } = await sqlDomainSource(db, config, { baseDir: '/etc/sipsd' }).read();
      assert.deepEqual(warnings, []);
      const [atlanta, gw] = domains;
      assert.deepEqual(atlanta!.source, { kind: 'db', row: ids[0] });
      assert.equal(atlanta!.type, 'server');
      assert.deepEqual(atlanta!.matchAddresses, [
        { address: '10.0.0.10', port: 5061 },
        { address: '2001:db8::1', port: 5061 },
      ]);
      assert.deepEqual(atlanta!.matchSipDomains, ['atlanta.com', '*.atlanta.com']);
      assert.deepEqual([atlanta!.method.min, atlanta!.method.max], ['TLSv1.2', 'TLSv1.3']);
      assert.equal(atlanta!.verify, 'optional', 'verify_cert 1 + require_cert 0 on a server');
      assert.deepEqual(atlanta!.certificate, {
        pem: pems.cert,
        label: `${config.db_table} row ${ids[0]} certificate`,
      });
      assert.deepEqual(atlanta!.privateKey, {
        pem: pems.key,
        label: `${config.db_table} row ${ids[0]} private_key`,
      });
      assert.deepEqual(atlanta!.caList, { pem: pems.ca, label: `${config.db_table} row ${ids[0]} ca_list` });
      assert.equal(atlanta!.cipherList, 'ECDHE+AESGCM');
      assert.equal(atlanta!.ecCurve, 'prime256v1');
      assert.equal(gw!.type, 'client');
      assert.equal(gw!.verify, 'off');
      assert.equal(gw!.verifyServerName, false, 'as OpenSIPS, which has no such check');
    });

    test('rows with the same material share one Buffer per value; labels stay per row', async () => {
      const { db, config, ids } = await filledTable(d, [
        good('one', 2, { ca_list: pems.ca }),
        good('two', 2, { ca_list: pems.ca }),
        good('three', 2, { ca_list: pems.ca, private_key: pems.otherKey }),
      ]);
      const { domains, warnings } = await sqlDomainSource(db, config, { baseDir: '/etc/sipsd' }).read();
      assert.deepEqual(warnings, []);
      const pemOf = (i: number, field: 'certificate' | 'privateKey' | 'caList') => {
        const ref = domains[i]![field];
        assert.ok(ref && 'pem' in ref);
        return ref;
      };
      assert.equal(pemOf(0, 'caList').pem, pemOf(1, 'caList').pem, 'one Buffer, not an equal copy');
      assert.equal(pemOf(0, 'caList').pem, pemOf(2, 'caList').pem);
      assert.equal(pemOf(0, 'certificate').pem, pemOf(2, 'certificate').pem);
      assert.equal(pemOf(0, 'privateKey').pem, pemOf(1, 'privateKey').pem);
      assert.notEqual(pemOf(0, 'privateKey').pem, pemOf(2, 'privateKey').pem);
      assert.deepEqual(pemOf(2, 'privateKey').pem, pems.otherKey);
      assert.equal(pemOf(1, 'caList').label, `${config.db_table} row ${ids[1]} ca_list`);
    });

    test('NULL columns mean the module defaults; NULL filters mean any', async () => {
      const nulls = {
        match_ip_address: null,
        match_sip_domain: null,
        method: null,
        verify_cert: null,
        require_cert: null,
        crl_check_all: null,
        ca_dir: null,
      };
      const { db, config } = await filledTable(d, [
        { domain: 'bare', type: 2, ...nulls },
        good('blank', 2, { ...nulls, match_sip_domain: '' }),
      ]);
      const { domains, warnings } = await sqlDomainSource(db, config, { baseDir: '/etc/sipsd' }).read();
      assert.deepEqual(warnings, []);
      const [bare, blank] = domains;
      for (const dom of [bare!, blank!]) {
        assert.deepEqual(dom.matchAddresses, []);
        assert.deepEqual(dom.matchSipDomains, ['*']);
        assert.deepEqual([dom.method.min, dom.method.max], ['TLSv1.2', 'TLSv1.3'], 'SSLv23');
        assert.equal(dom.verify, 'on', 'verify_cert 1, require_cert 1');
        assert.equal(dom.crlCheckAll, false);
        assert.deepEqual(dom.caDir, { dir: DEFAULT_CA_DIR, optional: true });
      }
      // OpenSIPS's CFG_DIR/tls/cert.pem and ckey.pem when the BLOBs are NULL.
      assert.deepEqual(bare!.certificate, { file: '/etc/sipsd/tls/cert.pem', optional: false });
      assert.deepEqual(bare!.privateKey, { file: '/etc/sipsd/tls/ckey.pem', optional: false });
    });

    test('a bad row is skipped with a warning naming row, domain and column; the others load', async () => {
      const { db, config, ids } = await filledTable(
        d,
        [
          good('ok-1'),
          good('bad-pem', 2, { certificate: Buffer.from('this is not PEM') }),
          good('bad-method', 2, { method: 'TLSv9' }),
          good('bad-match', 2, { match_ip_address: '10.0.0.300:5061' }),
          good('bad-sni', 2, { match_sip_domain: 'bad domain!' }),
          good('bad-type', 3 as 1),
          good('bad-key', 2, {
            private_key: Buffer.from('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'),
          }),
          good('bad-two', 2, { method: 'TLSv9', match_ip_address: 'nope' }),
          good('ok-2', 1),
        ],
        { tls_method_col: 'meth', match_ip_address_col: 'addr' },
      );
      const { domains, warnings } = await sqlDomainSource(db, config, { baseDir: '/etc/sipsd' }).read();
      assert.deepEqual(
        domains.map((x) => x.name),
        ['ok-1', 'ok-2'],
      );
      const t = config.db_table;
      assert.equal(warnings.length, 7, warnings.join('\n'));
      assert.match(
        warnings[0]!,
        new RegExp(
          `^${t} row ${ids[1]} \\(domain "bad-pem"\\): certificate: no PEM certificate .* block in the 15-byte value; row skipped$`,
        ),
      );
      // Renamed columns are named as the operator named them.
      assert.match(
        warnings[1]!,
        new RegExp(`^${t} row ${ids[2]} \\(domain "bad-method"\\): meth: unknown TLS method "TLSv9"`),
      );
      assert.match(
        warnings[2]!,
        new RegExp(
          `^${t} row ${ids[3]} \\(domain "bad-match"\\): addr: "10.0.0.300" is not an IP address; row skipped$`,
        ),
      );
      assert.match(
        warnings[3]!,
        /\(domain "bad-sni"\): match_sip_domain: "bad domain!" is not a domain name or pattern/,
      );
      assert.match(
        warnings[4]!,
        /\(domain "bad-type"\): type: 3 is not a domain type \(1 = client, 2 = server\)/,
      );
      assert.match(warnings[5]!, /\(domain "bad-key"\): private_key: no PEM private key/);
      // Every problem of a row is named, each with its column.
      assert.match(
        warnings[6]!,
        /\(domain "bad-two"\): addr: "nope" is not an IP address; meth: unknown TLS method "TLSv9".*; row skipped$/,
      );
    });

    test('a large table is read in pages, in id order, nothing skipped or repeated, yielding between pages', async () => {
      const rows = Array.from({ length: 23 }, (_, i) => good(`d${i}`, ((i % 2) + 1) as 1 | 2));
      const { db, config } = await filledTable(d, rows);
      // Other work gets turns of the event loop while the pages are read.
      let turns = 0;
      let reading = true;
      const spin = () => {
        turns++;
        if (reading) setImmediate(spin);
      };
      setImmediate(spin);
      const { domains } = await sqlDomainSource(db, config, { baseDir: '/', pageSize: 5 }).read();
      reading = false;
      assert.ok(turns >= 4, `${turns} event-loop turns during 5 pages`);
      assert.deepEqual(
        domains.map((x) => x.name),
        rows.map((r) => r.domain),
      );
    });
  });
}

/** Builds a manager over a config source and the DB source, with CFG_DIR/tls/cert.pem present. */
function managerFor(
  db: Db,
  config: Parameters<typeof sqlDomainSource>[1],
  configDomains: Parameters<typeof configDomainSource>[0] = [],
) {
  const dir = tempDir();
  mkdirSync(join(dir, 'tls'));
  copyFileSync(join(ca.dir, 'b.pem'), join(dir, 'tls/cert.pem'));
  copyFileSync(join(ca.dir, 'b.key'), join(dir, 'tls/ckey.pem'));
  return new TlsManager(
    [
      configDomainSource(configDomains, join(dir, 'sipsd.yaml')),
      sqlDomainSource(db, config, { baseDir: dir }),
    ],
    dir,
    silentLogger,
  );
}

const serverDefault = (m: TlsManager) =>
  m.snapshot.domains.find((b) => b.domain.name === 'default' && b.domain.type === 'server')!.domain.source
    .kind;

for (const d of testDatabases()) {
  describe(`${d.dialect}: the DB source in the TLS manager`, { skip: d.skip }, () => {
    test('a config-file domain wins over the DB row of the same name and type, with a warning', async () => {
      const { db, config, ids } = await filledTable(d, [good('atlanta'), good('biloxi')]);
      const manager = managerFor(db, config, [
        {
          name: 'atlanta',
          type: 'server',
          certificate: join(ca.dir, 'b.pem'),
          private_key: join(ca.dir, 'b.key'),
        },
      ]);
      const result = await manager.load();
      assert.ok(
        result.warnings.some(
          (w) => w.includes(`server domain "atlanta" from db ignored: config`) && w.includes('the file wins'),
        ),
        result.warnings.join('\n'),
      );
      const atlanta = manager.snapshot.domains.find((b) => b.domain.name === 'atlanta')!;
      assert.equal(atlanta.domain.source.kind, 'config');
      assert.deepEqual(manager.snapshot.domains.find((b) => b.domain.name === 'biloxi')!.domain.source, {
        kind: 'db',
        row: ids[1],
      });
    });

    test('a DB row named default replaces the built-in default; removing it reinstates the built-in one', async () => {
      const { db, config, table } = await filledTable(d, [good('default', 2)]);
      const manager = managerFor(db, config);
      await manager.load();
      assert.equal(serverDefault(manager), 'db');
      assert.equal(await table.remove('default', 2), 1);
      assert.equal((await manager.reload()).ok, true);
      assert.equal(serverDefault(manager), 'builtin');
    });
  });
}

describe('the SQLite source in the TLS manager', () => {
  test('tls_reload with the SQLite file gone keeps the running domains and says why', async () => {
    const dir = tempDir();
    const url = `sqlite://${join(dir, 'gone.db')}`;
    const config = { ...defaultDbConfig(url), db_table: uniqueTable() };
    const admin = new TlsMgmTable(openDb(url, { baseDir: '/', create: true }), config);
    await admin.init();
    await admin.insert(good('atlanta'));
    await admin.db.close();
    // As the server opens it: never creating the file.
    const db = openDb(url, { baseDir: '/' });
    const manager = managerFor(db, config);
    await manager.load();
    await db.close(); // as after its idle time
    rmSync(join(dir, 'gone.db'));
    const result = await manager.reload();
    assert.equal(result.ok, false);
    assert.match(
      result.errors[0]!,
      new RegExp(`^db: table ${config.db_table}: sqlite://.*gone\\.db: .*gone\\.db does not exist`),
    );
    assert.ok(
      manager.snapshot.domains.some((b) => b.domain.name === 'atlanta'),
      'the running snapshot stays',
    );
  });
});

for (const d of testDatabases().filter((x) => x.dialect !== 'sqlite')) {
  describe(`tls_reload with ${d.dialect} gone`, { skip: d.skip }, () => {
    test('the running domains stay and the answer names the database without its password', async () => {
      // A loopback proxy stands for the network path to the server, so it can be cut.
      const real = new URL(d.url!);
      const proxy = await TcpProxy.start(real.hostname, Number(real.port));
      const { db: direct, config } = await filledTable(d, [good('atlanta')]);
      const db = openDb(proxy.via(d.url!), { baseDir: '/' });
      const manager = managerFor(db, config);
      await manager.load();
      await direct.close();
      await proxy.cut();
      const result = await manager.reload();
      assert.equal(result.ok, false);
      assert.equal(
        result.errors.join().includes(`:${decodeURIComponent(real.password)}@`),
        false,
        result.errors.join(),
      );
      assert.match(
        result.errors[0]!,
        new RegExp(
          `^db: table ${config.db_table}: ${d.dialect}://${real.username}:\\*\\*\\*@127\\.0\\.0\\.1:\\d+/.*: connection refused`,
        ),
      );
      assert.ok(
        manager.snapshot.domains.some((b) => b.domain.name === 'atlanta'),
        'the running snapshot stays',
      );
      await db.close();
    });
  });
}
