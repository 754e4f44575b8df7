// `sipsd import kamailio`: a kamailio.cfg to a native config. Runs the `#!define` / `#!ifdef`
// preprocessor, maps the core listen and TCP settings, and the `tls` module's parameters: they
// define Kamailio's default server and client profiles, or, with `config`, a tls.cfg that sipsd
// reads itself at run time (src/tls/sources/kamailio-tls-cfg.ts). The mapping is in docs/import.md.
import { dirname, resolve } from 'node:path';
import type { TlsDomainInput } from '../../tls/domain.js';
import { applyKamailioDefaults, resolveKamailioPath } from '../../tls/sources/kamailio-tls-cfg.js';
import {
  ConfigDraft,
  readStatements,
  scalar,
  toInt,
  tokenize,
  tokensText,
  walk,
  type ImportOptions,
  type ImportResult,
  type Token,
  type Where,
} from './common.js';

type Field = keyof TlsDomainInput;

/** `tls` module parameters that set the default profiles; `role` limits one to a side. */
const TLS_FIELDS: Record<string, { field: Field; role?: 'server' | 'client' }> = {
  tls_method: { field: 'tls_method' },
  certificate: { field: 'certificate' },
  private_key: { field: 'private_key' },
  ca_list: { field: 'ca_list' },
  crl: { field: 'crl' },
  verify_certificate: { field: 'verify_cert' },
  require_certificate: { field: 'require_cert' },
  verify_depth: { field: 'verify_depth' },
  cipher_list: { field: 'cipher_list' },
  verify_client: { field: 'verify_client', role: 'server' },
  // The SNI sipsd sends; a server matches names with tls.cfg profiles' server_name.
  server_name: { field: 'server_name', role: 'client' },
};

/** Global `tls` parameters sipsd takes under the same name (docs/configuration.md, kamailio-compat.md). */
const TLS_GLOBALS = new Set([
  'tls_disable_compression',
  'ssl_release_buffers',
  'ssl_freelist_max_len',
  'ssl_max_send_fragment',
  'ssl_read_ahead',
  'send_close_notify',
  'con_ct_wq_max',
  'ct_wq_max',
  'ct_wq_blk_size',
  'tls_log',
  'tls_debug',
  'low_mem_threshold1',
  'low_mem_threshold2',
  'tls_force_run',
  'session_cache',
  'session_id',
  'renegotiation',
  'rand_engine',
  'engine',
  'engine_algorithms',
]);

/** `tls` parameters without a sipsd key of the same name, and what to use instead. */
const TLS_ELSEWHERE: Record<string, string> = {
  send_timeout: 'obsolete since Kamailio 3.0 (ignored there); sipsd uses tls_send_timeout (ms)',
  handshake_timeout: 'obsolete since Kamailio 3.0 (ignored there); sipsd uses tls_handshake_timeout (ms)',
  xavp_cfg: 'select client domains with client_tls_domain_avp (name or server_id) or client_sip_domain_avp',
  event_callback:
    'KEMI callbacks: use the TypeScript routing script (tlsConnectionOut for tls:connection-out)',
};

/** Compatibility markers at the top of a kamailio.cfg. */
const MARKERS = new Set(['KAMAILIO', 'SER', 'OPENSER', 'ALL', 'MAXCOMPAT']);

/**
 * Kamailio's preprocessor: keeps the tokens of active `#!ifdef`/`#!ifndef`/`#!else` branches and
 * replaces `#!define`d names with their values.
 */
function preprocess(tokens: readonly Token[], draft: ConfigDraft): Token[] {
  const defines = new Map<string, Token[]>();
  const branches: boolean[] = [];
  const active = () => branches.every(Boolean);
  const out: Token[] = [];
  for (const t of tokens) {
    if (t.kind !== 'directive') {
      if (!active()) continue;
      const value = t.kind === 'word' ? defines.get(t.text) : undefined;
      out.push(
        ...(value && value.length > 0
          ? value.map((v, i) => ({ ...v, line: t.line, space: i === 0 ? t.space : v.space }))
          : [t]),
      );
      continue;
    }
    const [directive = '', name = '', ...rest] = t.text.split(/\s+/);
    const where: Where = { line: t.line, endLine: t.line, text: `#!${t.text}` };
    switch (directive.toLowerCase()) {
      case 'ifdef':
      case 'ifndef':
        branches.push(defines.has(name) === (directive.toLowerCase() === 'ifdef'));
        break;
      case 'else':
        if (branches.length === 0) draft.unmapped(where, '#!else without #!ifdef');
        else branches.push(!branches.pop()!);
        break;
      case 'endif':
        if (branches.length === 0) draft.unmapped(where, '#!endif without #!ifdef');
        branches.pop();
        break;
      case 'define':
      case 'redefine':
      case 'trydef':
        if (active() && !(directive.toLowerCase() === 'trydef' && defines.has(name))) {
          defines.set(
            name,
            tokenize(rest.join(' '), { directives: false }).filter((v) => v.kind !== 'newline'),
          );
        }
        break;
      case 'undef':
        if (active()) defines.delete(name);
        break;
      default:
        if (active() && !MARKERS.has(directive.toUpperCase())) {
          draft.unmapped(where, `preprocessor directive #!${directive} is not applied; apply it by hand`);
        }
    }
  }
  return out;
}

