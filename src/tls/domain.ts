// The TLS domain model: one typed object per domain, whatever its source (main config, Kamailio
// tls.cfg, SQL table, importer). Every source produces a `TlsDomainInput` (the keys operators
// write), validated by one schema; `normalizeDomain` applies the defaults of OpenSIPS tls_mgm
// (seeds 000 §1.4) in this one place.
import { dirname, isAbsolute, resolve } from 'node:path';
import { isIP } from 'node:net';
import { z } from 'zod';
import { parseTlsMethod, type TlsMethod } from './method.js';

/** OpenSIPS writes booleans as 0/1, Kamailio as yes/no/on/off: accept them all. */
export const flag = z.preprocess(
  (v) => {
    if (typeof v === 'number' && (v === 0 || v === 1)) return v === 1;
    if (typeof v === 'string') {
      const s = v.trim().toLowerCase();
      if (['1', 'yes', 'on', 'true'].includes(s)) return true;
      if (['0', 'no', 'off', 'false'].includes(s)) return false;
    }
    return v;
  },
  z.boolean({ error: 'expected a boolean (true/false, yes/no, on/off or 1/0)' }),
);

/** A list written as a YAML list or as OpenSIPS's comma-separated string. */
const list = z.preprocess(
  (v) =>
    typeof v === 'string'
      ? v
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '')
      : v,
  z.array(z.string().min(1)),
);

const file = z.string().min(1, { error: 'expected a file path' });

export const VERIFY_CLIENT = ['off', 'on', 'optional', 'optional_no_ca'] as const;
export type VerifyPolicy = (typeof VERIFY_CLIENT)[number];

export const tlsDomainInputSchema = z.strictObject({
  name: z.string().min(1),
  type: z.enum(['server', 'client']),
  /** `ip:port` list (`[v6]:port`, `*` = any, `ip:*` any port); default `*`. */
  match_ip_address: list.optional(),
  /** SIP domains / SNI names with shell wildcards, `*`, `none`; default `*`. */
  match_sip_domain: list.optional(),
  /** OpenSIPS/Kamailio method names or ranges; default SSLv23 (here: TLS 1.2 and 1.3). */
  tls_method: z.string().optional(),
  /** PEM chain, leaf first; may also hold the key. Default `<config dir>/tls/cert.pem`. */
  certificate: file.optional(),
  /** PEM private key; default `<config dir>/tls/ckey.pem`, or the certificate file if it holds one. */
  private_key: file.optional(),
  /** Passphrase of an encrypted private key (never logged nor shown). */
  passphrase: z.string().optional(),
  ca_list: file.optional(),
  /** Folder of PEM CA files (hashed names or not); default /etc/pki/CA/ when it exists. */
  ca_dir: file.optional(),
  crl: file.optional(),
  crl_dir: file.optional(),
  crl_check_all: flag.optional(),
  /** OpenSSL cipher list for TLS <= 1.2. */
  cipher_list: z.string().optional(),
  /** TLS 1.3 cipher suites, colon-separated. */
  cipher_suites: z.string().optional(),
  dh_params: file.optional(),
  ec_curve: z.string().optional(),
  verify_cert: flag.optional(),
  require_cert: flag.optional(),
  /** Kamailio's single knob; wins over verify_cert/require_cert when set. */
  verify_client: z.enum(VERIFY_CLIENT).optional(),
  verify_depth: z.number().int().min(0).max(100).optional(),
  /** Client domains: SNI to send (default: the destination host name). */
  server_name: z.string().optional(),
  /** Client domains: an id the script can select the domain by (Kamailio server_id). */
  server_id: z.string().optional(),
  /** Client domains: check the server certificate against the target host (RFC 5922 §7.2). */
  verify_server_name: flag.optional(),
});
export type TlsDomainInput = z.infer<typeof tlsDomainInputSchema>;

/** Where a domain was defined, for tls_list, errors and the file-wins rule. */
export interface DomainSource {
  kind: 'config' | 'tls.cfg' | 'db' | 'builtin';
  file?: string;
  /** Row id for DB domains. */
  row?: string | number;
}

