// `sipsd db ...`: the tls_mgm table without hand-written BLOB inserts. `init` creates the schema,
// `add-domain` stores PEM files as a row (checked first exactly as the server will load it, key
// against certificate included), `list-domains` and `remove-domain` do what they say. The
// database is the configuration's db_url (-c, else the data folder's config) or --db-url.
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { CONFIG_NAME, dataDir } from '../config/first-run.js';
import { formatProblem, loadConfigFile } from '../config/load.js';
import { dbConfigSchema, dbConfigShape, type DbConfig } from '../db/config.js';
import { DbError, openDb } from '../db/db.js';
import {
  DOMAIN_TYPE,
  TLS_MGM_FIELDS,
  TlsMgmTable,
  type NewTlsMgmRow,
  type TlsMgmRow,
} from '../db/tls-mgm.js';
import { buildDomain, TlsDomainError } from '../tls/context.js';
import { CERTIFICATE, PRIVATE_KEY, pemBlocks } from '../tls/pem-files.js';
import { tlsMgmRowToDomain } from '../tls/sources/sql-domains.js';
import type { CliIo } from './io.js';

/** Bad command line: exit code 2. */
class UsageError extends Error {}
/** The command could not do its job for a reason worth a line, not a stack: exit code 1. */
class Failure extends Error {}

type Values = Record<string, string | boolean | string[] | undefined>;

interface Subcommand {
  synopsis: string;
  summary: string;
  options: Record<string, { type: 'string'; multiple?: boolean }>;
  run(table: TlsMgmTable, values: Values, ctx: { baseDir: string; io: CliIo }): Promise<number>;
}

const COMMON = { config: { type: 'string', short: 'c' }, 'db-url': { type: 'string' } } as const;
const NAME_AND_TYPE = { name: { type: 'string' }, type: { type: 'string' } } as const;

/** add-domain flags → tls_mgm columns (by default name), for messages about a column. */
const FLAG_OF: Record<string, string> = {
  domain: 'name',
  type: 'type',
  match_ip_address: 'match-ip',
  match_sip_domain: 'match-domain',
  method: 'method',
  verify_cert: 'verify-cert',
  require_cert: 'require-cert',
  certificate: 'cert',
  private_key: 'key',
  crl_check_all: 'crl-check-all',
  crl_dir: 'crl-dir',
  ca_list: 'ca',
  ca_dir: 'ca-dir',
  cipher_list: 'cipher-list',
  dh_params: 'dh-params',
  ec_curve: 'ec-curve',
  tls_method: 'method',
};

