// `sipsd import opensips`: an opensips.cfg to a native config. Covers OpenSIPS 3.x tls_mgm (named
// domains, `[dom]`-prefixed parameters, match filters), 2.x (`name=IP:port` domains,
// client_domain_avp), proto_tls, and the core TLS settings and tls_domain[...] blocks of OpenSER,
// OpenSIPS's ancestor. The mapping is tabled in docs/import.md.
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { TlsDomainInput } from '../../tls/domain.js';
import {
  ConfigDraft,
  readStatements,
  scalar,
  toFlag,
  toInt,
  tokenize,
  tokensText,
  walk,
  type DomainDraft,
  type ImportOptions,
  type ImportResult,
  type Token,
  type Where,
} from './common.js';

type Field = keyof TlsDomainInput;
type Role = 'server' | 'client';

/** tls_mgm per-domain parameters (`[dom]value`, or the default domains without a prefix). */
const TLS_MGM_FIELDS: Record<string, Field> = {
  tls_method: 'tls_method',
  certificate: 'certificate',
  private_key: 'private_key',
  ca_list: 'ca_list',
  ca_dir: 'ca_dir',
  crl_dir: 'crl_dir',
  crl_check_all: 'crl_check_all',
  ciphers_list: 'cipher_list',
  cipher_list: 'cipher_list',
  dh_params: 'dh_params',
  ec_curve: 'ec_curve',
  verify_cert: 'verify_cert',
  require_cert: 'require_cert',
  match_ip_address: 'match_ip_address',
  match_sip_domain: 'match_sip_domain',
};

/** tls_mgm's SQL provisioning parameters (3.x and 2.x column names). */
const TLS_MGM_DB = new Set([
  'db_url',
  'db_table',
  'domain_col',
  'address_col',
  'match_ip_address_col',
  'match_sip_domain_col',
  'type_col',
  'tls_method_col',
  'verify_cert_col',
  'require_cert_col',
  'certificate_col',
  'private_key_col',
  'crl_check_all_col',
  'crl_dir_col',
  'ca_list_col',
  'ca_dir_col',
  'cipher_list_col',
  'dh_params_col',
  'ec_curve_col',
]);

/** OpenSER core TLS settings, global or inside tls_domain[...] { } blocks; `role` limits them to one side. */
const OPENSER_TLS: Record<string, { field: Field; role?: Role }> = {
  tls_method: { field: 'tls_method' },
  tls_certificate: { field: 'certificate' },
  tls_private_key: { field: 'private_key' },
  tls_ca_list: { field: 'ca_list' },
  tls_ca_dir: { field: 'ca_dir' },
  tls_ciphers_list: { field: 'cipher_list' },
  tls_dh_params: { field: 'dh_params' },
  tls_ec_curve: { field: 'ec_curve' },
  tls_verify: { field: 'verify_cert' },
  tls_verify_client: { field: 'verify_cert', role: 'server' },
  tls_verify_server: { field: 'verify_cert', role: 'client' },
  tls_require_certificate: { field: 'require_cert', role: 'server' },
  tls_require_client_certificate: { field: 'require_cert', role: 'server' },
};

/** proto_tls parameters sipsd takes under the same name (docs/configuration.md, docs/tracing.md). */
const PROTO_TLS_SAME = new Set([
  'cert_check_on_conn_reusage',
  'trace_on',
  'tls_async',
  'tls_async_max_postponed_chunks',
  'tls_async_local_connect_timeout',
  'tls_async_handshake_timeout',
]);

const BUILTIN = new Set(['proto_udp', 'proto_tcp', 'proto_tls', 'tls_mgm', 'tls_openssl', 'tls_wolfssl']);

/** Which system's implicit defaults a domain gets. */
type Flavor = 'tls_mgm' | 'openser';

interface Pending {
  domain: string | undefined;
  field: Field;
  value: string | number;
  where: Where;
}

