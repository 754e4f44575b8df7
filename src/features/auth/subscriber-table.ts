// The `subscriber` table, shaped like OpenSIPS 3.x's (username, domain, password, ha1, ha1_sha256,
// ha1_sha512t256, rpid), so an existing OpenSIPS table can be read as it is. Column names come
// from the configuration; `init` creates the table with a version row, `add` writes a user with
// every hash sipsd may need.
import type { Db, SqlValue } from '../../db/db.js';
import type { AuthConfig } from './config.js';
import { CachedCredentialStore, type CredentialStore, type Subscriber } from './credentials.js';
import { computeHa1 } from './digest.js';
import { createVersionedTable, type ColumnSpec } from './sql-schema.js';

/** OpenSIPS 3.x's version of the table (with the SHA-2 hash columns). */
export const SUBSCRIBER_VERSION = 8;

export type SubscriberColumns = Pick<
  AuthConfig,
  | 'subscriber_table'
  | 'user_column'
  | 'domain_column'
  | 'password_column'
  | 'hash_column_sha256'
  | 'calculate_ha1'
>;

export interface NewSubscriber {
  username: string;
  domain: string;
  password: string;
  /** Keep the plain-text password in the `password` column (needed with calculate_ha1); default true. */
  storePlain?: boolean;
}

export class SubscriberTable implements CredentialStore {
  constructor(
    readonly db: Db,
    readonly config: SubscriberColumns,
  ) {}

  get label(): string {
    return `${this.config.subscriber_table} (${this.db.label})`;
  }

  /** Creates the table (and the version row) unless it exists. */
  init(): Promise<{ created: boolean }> {
    const c = this.config;
    const text = (name: string, size = 64): ColumnSpec => ({
      name,
      type: 'string',
      size,
      notNull: true,
      default: '',
    });
    const columns: ColumnSpec[] = [
      { name: 'id', type: 'id' },
      text(c.user_column),
      text(c.domain_column),
      text('password'),
      text('ha1'),
      text(c.hash_column_sha256),
      text('ha1_sha512t256'),
      { name: 'rpid', type: 'string', size: 64, default: null },
    ];
    if (!columns.some((col) => col.name === c.password_column)) columns.push(text(c.password_column));
    return createVersionedTable(this.db, {
      table: c.subscriber_table,
      version: SUBSCRIBER_VERSION,
      describe: "OpenSIPS 3.x's subscriber table",
      columns,
      unique: [[c.user_column, c.domain_column]],
    });
  }

  async find(username: string, domain: string | undefined): Promise<Subscriber | undefined> {
    const c = this.config;
    const q = (n: string) => this.db.ident(n);
    // Only the columns this configuration reads: an older table without ha1_sha256 works for MD5.
    const sha = c.calculate_ha1 ? '' : `, ${q(c.hash_column_sha256)} AS ${q('sha')}`;
    const params: SqlValue[] = [username];
    let where = `${q(c.user_column)} = ?`;
    if (domain !== undefined) {
      where += ` AND ${q(c.domain_column)} = ?`;
      params.push(domain);
    }
    const rows = await this.db.query(
      `SELECT ${q(c.user_column)} AS ${q('u')}, ${q(c.domain_column)} AS ${q('d')}, ` +
        `${q(c.password_column)} AS ${q('p')}${sha} FROM ${q(c.subscriber_table)} WHERE ${where} LIMIT 1`,
      params,
    );
    const row = rows[0];
    if (!row) return undefined;
    const str = (v: SqlValue | undefined) => (v === null || v === undefined ? null : String(v));
    return {
      username: String(row['u']),
      domain: String(row['d'] ?? ''),
      password: str(row['p']),
      ha1Sha256: str(row['sha']),
    };
  }

  /**
   * Inserts a user with its MD5 and SHA-256 HA1 (realm = domain) and, unless `storePlain` is
   * false, its plain-text password; password_column gets what calculate_ha1 says it holds.
   */
  async add(user: NewSubscriber): Promise<void> {
    const c = this.config;
    const plain = user.storePlain ?? true;
    if (!plain && c.calculate_ha1)
      throw new Error('calculate_ha1 reads plain-text passwords: the password must be stored');
    const md5 = computeHa1('MD5', user.username, user.domain, user.password);
    const values = new Map<string, SqlValue>([
      [c.user_column, user.username],
      [c.domain_column, user.domain],
      ['password', plain ? user.password : ''],
      ['ha1', md5],
      [c.hash_column_sha256, computeHa1('SHA-256', user.username, user.domain, user.password)],
    ]);
    values.set(c.password_column, c.calculate_ha1 ? user.password : md5);
    const q = (n: string) => this.db.ident(n);
    const names = [...values.keys()];
    await this.db.exec(
      `INSERT INTO ${q(c.subscriber_table)} (${names.map(q).join(', ')}) VALUES (${names.map(() => '?').join(', ')})`,
      [...values.values()],
    );
  }

  /** Deletes a user; resolves to the number of rows deleted. */
  remove(username: string, domain: string): Promise<number> {
    const c = this.config;
    const q = (n: string) => this.db.ident(n);
    return this.db.exec(
      `DELETE FROM ${q(c.subscriber_table)} WHERE ${q(c.user_column)} = ? AND ${q(c.domain_column)} = ?`,
      [username, domain],
    );
  }
}

/** The subscriber table behind the cache of auth_cache_ttl: what the server gives DigestAuth. */
export function subscriberStore(
  db: Db,
  config: SubscriberColumns & Pick<AuthConfig, 'auth_cache_ttl'>,
  now?: () => number,
): CachedCredentialStore {
  return new CachedCredentialStore(new SubscriberTable(db, config), config.auth_cache_ttl, now);
}