const SUBCOMMANDS: Record<string, Subcommand> = {
  init: {
    synopsis: '',
    summary: "create the tls_mgm table and its row in OpenSIPS's version table (keeps what exists)",
    options: {},
    async run(table, _values, { io }) {
      const { created } = await table.init();
      io.stdout(
        created
          ? `created table ${table.label}, version 3\n`
          : `table ${table.label} is there already, version 3: nothing to do\n`,
      );
      return 0;
    },
  },
  'add-domain': {
    synopsis:
      '--name N --type server|client --cert FILE [--key FILE] [--ca FILE] [--dh-params FILE] ' +
      '[--match-ip IP:PORT,...] [--match-domain NAME,...] [--method M] [--verify-cert 0|1] [--require-cert 0|1] ' +
      '[--crl-check-all 0|1] [--crl-dir DIR] [--ca-dir DIR] [--cipher-list LIST] [--ec-curve NAME]',
    summary: 'store a TLS domain from PEM files (the certificate may hold the key; a client may have none)',
    options: {
      ...NAME_AND_TYPE,
      cert: { type: 'string' },
      key: { type: 'string' },
      ca: { type: 'string' },
      'dh-params': { type: 'string' },
      'match-ip': { type: 'string', multiple: true },
      'match-domain': { type: 'string', multiple: true },
      method: { type: 'string' },
      'verify-cert': { type: 'string' },
      'require-cert': { type: 'string' },
      'crl-check-all': { type: 'string' },
      'crl-dir': { type: 'string' },
      'ca-dir': { type: 'string' },
      'cipher-list': { type: 'string' },
      'ec-curve': { type: 'string' },
    },
    async run(table, values, { baseDir, io }) {
      const row = await newRow(values);
      const typeName = str(values, 'type')!;
      // Check the row exactly as the server will load it, before anything is written.
      const full = { id: 0, type: row.type } as TlsMgmRow;
      for (const f of TLS_MGM_FIELDS) full[f] = row[f] ?? null;
      const domain = tlsMgmRowToDomain(full, table.table, baseDir);
      if ('problems' in domain) {
        throw new Failure(
          domain.problems.map((p) => `--${FLAG_OF[p.field] ?? p.field}: ${p.reason}`).join('; '),
        );
      }
      try {
        await buildDomain(domain);
      } catch (err) {
        if (!(err instanceof TlsDomainError)) throw err;
        const flag = FLAG_OF[err.field];
        const file = flag === undefined ? undefined : str(values, flag);
        throw new Failure(`${flag ? `--${flag}` : err.field}${file ? ` ${file}` : ''}: ${err.reason}`);
      }
      for (const w of domain.warnings) io.stderr(`warning: ${w}\n`);
      let id: number;
      try {
        id = await table.insert(row);
      } catch (err) {
        if (err instanceof DbError && err.kind === 'duplicate') {
          throw new Failure(
            `${typeName} domain "${row.domain}" is in ${table.label} already; ` +
              `remove it first: sipsd db remove-domain --name ${row.domain} --type ${typeName}`,
          );
        }
        throw err;
      }
      io.stdout(
        `added ${typeName} domain "${row.domain}" as row ${id} of ${table.label}; ` +
          '`sipsd mi tls_reload` loads it into a running server\n',
      );
      return 0;
    },
  },
  'list-domains': {
    synopsis: '',
    summary: 'list the domains of the table (certificates summarised, keys never shown)',
    options: {},
    async run(table, _values, { io }) {
      const lines = [
        [
          'id',
          'type',
          'domain',
          'match_ip_address',
          'match_sip_domain',
          'method',
          'verify',
          'require',
          'certificate',
        ],
      ];
      const typeNames: Record<number, string> = {
        [DOMAIN_TYPE.client]: 'client',
        [DOMAIN_TYPE.server]: 'server',
      };
      let after = 0;
      for (;;) {
        const rows = await table.page(after, 500);
        for (const r of rows) {
          const fields = [
            r.domain,
            r.match_ip_address,
            r.match_sip_domain,
            r.method,
            r.verify_cert,
            r.require_cert,
          ];
          lines.push([
            String(r.id),
            typeNames[Number(r.type)] ?? String(r.type),
            ...fields.map(cell),
            certificateSummary(r.certificate),
          ]);
        }
        if (rows.length < 500) break;
        after = Number(rows.at(-1)!.id);
      }
      if (lines.length === 1) {
        io.stdout(`no domains in ${table.label}\n`);
        return 0;
      }
      const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
      for (const l of lines)
        io.stdout(
          `${l
            .map((c, i) => c.padEnd(widths[i]!))
            .join('  ')
            .trimEnd()}\n`,
        );
      return 0;
    },
  },
  'remove-domain': {
    synopsis: '--name N --type server|client',
    summary: 'delete a domain; a removed `default` gives way to the built-in default again',
    options: NAME_AND_TYPE,
    async run(table, values, { io }) {
      const name = required(values, 'name');
      const typeName = str(values, 'type');
      const removed = await table.remove(name, domainType(typeName));
      if (removed === 0) {
        io.stderr(`sipsd db remove-domain: no ${typeName} domain "${name}" in ${table.label}\n`);
        return 1;
      }
      io.stdout(
        `removed ${typeName} domain "${name}" from ${table.label}; \`sipsd mi tls_reload\` applies it\n`,
      );
      return 0;
    },
  },
};