export function importOpensips(text: string, file: string, opts: ImportOptions = {}): ImportResult {
  const configDir = dirname(resolve(opts.cwd ?? process.cwd(), file));
  // OpenSSL opens relative paths from OpenSIPS's working directory, usually its config folder.
  const draft = new ConfigDraft(file, (p) => (isAbsolute(p) ? p : resolve(configDir, p)));
  const flavor = new Map<DomainDraft, Flavor>();
  const pending: Pending[] = [];
  /** 2.x syntax seen: default domains exist implicitly there. */
  let v2 = false;
  let openserGlobals = false;
  /** OpenSER's per-socket domains, which inherit the global settings. */
  const inheriting: DomainDraft[] = [];
  const source = text.split('\n');

  const defaults = (f: Flavor, where: Where): DomainDraft[] =>
    (['server', 'client'] as const).map((role) => {
      const existing = draft.domain(role, 'default');
      if (existing) return existing;
      const d = draft.addDomain(role, 'default', where)!;
      flavor.set(d, f);
      return d;
    });

  const setOpenser = (name: string, value: Token[], where: Where, targets: DomainDraft[]) => {
    const entry = OPENSER_TLS[name]!;
    const roles = targets.filter((d) => !entry.role || d.type === entry.role);
    if (roles.length === 0) return draft.unmapped(where, `${name} applies to ${entry.role} domains only`);
    for (const d of roles) draft.setField(d, entry.field, scalar(value), where);
  };

  const core = (name: string, value: Token[], where: Where): void => {
    const v = scalar(value);
    if (name in OPENSER_TLS) {
      openserGlobals = true;
      return setOpenser(name, value, where, defaults('openser', where));
    }
    switch (name) {
      case 'listen':
      case 'socket':
        return draft.addListen(tokensText(value), where);
      case 'port':
        return draft.setDefaultPort(v, where);
      case 'log_level':
      case 'debug':
        return draft.setLogLevel(v, 'opensips', where);
      case 'tcp_workers':
      case 'udp_workers':
      case 'children':
        return draft.setWorkers(v, where);
      case 'tcp_connection_lifetime':
        return draft.setInteger('connection_timeout', v, 1, where);
      case 'tcp_max_msg_time':
      case 'tcp_connect_timeout':
        return draft.setInteger(name, v, 1, where);
      case 'tls_port_no':
        return draft.setInteger('tls_port', v, 1, where);
      case 'tls_handshake_timeout':
      case 'tls_send_timeout':
        draft.note(where, 'OpenSER core timeouts are seconds; converted to milliseconds');
        return draft.setInteger(name, v, 1000, where);
      case 'disable_tls':
        draft.setTlsEnabled(v, true, where);
        return;
      default:
        draft.unmapped(where, `core parameter "${name}" has no sipsd equivalent`);
    }
  };

  const tlsMgm = (param: string, value: string | number, where: Where): void => {
    const field = TLS_MGM_FIELDS[param];
    if (field) {
      const m = /^\[([^\]]*)\]([\s\S]*)$/.exec(String(value));
      pending.push(
        m ? { domain: m[1]!.trim(), field, value: m[2]!, where } : { domain: undefined, field, value, where },
      );
      return;
    }
    switch (param) {
      case 'server_domain':
      case 'client_domain': {
        const role: Role = param === 'server_domain' ? 'server' : 'client';
        // 2.x wrote "name=IP:port"; 3.x names the domain and filters it with match_* parameters.
        const [name = '', address] = String(value)
          .split('=', 2)
          .map((s) => s.trim());
        if (name === '') return draft.unmapped(where, 'the domain needs a name');
        const d = draft.addDomain(role, name, where);
        if (!d) return;
        flavor.set(d, 'tls_mgm');
        if (address !== undefined) {
          v2 = true;
          draft.setField(d, 'match_ip_address', address, where);
        }
        return;
      }
      case 'client_tls_domain_avp':
      case 'client_sip_domain_avp':
        draft.setTop(param, String(value), where);
        return;
      case 'client_domain_avp':
        v2 = true;
        draft.setTop('client_tls_domain_avp', String(value), where);
        return;
      case 'tls_handshake_timeout':
      case 'tls_send_timeout':
        v2 = true;
        draft.setTop(param, toInt(value) ?? value, where);
        return;
      default:
        if (TLS_MGM_DB.has(param)) {
          if (param === 'address_col') v2 = true;
          draft.passthrough(
            param,
            value,
            where,
            'not a column of the OpenSIPS 3.x tls_mgm table sipsd reads (docs/database.md)',
          );
        } else draft.unmapped(where, `tls_mgm has no parameter "${param}"`);
    }
  };

  const protoTls = (param: string, value: string | number, where: Where): void => {
    switch (param) {
      case 'tls_port':
      case 'tls_max_msg_chunks':
      case 'tls_handshake_timeout':
      case 'tls_send_timeout':
        draft.setTop(param, toInt(value) ?? value, where);
        return;
      case 'tls_crlf_pingpong':
      case 'tls_crlf_drop':
        draft.setTop(param, toFlag(value) ?? value, where);
        return;
      case 'client_domain_avp': // where the 2.x docs' example sets it
        v2 = true;
        draft.setTop('client_tls_domain_avp', String(value), where);
        return;
      case 'trace_destination':
        // The name of a proto_hep hep_id, which may come later: resolved at the end.
        traceDestination = { name: String(value), where };
        return;
      case 'trace_filter_route':
        draft.note(
          where,
          `a route of opensips.cfg: sipsd calls the function "${String(value)}" of the routing script`,
        );
        draft.setTop(param, String(value), where);
        return;
      default:
        if (PROTO_TLS_SAME.has(param)) draft.setTop(param, value, where);
        else draft.unmapped(where, `proto_tls has no parameter "${param}"`);
    }
  };

  /** OpenSER tls_domain[IP:port], OpenSIPS 1.x tls_server_domain[...] / tls_client_domain[...]. */
  const block = (head: Token[], body: Token[], where: Where): boolean => {
    const m = /^(tls_domain|tls_server_domain|tls_client_domain)\[(.*)\]$/.exec(
      tokensText(head).replace(/\s+/g, ''),
    );
    if (!m) return false;
    const role: Role = m[1] === 'tls_client_domain' ? 'client' : 'server';
    const quoted = head.some((t) => t.kind === 'string');
    // Client domains may be named ("name") instead of addressed.
    const d = draft.addDomain(role, quoted ? m[2]! : `${role}:${m[2]}`, where);
    if (!d) return true;
    flavor.set(d, 'openser');
    inheriting.push(d);
    if (!quoted) draft.setField(d, 'match_ip_address', m[2]!, where);
    for (const s of readStatements(body, source)) {
      if (s.kind === 'assign' && s.name in OPENSER_TLS) setOpenser(s.name, s.value, s.where, [d]);
      else if (s.kind === 'assign') draft.unmapped(s.where, `"${s.name}" cannot be set per TLS domain`);
      else draft.unmapped(s.where, 'not a tls_domain setting');
    }
    return true;
  };
  let traceDestination: { name: string; where: Where } | undefined;
  const hepIds = new Map<string, { value: string; where: Where }>();
  walk(readStatements(tokenize(text, { directives: false }), source), draft, {
    assign: core,
    modparam: (module, param, value, where) => {
      if (module === 'tls_mgm') tlsMgm(param, value, where);
      else if (module === 'proto_tls') protoTls(param, value, where);
      else if (module === 'proto_hep' && (param === 'hep_id' || param === 'trace_destination'))
        hepIds.set(/^\s*\[([^\]]+)\]/.exec(String(value))?.[1] ?? '', { value: String(value), where });
      else draft.unmapped(where, `module "${module}" is not part of sipsd; its parameters are not imported`);
    },
    loadmodule: (name) => BUILTIN.has(name),
    block,
  });

  if (traceDestination) {
    // proto_hep's hep_id "[name]host:port;transport=...": trace_destination takes it whole.
    const hep = hepIds.get(traceDestination.name);
    if (hep) draft.setTop('trace_destination', hep.value, hep.where);
    else
      draft.unmapped(
        traceDestination.where,
        `no proto_hep hep_id is named "${traceDestination.name}": set trace_destination to the collector's [udp:|tcp:]host:port`,
      );
  }

  // [dom] parameters may come before or after the domain's definition: apply them at the end.
  for (const p of pending) {
    const targets =
      p.domain === undefined
        ? defaults(openserGlobals ? 'openser' : 'tls_mgm', p.where)
        : draft.domains.filter((d) => d.name === p.domain);
    if (targets.length === 0) {
      draft.unmapped(p.where, `no server_domain or client_domain is named "${p.domain}"`);
      continue;
    }
    for (const d of targets) draft.setField(d, p.field, p.value, p.where);
  }
  if (v2 && draft.domains.length > 0) defaults('tls_mgm', draft.domains[0]!.where);

  // OpenSER's per-socket domains take what they do not set from the global settings.
  for (const d of inheriting) {
    const global = draft.domain(d.type, 'default');
    for (const [field, value] of Object.entries(global?.fields ?? {})) {
      if (field !== 'match_ip_address' && field !== 'match_sip_domain')
        d.setDefault(field as Field, value as never);
    }
  }
  for (const d of draft.domains) {
    if (flavor.get(d) === 'openser') {
      // OpenSER: CFG_DIR/cert.pem and prik.pem, no verification unless asked for.
      d.setDefault('certificate', join(configDir, 'cert.pem'));
      d.setDefault('private_key', join(configDir, 'prik.pem'));
      d.setDefault('verify_cert', false);
      d.setDefault('require_cert', false);
    } else {
      // tls_mgm: CFG_DIR/tls/cert.pem and ckey.pem (the key is not looked for in the certificate).
      d.setDefault('certificate', join(configDir, 'tls/cert.pem'));
      d.setDefault('private_key', join(configDir, 'tls/ckey.pem'));
    }
    if (v2 && d.type === 'client' && d.name !== 'default' && !d.has('match_ip_address')) {
      draft.note(
        d.where,
        `OpenSIPS 2.x uses client domain "${d.name}" only when client_domain_avp names it; sipsd also matches it to any destination unless you add match_ip_address or match_sip_domain`,
      );
    }
  }
  return draft.result('opensips', file);
}
