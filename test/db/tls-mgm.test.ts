// The tls_mgm schema on each database: `init` creates OpenSIPS's table (version 3) and version row
// and is idempotent; renamed table and columns are honoured; a version-2 table is refused.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TLS_MGM_VERSION } from '../../src/db/config.js';
import { DbError } from '../../src/db/db.js';
import { TlsMgmTable } from '../../src/db/tls-mgm.js';
import { openTestDb, testDatabases, uniqueTable } from './helpers.js';

for (const d of testDatabases()) {
  describe(`tls_mgm on ${d.dialect}`, { skip: d.skip }, () => {
    test('init creates the table and its version row once; a second init changes nothing', async () => {
      const { db, config } = openTestDb(d);
      const table = new TlsMgmTable(db, config);
      assert.deepEqual(await table.init(), { created: true });
      assert.deepEqual(await table.init(), { created: false });
      const versions = await db.query(
        `SELECT table_version FROM ${db.ident('version')} WHERE table_name = ?`,
        [config.db_table],
      );
      assert.deepEqual(versions, [{ table_version: TLS_MGM_VERSION }]);
      const id = await table.insert({ domain: 'atlanta', type: 2 });
      const [row] = await table.page(0, 10);
      // OpenSIPS's column defaults apply to what is left out.
      assert.deepEqual(
        { ...row, id: undefined },
        {
          id: undefined,
          type: 2,
          domain: 'atlanta',
          match_ip_address: null,
          match_sip_domain: null,
          method: 'SSLv23',
          verify_cert: 1,
          require_cert: 1,
          certificate: null,
          private_key: null,
          crl_check_all: 0,
          crl_dir: null,
          ca_list: null,
          ca_dir: null,
          cipher_list: null,
          dh_params: null,
          ec_curve: null,
        },
      );
      assert.equal(row!.id, id);
      await assert.rejects(table.insert({ domain: 'atlanta', type: 2 }), { kind: 'duplicate' });
      await table.insert({ domain: 'atlanta', type: 1 });
      assert.equal(await table.remove('atlanta', 2), 1);
      assert.equal(await table.remove('atlanta', 2), 0);
      assert.deepEqual(
        (await table.page(0, 10)).map((r) => [r.domain, r.type]),
        [['atlanta', 1]],
      );
    });

    test('db_table and every *_col rename the schema; rows still come back under the default names', async () => {
      const renamed = {
        db_table: uniqueTable('renamed'),
        domain_col: 'dom',
        match_ip_address_col: 'addr',
        match_sip_domain_col: 'sipdom',
        tls_method_col: 'meth',
        verify_cert_col: 'vc',
        require_cert_col: 'rc',
        certificate_col: 'cert',
        private_key_col: 'pk',
        crl_check_all_col: 'crl_check',
        crl_dir_col: 'crls',
        ca_list_col: 'cas',
        ca_dir_col: 'cadir',
        cipher_list_col: 'ciphers',
        dh_params_col: 'dh_parms',
        ec_curve_col: 'curve',
      };
      const { db, config } = openTestDb(d, renamed);
      const table = new TlsMgmTable(db, config);
      await table.init();
      await table.insert({
        domain: 'gw',
        type: 1,
        match_ip_address: '10.0.0.1:5061',
        cipher_list: 'HIGH',
        dh_params: Buffer.from('x'),
      });
      const q = (n: string) => db.ident(n);
      const real = await db.query(
        `SELECT ${q('dom')}, ${q('addr')}, ${q('ciphers')}, ${q('dh_parms')} FROM ${q(config.db_table)}`,
      );
      assert.deepEqual(real, [
        { dom: 'gw', addr: '10.0.0.1:5061', ciphers: 'HIGH', dh_parms: Buffer.from('x') },
      ]);
      await assert.rejects(db.query(`SELECT ${q('domain')} FROM ${q(config.db_table)}`), {
        kind: 'no-table',
      });
      const [row] = await table.page(0, 10);
      assert.equal(row!.domain, 'gw');
      assert.equal(row!.match_ip_address, '10.0.0.1:5061');
      assert.equal(row!.cipher_list, 'HIGH');
      const versions = await db.query(`SELECT table_version FROM ${q('version')} WHERE table_name = ?`, [
        config.db_table,
      ]);
      assert.equal(versions.length, 1, 'the version row carries the configured table name, as in OpenSIPS');
    });

    test('a table at another version (OpenSIPS 2.x) is refused with what to do', async () => {
      const { db, config } = openTestDb(d);
      const table = new TlsMgmTable(db, config);
      await table.init();
      await db.exec(`UPDATE ${db.ident('version')} SET table_version = 2 WHERE table_name = ?`, [
        config.db_table,
      ]);
      await assert.rejects(table.init(), (e: unknown) => {
        assert.ok(e instanceof DbError);
        assert.match(
          e.message,
          /version table says version 2; sipsd reads version 3 .*migrate the table first/,
        );
        return true;
      });
    });

    test('init on an existing table lacking a configured column names it', async () => {
      const { db, config } = openTestDb(d);
      await new TlsMgmTable(db, config).init();
      const table = new TlsMgmTable(db, { ...config, ec_curve_col: 'curve_renamed_later' });
      await assert.rejects(table.init(), { kind: 'no-table', message: /curve_renamed_later/ });
    });
  });
}