function overview(): string {
  const subs = Object.entries(SUBCOMMANDS).map(([n, s]) => `  ${n.padEnd(14)} ${s.summary}`);
  return [
    'usage: sipsd db <command> [-c config.yaml] [--db-url URL] [options]',
    '',
    ...subs,
    '',
    'The database is db_url of the configuration (-c, else the one in the data folder) unless --db-url',
    'is given: sqlite (sipsd.db beside the config), sqlite:///path, postgres://..., mysql://...',
    `add-domain options: ${SUBCOMMANDS['add-domain']!.synopsis}`,
    'See docs/database.md.',
    '',
  ].join('\n');
}

export async function dbCommand(
  argv: string[],
  io: CliIo,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    (name === undefined ? io.stderr : io.stdout)(overview());
    return name === undefined ? 2 : 0;
  }
  const sub = SUBCOMMANDS[name];
  if (!sub) {
    io.stderr(`sipsd db: unknown command "${name}"\n\n${overview()}`);
    return 2;
  }
  let table: TlsMgmTable | undefined;
  try {
    let values: Values;
    try {
      ({ values } = parseArgs({ args: rest, options: { ...COMMON, ...sub.options }, strict: true }));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const target = await resolveDatabase(values, env);
    if (typeof target === 'string') {
      io.stderr(target);
      return 2;
    }
    table = new TlsMgmTable(
      openDb(target.config.db_url!, { baseDir: target.baseDir, create: name === 'init' }),
      target.config,
    );
    return await sub.run(table, values, { baseDir: target.configDir, io });
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`sipsd db ${name}: ${err.message}\nusage: sipsd db ${name} ${sub.synopsis}\n`);
      return 2;
    }
    if (!(err instanceof DbError || err instanceof Failure)) throw err;
    const hint = err instanceof DbError && err.kind === 'no-table' ? ' (run `sipsd db init` first)' : '';
    io.stderr(`sipsd db ${name}: ${err.message}${hint}\n`);
    return 1;
  } finally {
    await table?.db.close();
  }
}

/**
 * The database settings: the config's (from -c, else the data folder's sipsd.yaml if there is one),
 * with --db-url winning. A message (exit 2) when there is no database to use.
 */
async function resolveDatabase(
  values: Values,
  env: NodeJS.ProcessEnv,
): Promise<{ config: DbConfig; baseDir: string; configDir: string } | string> {
  const explicit = str(values, 'config');
  const file = explicit ?? join(dataDir(env), CONFIG_NAME);
  let settings: Record<string, unknown> = {};
  let configDir = process.cwd();
  if (explicit !== undefined || existsSync(file)) {
    const loaded = await loadConfigFile(file);
    if (!loaded.ok) return loaded.problems.map((p) => `${formatProblem(p)}\n`).join('');
    const config = loaded.config as unknown as Record<string, unknown>;
    settings = Object.fromEntries(Object.keys(dbConfigShape).map((k) => [k, config[k]]));
    configDir = dirname(loaded.file);
  }
  const config = dbConfigSchema.parse(settings);
  const url = str(values, 'db-url');
  if (url !== undefined) {
    // A URL typed on the command line is relative to where it was typed.
    return { config: { ...config, db_url: url }, baseDir: process.cwd(), configDir };
  }
  if (config.db_url === undefined) {
    return (
      `sipsd db: no database: ${existsSync(file) ? `${file} has no db_url` : `no configuration at ${file}`}; ` +
      'set db_url (e.g. `db_url: sqlite` for sipsd.db beside the config) or pass --db-url URL\n'
    );
  }
  return { config, baseDir: configDir, configDir };
}