export function importKamailio(text: string, file: string, opts: ImportOptions = {}): ImportResult {
  const cwd = opts.cwd ?? process.cwd();
  const pathOpts = { mainConfigDir: dirname(resolve(cwd, file)), cwd };
  const resolvePath = (path: string, where: Where) => {
    if (path.startsWith('.')) {
      draft.note(
        where,
        `a path starting with "." is relative to Kamailio's working directory; resolved against ${cwd}`,
      );
    }
    return resolveKamailioPath(path, pathOpts);
  };
  const draft: ConfigDraft = new ConfigDraft(file, resolvePath);
  /** Kamailio listens on every enabled protocol when a listen entry names none. */
  draft.protosWithoutProto = ['udp', 'tcp'];
  const profileParams: Array<{ param: string; value: string | number; where: Where }> = [];
  let tlsConfig: Where | undefined;
  let tlsLoaded: Where | undefined;

  const core = (name: string, value: Token[], where: Where): void => {
    const v = scalar(value);
    switch (name) {
      case 'listen':
        return draft.addListen(tokensText(value), where);
      case 'port':
        return draft.setDefaultPort(v, where);
      case 'debug':
      case 'log_level':
        return draft.setLogLevel(v, 'kamailio', where);
      case 'children':
      case 'tcp_children':
        return draft.setWorkers(v, where);
      case 'enable_tls':
        if (draft.setTlsEnabled(v, false, where)) draft.protosWithoutProto = ['udp', 'tcp', 'tls'];
        return;
      case 'tcp_connection_lifetime':
        return draft.setInteger('connection_timeout', v, 1, where);
      case 'tcp_connect_timeout':
        return draft.setInteger('tcp_connect_timeout', v, 1000, where);
      case 'tcp_send_timeout':
        // Kamailio sends TLS through its TCP layer: this is its TLS send timeout too.
        return draft.setInteger('tls_send_timeout', v, 1000, where);
      default:
        draft.unmapped(where, `core parameter "${name}" has no sipsd equivalent`);
    }
  };

  const tls = (param: string, value: string | number, where: Where): void => {
    if (param in TLS_FIELDS) {
      profileParams.push({ param, value, where });
      return;
    }
    switch (param) {
      case 'config':
        tlsConfig = where;
        draft.setTop('tls_config', resolvePath(String(value), where), where);
        return;
      case 'connection_timeout':
        draft.note(where, 'Kamailio applies it to TLS connections only; sipsd to TCP and TLS');
        draft.setTop('connection_timeout', toInt(value) ?? value, where);
        return;
      case 'engine_config':
        draft.setTop('engine_config', resolvePath(String(value), where), where);
        return;
      default: {
        const elsewhere = TLS_ELSEWHERE[param];
        if (elsewhere) draft.unmapped(where, elsewhere);
        else if (TLS_GLOBALS.has(param)) draft.setTop(param, value, where);
        else draft.unmapped(where, `the tls module has no parameter "${param}"`);
      }
    }
  };

  const tokens = preprocess(tokenize(text, { directives: true }), draft);
  walk(readStatements(tokens, text.split('\n')), draft, {
    assign: core,
    modparam: (module, param, value, where) => {
      if (module === 'tls') tls(param, value, where);
      else draft.unmapped(where, `module "${module}" is not part of sipsd; its parameters are not imported`);
    },
    loadmodule: (name, where) => {
      if (name !== 'tls') return false;
      tlsLoaded = where;
      return true;
    },
    block: () => false,
  });

  if (tlsConfig) {
    // With `config`, Kamailio's profiles come from the tls.cfg; these only fill keys it leaves unset.
    for (const p of profileParams) {
      draft.unmapped(
        p.where,
        `with modparam("tls", "config") at line ${tlsConfig.line}, Kamailio uses this only for keys a tls.cfg profile leaves unset: set it in the profiles`,
      );
    }
  } else if (tlsLoaded || profileParams[0]) {
    // Kamailio's tls parameters define its default server and client profiles.
    const where = tlsLoaded ?? profileParams[0]!.where;
    const profiles = (['server', 'client'] as const).map((role) => draft.addDomain(role, 'default', where)!);
    for (const p of profileParams) {
      const { field, role } = TLS_FIELDS[p.param]!;
      for (const d of profiles) if (!role || d.type === role) draft.setField(d, field, p.value, p.where);
    }
    for (const d of profiles) {
      const input = d.input();
      applyKamailioDefaults(input, pathOpts.mainConfigDir);
      for (const f of Object.keys(input) as Field[]) d.setDefault(f, input[f] as never);
    }
  }
  return draft.result('kamailio', file);
}
