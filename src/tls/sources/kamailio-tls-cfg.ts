// Kamailio's tls.cfg (seeds 002 §10.31): `[server:…]` / `[client:…]` profiles of `key = value`
// lines, read again on every reload. Each profile becomes one native `TlsDomainInput`, so the
// domain model applies its rules and defaults to it like to any other source.
import { readdir, readFile, stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { normalizeDomain, VERIFY_CLIENT, type TlsDomain, type TlsDomainInput } from '../domain.js';
import type { DomainSourceReader } from '../manager.js';
import { parseTlsMethod } from '../method.js';

export interface TlsCfgOptions {
  /** Folder of the main configuration file: where relative paths (not starting with `.`) point. */
  mainConfigDir: string;
  /** Working directory: where paths starting with `.` point. */
  cwd: string;
}

/** A problem or notice at a line of a tls.cfg file. */
export interface TlsCfgMessage {
  file: string;
  line: number;
  message: string;
}

export interface TlsCfgDomain {
  input: TlsDomainInput;
  file: string;
  /** Line of the profile's `[...]` header. */
  line: number;
}

export interface TlsCfgResult {
  domains: TlsCfgDomain[];
  /** Errors: the file must not be used while there are any. */
  problems: TlsCfgMessage[];
  notices: TlsCfgMessage[];
}

export function formatTlsCfgMessage(m: TlsCfgMessage): string {
  return `${m.file}:${m.line}: ${m.message}`;
}

/**
 * Kamailio's path rule for tls.cfg and its `tls` modparams: `/` is absolute, a leading `.` is
 * relative to the working directory, anything else to the main config file's folder.
 */
export function resolveKamailioPath(path: string, opts: TlsCfgOptions): string {
  if (path.startsWith('/')) return path;
  return resolve(path.startsWith('.') ? opts.cwd : opts.mainConfigDir, path);
}

type ValueKind = 'method' | 'flag' | 'int' | 'path' | 'text' | 'verify_client';
/** Canonical keys: the native field names, plus Kamailio's two SNI keys mapped at the end. */
type Key = keyof TlsDomainInput | 'server_name_mode';

/** Every key Kamailio's tls.cfg parser accepts (tls_config.c), aliases included. */
const KEYS: Record<string, { key: Key; kind: ValueKind }> = {
  method: { key: 'tls_method', kind: 'method' },
  tls_method: { key: 'tls_method', kind: 'method' },
  verify_certificate: { key: 'verify_cert', kind: 'flag' },
  verify_cert: { key: 'verify_cert', kind: 'flag' },
  require_certificate: { key: 'require_cert', kind: 'flag' },
  require_cert: { key: 'require_cert', kind: 'flag' },
  verify_client: { key: 'verify_client', kind: 'verify_client' },
  verify_depth: { key: 'verify_depth', kind: 'int' },
  private_key: { key: 'private_key', kind: 'path' },
  pkey_file: { key: 'private_key', kind: 'path' },
  certificate: { key: 'certificate', kind: 'path' },
  cert_file: { key: 'certificate', kind: 'path' },
  ca_list: { key: 'ca_list', kind: 'path' },
  calist_file: { key: 'ca_list', kind: 'path' },
  crl: { key: 'crl', kind: 'path' },
  cipher_list: { key: 'cipher_list', kind: 'text' },
  server_name: { key: 'server_name', kind: 'text' },
  server_name_mode: { key: 'server_name_mode', kind: 'int' },
  server_id: { key: 'server_id', kind: 'text' },
};
const VALID_KEYS = Object.keys(KEYS).join(', ');

const ROLES: Record<string, 'server' | 'client'> = {
  server: 'server',
  srv: 'server',
  s: 'server',
  client: 'client',
  cli: 'client',
  c: 'client',
};
const DEFAULT_TOKENS = new Set(['default', 'def', '*']);
const ANY_TOKENS = new Set(['any', 'all']);
const TRUE = new Set(['yes', 'true', 'on', '1', 'enable', 'enabled']);
const FALSE = new Set(['no', 'false', 'off', '0', 'disable', 'disabled']);

const HEADER_HELP =
  'expected [server:default], [client:default], [server:IP:port], [client:[IPv6]:port] or [server:any]';

interface Profile {
  role: 'server' | 'client';
  /** `default`, `any`, or the `ip:port` filter (`[v6]:port`, port `*` for Kamailio's port 0). */
  address: string;
  file: string;
  line: number;
  values: Map<Key, { value: string | number | boolean; line: number }>;
}

function parseHeader(inner: string): Omit<Profile, 'file' | 'line' | 'values'> | string {
  const colon = inner.indexOf(':');
  if (colon < 0) return `"[${inner}]" has no role; ${HEADER_HELP}`;
  const role = ROLES[inner.slice(0, colon).trim().toLowerCase()];
  if (!role) return `"${inner.slice(0, colon).trim()}" is not a role (server or client); ${HEADER_HELP}`;
  const rest = inner.slice(colon + 1).trim();
  const lower = rest.toLowerCase();
  if (DEFAULT_TOKENS.has(lower)) return { role, address: 'default' };
  if (ANY_TOKENS.has(lower)) return { role, address: 'any' };
  const m = /^(\[[^\]]*\]|[^:[\]]+)\s*:\s*(\S+)$/.exec(rest);
  if (!m) return `"${rest}" is not default, any or IP:port (the port is required); ${HEADER_HELP}`;
  const rawHost = m[1]!;
  const bracketed = rawHost.startsWith('[');
  const host = bracketed ? rawHost.slice(1, -1) : rawHost;
  if (isIP(host) !== (bracketed ? 6 : 4)) {
    return bracketed
      ? `"${host}" is not an IPv6 address`
      : `"${host}" is not an IPv4 address (write IPv6 addresses in brackets: [server:[::1]:5061])`;
  }
  if (!/^\d{1,5}$/.test(m[2]!) || Number(m[2]) > 65535) return `"${m[2]}" is not a port number`;
  // Kamailio's port 0 matches any port.
  const port = Number(m[2]) === 0 ? '*' : String(Number(m[2]));
  return { role, address: `${bracketed ? `[${host.toLowerCase()}]` : host}:${port}` };
}