/** A PEM value: read from a file, or given inline (database BLOBs). */
export type PemRef = { file: string; optional?: boolean } | { pem: Buffer; label: string };

export interface AddressFilter {
  /** Normalised IP address, or '*' */
  address: string;
  /** Port, or '*' */
  port: number | '*';
}

export interface TlsDomain {
  name: string;
  type: 'server' | 'client';
  source: DomainSource;
  /** Empty = any address. */
  matchAddresses: AddressFilter[];
  /** Lower-cased patterns; `*` any (incl. no SNI), `none` only without SNI. */
  matchSipDomains: string[];
  method: TlsMethod;
  certificate: PemRef | undefined;
  privateKey: PemRef | undefined;
  passphrase: string | undefined;
  caList: PemRef | undefined;
  /** `optional` for the built-in default folder, which may not exist on this host. */
  caDir: { dir: string; optional: boolean } | undefined;
  crl: PemRef | undefined;
  crlDir: string | undefined;
  crlCheckAll: boolean;
  cipherList: string | undefined;
  cipherSuites: string | undefined;
  dhParams: PemRef | undefined;
  ecCurve: string | undefined;
  verify: VerifyPolicy;
  verifyDepth: number;
  serverName: string | undefined;
  serverId: string | undefined;
  verifyServerName: boolean;
  /** Notices about this domain's settings (deprecated methods, defaults not found...). */
  warnings: string[];
}

export type DomainProblem = { field: string; reason: string };

export interface NormalizeOptions {
  source: DomainSource;
  /** Relative paths resolve against this folder (the config file's, usually). */
  baseDir: string;
  /** Default of verify_server_name: on for native configs, off for imported ones. */
  verifyServerNameDefault: boolean;
}

/** OpenSSL's default depth limit, used unless verify_depth is set. */
export const DEFAULT_VERIFY_DEPTH = 100;
export const DEFAULT_CA_DIR = '/etc/pki/CA/';

/**
 * The policy from OpenSIPS's pair or Kamailio's verify_client. Server side: whether a client
 * certificate is asked for and what happens if it is missing or fails. Client side: only whether
 * the server certificate must verify (`on`) or not (`off`).
 */
export function verifyPolicy(input: TlsDomainInput): VerifyPolicy {
  if (input.verify_client) return input.verify_client;
  const verify = input.verify_cert ?? true;
  const require = input.require_cert ?? true;
  if (!verify) return 'off';
  return input.type === 'server' && !require ? 'optional' : 'on';
}

function parseAddress(text: string): AddressFilter | string {
  const t = text.trim();
  if (t === '*') return { address: '*', port: '*' };
  const m = /^(\[[^\]]+\]|[^:[\]]+|\*)(?::(\d{1,5}|\*))?$/.exec(t);
  if (!m) return `"${t}" is not ip:port (e.g. 10.0.0.10:5061, [2001:db8::1]:5061, *)`;
  const host = m[1]!.replace(/^\[|\]$/g, '');
  if (host !== '*' && isIP(host) === 0) return `"${host}" is not an IP address`;
  const port = m[2] === undefined || m[2] === '*' ? '*' : Number(m[2]);
  if (port !== '*' && (port < 1 || port > 65535)) return `port ${port} is out of range`;
  return { address: host.toLowerCase(), port };
}

const SIP_DOMAIN = /^(\*|none|[a-z0-9*?[\]!_.-]+)$/;

/** Applies defaults and checks cross-field rules; returns the problems instead of throwing. */
/**
 * Domains of the main config by input object: the config check normalizes them and so does their
 * domain source right after; with 100,000 domains the second pass was a third of a second.
 */
const configDomains = new WeakMap<TlsDomainInput, { file: string; result: TlsDomain | DomainProblem[] }>();

/**
 * A domain written in the main config file (`file`, absolute): relative paths against its folder,
 * RFC 5922 server-name checks on by default. Callers must not change the result.
 */
