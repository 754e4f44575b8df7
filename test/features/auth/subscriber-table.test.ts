// The subscriber table on SQLite, PostgreSQL and MariaDB: created with its version row, read with
// plain passwords (calculate_ha1, the seeds' password_column "password") and with HA1 hashes, with
// renamed columns and with use_domain; digest authentication end to end against it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DigestAuth } from '../../../src/features/auth/authenticator.js';
import { defaultAuthConfig, type AuthConfig } from '../../../src/features/auth/config.js';
import { computeHa1 } from '../../../src/features/auth/digest.js';
import { tableVersion } from '../../../src/features/auth/sql-schema.js';
import {
  SUBSCRIBER_VERSION,
  SubscriberTable,
  subscriberStore,
} from '../../../src/features/auth/subscriber-table.js';
import { openTestDb, testDatabases, uniqueTable } from '../../db/helpers.js';
import { answerChallenge, register, withHeader } from '../helpers.js';

const REALM = 'atlanta.example.com';

for (const d of testDatabases()) {
  describe(`subscriber table on ${d.dialect}`, { skip: d.skip }, () => {
    /** A fresh table of its own name (dropped when the file ends) and the settings to read it. */
    async function table(overrides: Partial<AuthConfig> = {}) {
      const name = uniqueTable('subscriber_t');
      const { db } = openTestDb(d, { db_table: name });
      const config = { ...defaultAuthConfig(), subscriber_table: name, ...overrides };
      const t = new SubscriberTable(db, config);
      assert.deepEqual(await t.init(), { created: true });
      return { t, db, config };
    }

    async function authenticate(config: AuthConfig, t: SubscriberTable, password: string, algorithm: string) {
      const auth = new DigestAuth(subscriberStore(t.db, config), config);
      const req = register();
      const challenge = auth.challenge('www', REALM).headers.find(([, v]) => v.includes(algorithm))![1];
      const answer = answerChallenge(challenge, {
        username: 'alice',
        password,
        method: 'REGISTER',
        uri: req.uri,
      });
      return auth.wwwAuthorize(withHeader(req, 'Authorization', answer), REALM);
    }

    test('init creates the table and its version row once', async () => {
      const { t, db, config } = await table();
      assert.deepEqual(await t.init(), { created: false });
      assert.equal(await tableVersion(db, config.subscriber_table), SUBSCRIBER_VERSION);
      await t.add({ username: 'alice', domain: REALM, password: 'wonderland' });
      await assert.rejects(t.add({ username: 'alice', domain: REALM, password: 'again' }), {
        kind: 'duplicate',
      });
      const rows = await db.query(
        `SELECT username, domain, password, ha1, ha1_sha256, ha1_sha512t256, rpid FROM ${db.ident(config.subscriber_table)}`,
      );
      assert.deepEqual(rows, [
        {
          username: 'alice',
          domain: REALM,
          password: 'wonderland',
          ha1: computeHa1('MD5', 'alice', REALM, 'wonderland'),
          ha1_sha256: computeHa1('SHA-256', 'alice', REALM, 'wonderland'),
          ha1_sha512t256: '',
          rpid: null,
        },
      ]);
      assert.equal(await t.remove('alice', REALM), 1);
      assert.equal(await t.find('alice', undefined), undefined);
    });

    test('a version row of another number is refused', async () => {
      const { db, config } = await table();
      await db.exec(`UPDATE ${db.ident('version')} SET table_version = 7 WHERE table_name = ?`, [
        config.subscriber_table,
      ]);
      await assert.rejects(new SubscriberTable(db, config).init(), /version 7; sipsd uses version 8/);
    });

    test('HA1 hashes (calculate_ha1 off, password_column ha1): MD5 and SHA-256 authenticate', async () => {
      const { t, config } = await table();
      await t.add({ username: 'alice', domain: REALM, password: 'wonderland', storePlain: false });
      const row = await t.find('alice', undefined);
      assert.deepEqual(row, {
        username: 'alice',
        domain: REALM,
        password: computeHa1('MD5', 'alice', REALM, 'wonderland'),
        ha1Sha256: computeHa1('SHA-256', 'alice', REALM, 'wonderland'),
      });
      for (const algorithm of ['MD5', 'SHA-256']) {
        const ok = await authenticate(config, t, 'wonderland', algorithm);
        assert.ok(ok.ok, algorithm);
        const wrong = await authenticate(config, t, 'wonder', algorithm);
        assert.equal(wrong.ok ? 'ok' : wrong.reason, 'wrong-password', algorithm);
      }
    });

    test("plain passwords: the seeds' calculate_ha1 1 with password_column password", async () => {
      const { t, config } = await table({ calculate_ha1: true, password_column: 'password' });
      await t.add({ username: 'alice', domain: REALM, password: 'wonderland' });
      assert.equal((await t.find('alice', REALM))?.password, 'wonderland');
      for (const algorithm of ['MD5', 'SHA-256']) {
        assert.ok((await authenticate(config, t, 'wonderland', algorithm)).ok, algorithm);
      }
      await assert.rejects(
        t.add({ username: 'bob', domain: REALM, password: 'x', storePlain: false }),
        /plain-text/,
      );
    });

    test('renamed user, domain and hash columns; use_domain tells users of two domains apart', async () => {
      const { t, config } = await table({
        user_column: 'login',
        domain_column: 'realm',
        password_column: 'secret_ha1',
        hash_column_sha256: 'secret_sha',
        use_domain: true,
      });
      await t.add({ username: 'alice', domain: REALM, password: 'wonderland' });
      await t.add({ username: 'alice', domain: 'biloxi.example.com', password: 'other' });
      assert.equal((await t.find('alice', 'biloxi.example.com'))?.domain, 'biloxi.example.com');
      assert.equal(await t.find('alice', 'chicago.example.com'), undefined);
      assert.ok((await authenticate(config, t, 'wonderland', 'SHA-256')).ok);
      assert.ok((await authenticate(config, t, 'wonderland', 'MD5')).ok);
      const other = await authenticate(config, t, 'other', 'MD5');
      assert.equal(other.ok ? 'ok' : other.reason, 'wrong-password');
    });

    test('a missing table is an error the script sees', async () => {
      const { db } = openTestDb(d, { db_table: uniqueTable('subscriber_none') });
      const config = { ...defaultAuthConfig(), subscriber_table: uniqueTable('subscriber_none') };
      const result = await authenticate(config, new SubscriberTable(db, config), 'wonderland', 'MD5');
      assert.equal(result.ok ? 'ok' : result.reason, 'error');
    });
  });
}