function str(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

function required(values: Values, name: string): string {
  const v = str(values, name);
  if (v === undefined || v.trim() === '') throw new UsageError(`--${name} is required`);
  return v.trim();
}

function domainType(text: string | undefined): 1 | 2 {
  if (text === 'server' || text === 'client') return DOMAIN_TYPE[text];
  throw new UsageError(
    text === undefined
      ? '--type is required (server or client)'
      : `--type: "${text}" is not server or client`,
  );
}

function zeroOne(values: Values, name: string): number | undefined {
  const v = str(values, name);
  if (v === undefined) return undefined;
  if (v !== '0' && v !== '1') throw new UsageError(`--${name}: "${v}" is not 0 or 1`);
  return Number(v);
}

async function readPem(values: Values, name: string): Promise<{ file: string; text: string } | undefined> {
  const file = str(values, name);
  if (file === undefined) return undefined;
  try {
    return { file, text: await readFile(file, 'latin1') };
  } catch (err) {
    throw new Failure(
      `--${name} ${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
    );
  }
}

const joined = (blocks: Array<{ pem: string }>) => Buffer.from(blocks.map((b) => b.pem).join(''), 'latin1');

/** The row to insert: certificates and key kept in their own columns, lists comma-separated. */
async function newRow(values: Values): Promise<NewTlsMgmRow> {
  const type = domainType(str(values, 'type'));
  const domain = required(values, 'name');
  const cert = await readPem(values, 'cert');
  const key = await readPem(values, 'key');
  if (!cert && type === DOMAIN_TYPE.server) throw new UsageError('--cert is required for a server domain');
  if (!cert && key) throw new UsageError('--key needs --cert: a key without its certificate is of no use');
  const certBlocks = cert ? pemBlocks(cert.text, CERTIFICATE) : [];
  if (cert && certBlocks.length === 0)
    throw new Failure(`--cert ${cert.file}: no PEM certificate (BEGIN CERTIFICATE) in the file`);
  // The key may sit in the certificate file; it is stored in private_key, never with the chain.
  const keySource = key ?? cert;
  const keyBlocks = keySource ? pemBlocks(keySource.text, PRIVATE_KEY) : [];
  if (cert && keyBlocks.length === 0) {
    throw new Failure(
      key
        ? `--key ${key.file}: no PEM private key in the file`
        : '--key FILE is required: the certificate file holds no private key',
    );
  }
  const keyBlock = keyBlocks[0];
  if (keyBlock && (keyBlock.label === 'ENCRYPTED PRIVATE KEY' || keyBlock.pem.includes('ENCRYPTED'))) {
    throw new Failure(
      `--${key ? 'key' : 'cert'} ${keySource!.file}: the key is encrypted and tls_mgm has no passphrase column; ` +
        'store it decrypted (openssl pkey -in FILE -out plain.pem) in a database only sipsd can read',
    );
  }
  const ca = await readPem(values, 'ca');
  const dh = await readPem(values, 'dh-params');
  const list = (name: string) => {
    const items = ((values[name] as string[] | undefined) ?? [])
      .flatMap((v) => v.split(','))
      .map((s) => s.trim());
    return items.some((s) => s !== '') ? items.filter((s) => s !== '').join(',') : undefined;
  };
  return {
    domain,
    type,
    match_ip_address: list('match-ip'),
    match_sip_domain: list('match-domain'),
    method: str(values, 'method'),
    verify_cert: zeroOne(values, 'verify-cert'),
    require_cert: zeroOne(values, 'require-cert'),
    certificate: cert && joined(certBlocks),
    private_key: keyBlock && Buffer.from(keyBlock.pem, 'latin1'),
    crl_check_all: zeroOne(values, 'crl-check-all'),
    crl_dir: str(values, 'crl-dir'),
    ca_list: ca && Buffer.from(ca.text, 'latin1'),
    ca_dir: str(values, 'ca-dir'),
    cipher_list: str(values, 'cipher-list'),
    dh_params: dh && Buffer.from(dh.text, 'latin1'),
    ec_curve: str(values, 'ec-curve'),
  };
}

function cell(v: unknown): string {
  return v === null || v === undefined ? '-' : Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

/** Subject CN and expiry of the leaf; never anything of a key. */
function certificateSummary(v: unknown): string {
  if (v === null || v === undefined) return '- (default file)';
  const block = pemBlocks(Buffer.isBuffer(v) ? v.toString('latin1') : String(v), CERTIFICATE)[0];
  if (!block) return 'no PEM certificate';
  try {
    const c = new X509Certificate(block.der);
    const cn = /(?:^|\n)CN=([^\n]*)/.exec(c.subject)?.[1] ?? c.subject.replaceAll('\n', ', ');
    return `CN=${cn}, until ${new Date(c.validTo).toISOString().slice(0, 10)}`;
  } catch {
    return 'unreadable certificate';
  }
}