/** Cuts a `#` comment that is not inside double quotes. */
function stripComment(line: string): string {
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '"') quoted = !quoted;
    else if (line[i] === '#' && !quoted) return line.slice(0, i);
  }
  return line;
}

function parseValue(
  kind: ValueKind,
  raw: string,
  opts: TlsCfgOptions,
): string | number | boolean | { error: string } {
  switch (kind) {
    case 'flag': {
      const v = raw.toLowerCase();
      if (TRUE.has(v)) return true;
      if (FALSE.has(v)) return false;
      return { error: `"${raw}" is not a boolean; use yes/no, on/off, true/false or 1/0` };
    }
    case 'int':
      return /^-?\d+$/.test(raw) ? Number(raw) : { error: `"${raw}" is not a whole number` };
    case 'method': {
      const m = parseTlsMethod(raw);
      return m.ok ? raw : { error: m.reason };
    }
    case 'verify_client': {
      const v = raw.toLowerCase();
      return (VERIFY_CLIENT as readonly string[]).includes(v)
        ? v
        : { error: `"${raw}" is not one of ${VERIFY_CLIENT.join(', ')}` };
    }
    case 'path':
      return resolveKamailioPath(raw, opts);
    case 'text':
      return raw;
  }
}

/**
 * Kamailio's defaults where the native ones (OpenSIPS's) differ: no certificate verification
 * unless asked for, and cert.pem beside the main config as the certificate (and key: a key left
 * unset is read from the certificate file). Imported client domains do not check server names.
 */
export function applyKamailioDefaults(input: TlsDomainInput, mainConfigDir: string): void {
  if (input.verify_client === undefined) {
    input.verify_cert ??= false;
    input.require_cert ??= false;
  }
  input.certificate ??= join(mainConfigDir, 'cert.pem');
  if (input.type === 'client') input.verify_server_name ??= false;
}

/** One native domain from a profile; see docs/import.md for the mapping. */
function toInput(p: Profile, name: string, opts: TlsCfgOptions): TlsDomainInput {
  const input: TlsDomainInput = { name, type: p.role };
  // For client profiles this is the destination. Kamailio compares a client profile's address with
  // the connection's local one (a known defect); the destination is what operators mean by it.
  if (p.address !== 'default') input.match_ip_address = [p.address === 'any' ? '*' : p.address];
  const serverName = p.values.get('server_name')?.value as string | undefined;
  if (serverName !== undefined) {
    if (p.role === 'server') {
      // Kamailio's server_name_mode: 1 = the name and its subdomains, 2 = subdomains only, else exact.
      const mode = p.values.get('server_name_mode')?.value;
      input.match_sip_domain =
        mode === 1 ? [serverName, `*.${serverName}`] : mode === 2 ? [`*.${serverName}`] : [serverName];
    } else {
      // Kamailio compares a client profile's server_name with the server_name the script sets for
      // the connection; sipsd's equivalent is the client_sip_domain_avp match. It is also the SNI.
      input.match_sip_domain = [serverName];
      input.server_name = serverName;
    }
  }
  // Keys with the same meaning in both models, already typed by parseValue.
  const same = [
    'tls_method',
    'cipher_list',
    'ca_list',
    'crl',
    'server_id',
    'verify_depth',
    'verify_client',
  ] as const;
  for (const k of [...same, 'verify_cert', 'require_cert', 'certificate', 'private_key'] as const) {
    const v = p.values.get(k)?.value;
    if (v !== undefined) (input as Record<string, unknown>)[k] = v;
  }
  applyKamailioDefaults(input, opts.mainConfigDir);
  return input;
}

/**
 * Parses tls.cfg files (several when `config` names a folder: Kamailio reads them all as one).
 * Profiles are checked together, so duplicates across files are found too.
 */
