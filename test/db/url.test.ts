// db_url parsing as OpenSIPS writes it, the one redacted form used in every message, the
// configuration keys, and PostgreSQL's placeholder numbering.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dbConfigSchema } from '../../src/db/config.js';
import { numberPlaceholders } from '../../src/db/drivers/postgres.js';
import { parseDbUrl, redactUrl } from '../../src/db/url.js';

test('redactUrl masks the password, also in odd or broken URLs, and keeps the rest', () => {
  assert.equal(redactUrl('mysql://root:admin@localhost/opensips'), 'mysql://root:***@localhost/opensips');
  assert.equal(redactUrl('postgres://u:p@ss/w@db.example:5433/x'), 'postgres://u:***@db.example:5433/x');
  assert.equal(
    redactUrl('postgres://u@db/x?password=hunter2&sslmode=require'),
    'postgres://u@db/x?password=***&sslmode=require',
  );
  assert.equal(redactUrl('mysql://root:admin@'), 'mysql://root:***@');
  assert.equal(redactUrl('sqlite:///var/lib/sipsd/sipsd.db'), 'sqlite:///var/lib/sipsd/sipsd.db');
  assert.equal(redactUrl('postgres://db.example/x'), 'postgres://db.example/x');
});

test('parseDbUrl: the three dialects, credentials decoded, SQLite paths against the config folder', () => {
  assert.deepEqual(parseDbUrl('mysql://root:p%40ss@localhost/opensips', '/etc/sipsd'), {
    dialect: 'mysql',
    host: 'localhost',
    port: undefined,
    user: 'root',
    password: 'p@ss',
    database: 'opensips',
    url: 'mysql://root:p%40ss@localhost/opensips',
  });
  assert.equal((parseDbUrl('mariadb://u@[::1]:3307/db', '/') as { host: string }).host, '::1');
  assert.equal((parseDbUrl('postgresql://u@h:5433/db', '/') as { dialect: string }).dialect, 'postgres');
  assert.deepEqual(parseDbUrl('sqlite', '/etc/sipsd'), { dialect: 'sqlite', file: '/etc/sipsd/sipsd.db' });
  assert.deepEqual(parseDbUrl('sqlite://data/tls.db', '/etc/sipsd'), {
    dialect: 'sqlite',
    file: '/etc/sipsd/data/tls.db',
  });
  assert.deepEqual(parseDbUrl('sqlite:///var/lib/tls.db', '/etc/sipsd'), {
    dialect: 'sqlite',
    file: '/var/lib/tls.db',
  });
});

test('parseDbUrl refuses what cannot be used, with an example and without the password', () => {
  const error = (url: string) => (parseDbUrl(url, '/') as { error: string }).error;
  assert.match(
    error('oracle://u:s3cret@h/db'),
    /^oracle:\/\/u:\*\*\*@h\/db: unsupported database; expected sqlite/,
  );
  assert.match(error('mysql://u:s3cret@localhost'), /no database name/);
  assert.match(error('postgres://u:s3cret@:5432/db'), /not a valid URL|no host/);
  for (const url of ['oracle://u:s3cret@h/db', 'mysql://u:s3cret@localhost'])
    assert.doesNotMatch(error(url), /s3cret/);
});

test('config keys: OpenSIPS names and defaults; names must be plain identifiers; a bad db_url is a config error', () => {
  const config = dbConfigSchema.parse({ db_url: 'sqlite', tls_method_col: 'meth' });
  assert.equal(config.db_table, 'tls_mgm');
  assert.equal(config.domain_col, 'domain');
  assert.equal(config.tls_method_col, 'meth');
  assert.equal(config.ec_curve_col, 'ec_curve');
  const bad = dbConfigSchema.safeParse({ db_table: 'tls; DROP TABLE x', db_url: 'mysql://u:s3cret@h' });
  assert.equal(bad.success, false);
  const messages = bad.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  assert.ok(
    messages.some((m) => m.startsWith('db_table: expected a table or column name')),
    messages.join('\n'),
  );
  assert.ok(
    messages.some((m) => /^db_url: mysql:\/\/u:\*\*\*@h: no database name/.test(m)),
    messages.join('\n'),
  );
});

test('numberPlaceholders numbers ? outside quotes only', () => {
  assert.equal(
    numberPlaceholders(`SELECT '?', "a?" FROM t WHERE a = ? AND b = ?`),
    `SELECT '?', "a?" FROM t WHERE a = $1 AND b = $2`,
  );
  assert.equal(numberPlaceholders(`SELECT 'it''s ?' WHERE x = ?`), `SELECT 'it''s ?' WHERE x = $1`);
});
