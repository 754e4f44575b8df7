// Database URLs as OpenSIPS writes them (`mysql://user:pass@host/opensips`, `postgres://...`,
// `sqlite:///var/lib/sipsd/sipsd.db`), and their one printable form: every message that names a
// database goes through redactUrl, so a password never reaches a log, an answer or an error.
import { isAbsolute, resolve } from 'node:path';

export type Dialect = 'sqlite' | 'postgres' | 'mysql';

export type DbTarget =
  | { dialect: 'sqlite'; file: string }
  | {
      dialect: 'postgres' | 'mysql';
      host: string;
      port: number | undefined;
      user: string | undefined;
      password: string | undefined;
      database: string;
      /** The URL as written, for drivers that read their own options from it. */
      url: string;
    };

/** SQLite file used by `db_url: sqlite`, in the configuration's folder (the data folder). */
export const DEFAULT_SQLITE_FILE = 'sipsd.db';

const SCHEMES: Record<string, Dialect> = {
  sqlite: 'sqlite',
  postgres: 'postgres',
  postgresql: 'postgres',
  mysql: 'mysql',
  mariadb: 'mysql',
};

const EXAMPLES =
  'sqlite (a file in the data folder), sqlite:///path/to/file.db, ' +
  'postgres://user:password@host[:port]/database, mysql://user:password@host[:port]/database';

/**
 * Masks the password of a URL (userinfo and a `password=` query parameter). Works on text rather
 * than a parsed URL so that a malformed URL is masked too; when unsure it masks more.
 */
export function redactUrl(url: string): string {
  let out = url;
  // Greedy up to the last "@": a password may hold an unencoded "@" or "/".
  const m = /^([a-z][a-z0-9+.-]*:\/\/)(.*)@/i.exec(out);
  if (m) {
    const userinfo = m[2]!;
    const colon = userinfo.indexOf(':');
    if (colon >= 0) out = `${m[1]}${userinfo.slice(0, colon)}:***@${out.slice(m[0].length)}`;
  }
  return out.replace(/([?&]password=)[^&#]*/gi, '$1***');
}

/**
 * Parses a db_url. Relative SQLite paths (`sqlite://sipsd.db`, or bare `sqlite` for the default
 * file) resolve against `baseDir`, the folder of the configuration file, like every other path.
 */
export function parseDbUrl(url: string, baseDir: string): DbTarget | { error: string } {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase() ?? url.toLowerCase();
  const dialect = SCHEMES[scheme];
  if (!dialect) {
    return { error: `${redactUrl(url)}: unsupported database; expected ${EXAMPLES}` };
  }
  if (dialect === 'sqlite') {
    const path = url.slice(scheme.length).replace(/^:(\/\/)?/, '') || DEFAULT_SQLITE_FILE;
    return { dialect, file: isAbsolute(path) ? path : resolve(baseDir, path) };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { error: `${redactUrl(url)}: not a valid URL; expected ${EXAMPLES}` };
  }
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (!parsed.hostname) return { error: `${redactUrl(url)}: no host; expected ${EXAMPLES}` };
  if (!database || database.includes('/')) {
    return { error: `${redactUrl(url)}: no database name after the host; expected ${EXAMPLES}` };
  }
  return {
    dialect,
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
    port: parsed.port ? Number(parsed.port) : undefined,
    user: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    database,
    url,
  };
}
