// PostgreSQL through pg (pure JavaScript). sipsd writes `?` placeholders; PostgreSQL wants $1, $2...
import pg from 'pg';
import type { Connection, Driver, DbErrorKind, Row } from '../db.js';
import { errorMessage, explainByCode } from './network.js';

const INT8 = 20;

/** `?` → `$n` outside quoted literals and identifiers. */
export function numberPlaceholders(sql: string): string {
  let n = 0;
  let quote: string | undefined;
  let out = '';
  for (const ch of sql) {
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === '?') {
      out += `$${++n}`;
      continue;
    }
    out += ch;
  }
  return out;
}

/** SQLSTATE classes and codes sipsd tells apart (PostgreSQL appendix A). */
const KINDS: Record<string, DbErrorKind> = {
  '28P01': 'connect', // invalid password
  '28000': 'connect', // invalid authorization
  '3D000': 'connect', // database does not exist
  '57P03': 'connect', // cannot connect now (starting up)
  '53300': 'connect', // too many connections
  '42P01': 'no-table',
  '42703': 'no-table', // undefined column
  '23505': 'duplicate',
  '57014': 'timeout', // statement_timeout
};

export const postgresDriver: Driver = {
  async connect(target, opts, onBroken) {
    if (target.dialect !== 'postgres') throw new Error(`not a PostgreSQL target: ${target.dialect}`);
    const client = new pg.Client({
      connectionString: target.url,
      connectionTimeoutMillis: opts.connectTimeoutMs,
      query_timeout: opts.queryTimeoutMs,
      statement_timeout: opts.queryTimeoutMs,
      application_name: 'sipsd',
      // COUNT(*) and BIGINT arrive as numbers, as with the other drivers.
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === INT8
            ? Number
            : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
      },
    });
    // An idle connection closed by the server emits 'error': not a crash, just a reconnect later.
    client.on('error', onBroken);
    try {
      await client.connect();
    } catch (err) {
      client.removeListener('error', onBroken);
      throw err;
    }
    const connection: Connection = {
      all: async (sql, params) => (await client.query(numberPlaceholders(sql), [...params])).rows as Row[],
      run: async (sql, params) => (await client.query(numberPlaceholders(sql), [...params])).rowCount ?? 0,
      close: () => client.end(),
    };
    return connection;
  },

  explain(err) {
    const known = explainByCode(err, KINDS);
    if (known) return known;
    const message = errorMessage(err);
    // pg's own failures carry no code, only these messages.
    if (/timeout/i.test(message)) return { kind: 'timeout', reason: `no answer in time (${message})` };
    if (/Connection terminated/i.test(message)) return { kind: 'connect', reason: message };
    return { kind: 'query', reason: message };
  },
};