export function parseKamailioTlsCfgFiles(
  files: ReadonlyArray<{ file: string; text: string }>,
  opts: TlsCfgOptions,
): TlsCfgResult {
  const problems: TlsCfgMessage[] = [];
  const notices: TlsCfgMessage[] = [];
  const profiles: Profile[] = [];
  for (const { file, text } of files) {
    let current: Profile | undefined;
    text.split(/\r?\n/).forEach((rawLine, i) => {
      const line = i + 1;
      const problem = (message: string) => problems.push({ file, line, message });
      const content = stripComment(rawLine).trim();
      if (content === '') return;
      if (content.startsWith('[')) {
        current = undefined;
        if (!content.endsWith(']')) return problem(`section header without a closing "]"; ${HEADER_HELP}`);
        const header = parseHeader(content.slice(1, -1).trim());
        if (typeof header === 'string') return problem(header);
        current = { ...header, file, line, values: new Map() };
        profiles.push(current);
        return;
      }
      const eq = content.indexOf('=');
      if (eq < 0) return problem(`missing "=": expected key = value, e.g. certificate = /etc/tls/cert.pem`);
      const name = content.slice(0, eq).trim();
      const raw = content
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1');
      const entry = KEYS[name.toLowerCase()];
      if (!entry) return problem(`unknown key "${name}"; valid keys: ${VALID_KEYS}`);
      if (!current)
        return problem(`"${name}" is outside a profile; start one with a header such as [server:default]`);
      if (raw === '') return problem(`${name}: missing value`);
      const value = parseValue(entry.kind, raw, opts);
      if (typeof value === 'object') return problem(`${name}: ${value.error}`);
      const earlier = current.values.get(entry.key);
      if (earlier) {
        notices.push({ file, line, message: `${name} repeats line ${earlier.line}; the last value wins` });
      }
      current.values.set(entry.key, { value, line });
    });
  }

  const domains: TlsCfgDomain[] = [];
  const seen = new Map<string, Profile[]>();
  for (const p of profiles) {
    const label = `[${p.role}:${p.address}]`;
    const group = `${p.role}|${p.address}`;
    const earlier = seen.get(group) ?? [];
    const serverName = p.values.get('server_name')?.value as string | undefined;
    const where = (q: Profile) => (q.file === p.file ? `line ${q.line}` : `${q.file}:${q.line}`);
    if (p.address === 'default' && earlier[0]) {
      problems.push({
        file: p.file,
        line: p.line,
        message: `duplicate [${p.role}:default] (first at ${where(earlier[0])}); there can be only one`,
      });
      continue;
    }
    // Kamailio's rule: profiles may share an address only when each has its own server_name.
    const clash = earlier.find((q) => {
      const other = q.values.get('server_name')?.value as string | undefined;
      return (
        serverName === undefined || other === undefined || other.toLowerCase() === serverName.toLowerCase()
      );
    });
    if (clash) {
      problems.push({
        file: p.file,
        line: p.line,
        message: `duplicate ${label} (first at ${where(clash)}); profiles for the same address need different server_name values`,
      });
      continue;
    }
    seen.set(group, [...earlier, p]);
    const name =
      p.address === 'default'
        ? 'default'
        : `${p.role}:${p.address}${serverName === undefined ? '' : `/${serverName}`}`;
    domains.push({ input: toInput(p, name, opts), file: p.file, line: p.line });
  }
  return { domains, problems, notices };
}

export function parseKamailioTlsCfg(text: string, file: string, opts: TlsCfgOptions): TlsCfgResult {
  return parseKamailioTlsCfgFiles([{ file, text }], opts);
}

/** The file, or every regular file of the folder in name order (Kamailio's `config` may be either). */
async function readTlsCfg(path: string): Promise<Array<{ file: string; text: string }>> {
  if (!(await stat(path)).isDirectory()) return [{ file: path, text: await readFile(path, 'utf8') }];
  const files: Array<{ file: string; text: string }> = [];
  for (const entry of (await readdir(path, { withFileTypes: true })).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    if (entry.isFile())
      files.push({ file: join(path, entry.name), text: await readFile(join(path, entry.name), 'utf8') });
  }
  return files;
}

/** The tls.cfg source: read and parsed again on every reload; any problem fails the reload. */
export function kamailioTlsCfgSource(path: string, opts: TlsCfgOptions): DomainSourceReader {
  return {
    kind: 'tls.cfg',
    async read() {
      let files: Array<{ file: string; text: string }>;
      try {
        files = await readTlsCfg(path);
      } catch (err) {
        throw new Error(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
      }
      const parsed = parseKamailioTlsCfgFiles(files, opts);
      const errors = parsed.problems.map(formatTlsCfgMessage);
      const domains: TlsDomain[] = [];
      for (const d of parsed.domains) {
        const n = normalizeDomain(d.input, {
          source: { kind: 'tls.cfg', file: d.file },
          baseDir: opts.mainConfigDir,
          verifyServerNameDefault: false,
        });
        if (Array.isArray(n))
          errors.push(...n.map((p) => `${d.file}:${d.line}: ${d.input.name}: ${p.field}: ${p.reason}`));
        else domains.push(n);
      }
      if (errors.length > 0) throw new Error(errors.join('\n'));
      return { domains, warnings: parsed.notices.map(formatTlsCfgMessage) };
    },
  };
}
