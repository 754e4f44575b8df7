// MySQL and MariaDB through mysql2 (pure JavaScript), with its text protocol: `?` values are
// escaped by the driver, BLOB columns come back as Buffers.
import mysql from 'mysql2/promise';
import type { Connection, Driver, DbErrorKind, Row } from '../db.js';
import { errorMessage, explainByCode } from './network.js';

const KINDS: Record<string, DbErrorKind> = {
  ER_ACCESS_DENIED_ERROR: 'connect',
  ER_DBACCESS_DENIED_ERROR: 'connect',
  ER_BAD_DB_ERROR: 'connect',
  ER_HOST_NOT_PRIVILEGED: 'connect',
  ER_CON_COUNT_ERROR: 'connect',
  PROTOCOL_CONNECTION_LOST: 'connect',
  ER_NO_SUCH_TABLE: 'no-table',
  ER_BAD_FIELD_ERROR: 'no-table',
  ER_DUP_ENTRY: 'duplicate',
  PROTOCOL_SEQUENCE_TIMEOUT: 'timeout',
};

export const mysqlDriver: Driver = {
  async connect(target, opts, onBroken) {
    if (target.dialect !== 'mysql') throw new Error(`not a MySQL target: ${target.dialect}`);
    const conn = await mysql.createConnection({
      host: target.host,
      port: target.port ?? 3306,
      user: target.user,
      password: target.password,
      database: target.database,
      connectTimeout: opts.connectTimeoutMs,
      charset: 'utf8mb4',
    });
    // An idle connection closed by the server emits 'error': not a crash, just a reconnect later.
    conn.on('error', onBroken);
    // mysql2's own per-query timeout leaves its timer running when the connection dies (keeping the
    // process alive for that long): this one is always cleared, and drops the connection on expiry.
    const query = async (sql: string, params: readonly unknown[]) => {
      let timer: NodeJS.Timeout | undefined;
      const expiry = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          // mysql2's destroy() only half-closes, leaving the socket open until the server finishes
          // the statement: cut the socket itself.
          (
            conn as unknown as { connection?: { stream?: { destroy(): void } } }
          ).connection?.stream?.destroy();
          conn.destroy();
          reject(
            Object.assign(new Error(`no answer within ${opts.queryTimeoutMs} ms`), {
              code: 'PROTOCOL_SEQUENCE_TIMEOUT',
            }),
          );
        }, opts.queryTimeoutMs);
      });
      try {
        return await Promise.race([conn.query({ sql, values: [...params] }), expiry]);
      } finally {
        clearTimeout(timer);
      }
    };
    const connection: Connection = {
      all: async (sql, params) => (await query(sql, params))[0] as Row[],
      run: async (sql, params) => ((await query(sql, params))[0] as mysql.ResultSetHeader).affectedRows,
      close: () => conn.end(),
    };
    return connection;
  },

  explain(err) {
    return explainByCode(err, KINDS) ?? { kind: 'query', reason: errorMessage(err) };
  },
};