export function normalizeConfigDomain(input: TlsDomainInput, file: string): TlsDomain | DomainProblem[] {
  const known = configDomains.get(input);
  if (known?.file === file) return known.result;
  const result = normalizeDomain(input, {
    source: { kind: 'config', file },
    baseDir: dirname(file),
    verifyServerNameDefault: true,
  });
  configDomains.set(input, { file, result });
  return result;
}

export function normalizeDomain(input: TlsDomainInput, opts: NormalizeOptions): TlsDomain | DomainProblem[] {
  const problems: DomainProblem[] = [];
  const warnings: string[] = [];
  const path = (p: string | undefined) =>
    p === undefined ? undefined : isAbsolute(p) ? p : resolve(opts.baseDir, p);
  const pem = (p: string | undefined): PemRef | undefined =>
    p === undefined ? undefined : { file: path(p)! };

  const matchAddresses: AddressFilter[] = [];
  for (const a of input.match_ip_address ?? ['*']) {
    const parsed = parseAddress(a);
    if (typeof parsed === 'string') problems.push({ field: 'match_ip_address', reason: parsed });
    else if (parsed.address !== '*' || parsed.port !== '*') matchAddresses.push(parsed);
  }
  const matchSipDomains = (input.match_sip_domain ?? ['*']).map((d) => d.trim().toLowerCase());
  for (const d of matchSipDomains) {
    if (!SIP_DOMAIN.test(d))
      problems.push({ field: 'match_sip_domain', reason: `"${d}" is not a domain name or pattern` });
  }
  if (input.type === 'client' && matchSipDomains.includes('none')) {
    problems.push({
      field: 'match_sip_domain',
      reason: '"none" (no SNI) only makes sense for server domains',
    });
  }

  const method = parseTlsMethod(input.tls_method ?? 'SSLv23');
  if (!method.ok) problems.push({ field: 'tls_method', reason: method.reason });
  else if (method.warning) warnings.push(method.warning);

  if (input.type === 'server' && input.server_name !== undefined) {
    // Kamailio's tls.cfg names the SNI a server profile answers to with server_name.
    problems.push({
      field: 'server_name',
      reason: 'for server domains use match_sip_domain (the tls.cfg importer converts it)',
    });
  }

  // OpenSIPS defaults: CFG_DIR/tls/cert.pem and ckey.pem. Marked optional so a default that is not
  // there is a notice for client domains, not an error.
  const certificate = input.certificate
    ? pem(input.certificate)
    : { file: resolve(opts.baseDir, 'tls/cert.pem'), optional: input.type === 'client' };
  const privateKey = input.private_key
    ? pem(input.private_key)
    : input.certificate
      ? undefined // the certificate file is expected to hold the key
      : { file: resolve(opts.baseDir, 'tls/ckey.pem'), optional: input.type === 'client' };

  if (problems.length > 0) return problems;
  return {
    name: input.name,
    type: input.type,
    source: opts.source,
    matchAddresses,
    matchSipDomains,
    method: (method as Extract<typeof method, { ok: true }>).method,
    certificate,
    privateKey,
    passphrase: input.passphrase,
    caList: pem(input.ca_list),
    caDir: input.ca_dir
      ? { dir: path(input.ca_dir)!, optional: false }
      : { dir: DEFAULT_CA_DIR, optional: true },
    crl: pem(input.crl),
    crlDir: path(input.crl_dir),
    crlCheckAll: input.crl_check_all ?? false,
    cipherList: input.cipher_list,
    cipherSuites: input.cipher_suites,
    dhParams: pem(input.dh_params),
    ecCurve: input.ec_curve,
    verify: verifyPolicy(input),
    verifyDepth: input.verify_depth ?? DEFAULT_VERIFY_DEPTH,
    serverName: input.server_name,
    serverId: input.server_id,
    verifyServerName: input.verify_server_name ?? opts.verifyServerNameDefault,
    warnings,
  };
}
