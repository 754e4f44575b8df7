// What the OpenSIPS and Kamailio importers share: a tokenizer and statement reader for their common
// cfg syntax (assignments, modparam calls, loadmodule, blocks, three comment styles), the draft of
// the native config that validates every value as it is set, the report of what could not be
// mapped, and the YAML output.
import { isIP } from 'node:net';
import { Document, isMap, isSeq } from 'yaml';
import type { z } from 'zod';
import { MAX_WORKERS } from '../../cluster/identity.js';
import { configSchema } from '../schema.js';
import { normalizeDomain, tlsDomainInputSchema, type TlsDomainInput } from '../../tls/domain.js';
import type { Proto } from '../../transport/listen-spec.js';

// ---------------------------------------------------------------------------------------------
// Tokens and statements

export interface Token {
  kind: 'word' | 'string' | 'punct' | 'newline' | 'directive';
  /** Strings: the content without quotes; directives: the line after `#!` / `!!`. */
  text: string;
  line: number;
  /** Whitespace came before it on the same line (to rebuild values such as `tls:[::1]:5061`). */
  space: boolean;
  error?: string;
}

const PUNCT = new Set(['(', ')', '{', '}', '[', ']', '=', ',', ';']);

export interface TokenizeOptions {
  /** Kamailio's `#!define`-style preprocessor lines; elsewhere `#!` starts a comment. */
  directives: boolean;
}

export function tokenize(text: string, opts: TokenizeOptions): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let i = 0;
  let space = false;
  let lineStart = true;
  const push = (kind: Token['kind'], value: string, at = line, error?: string) => {
    tokens.push({ kind, text: value, line: at, space, ...(error ? { error } : {}) });
    space = false;
    lineStart = false;
  };
  const skipToEol = () => {
    while (i < text.length && text[i] !== '\n') i++;
  };
  while (i < text.length) {
    const c = text[i]!;
    const next = text[i + 1];
    if (c === '\n') {
      tokens.push({ kind: 'newline', text: '\n', line, space: false });
      line++;
      i++;
      space = false;
      lineStart = true;
    } else if (c === ' ' || c === '\t' || c === '\r') {
      space = true;
      i++;
    } else if (opts.directives && lineStart && ((c === '#' && next === '!') || (c === '!' && next === '!'))) {
      const start = i + 2;
      skipToEol();
      push('directive', text.slice(start, i).trim());
    } else if (c === '#' || (c === '/' && next === '/')) {
      skipToEol();
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end < 0 ? text.length : end + 2;
      for (let j = i; j < stop; j++) if (text[j] === '\n') line++;
      i = stop;
      space = true;
    } else if (c === '"' || c === "'") {
      // A string left open at the end of a line continues on the next one when it closes there
      // before a mere `)`: the seeds' examples are wrapped that way. Otherwise the quote is missing.
      const at = line;
      let value = '';
      let error: string | undefined;
      i++;
      while (i < text.length && text[i] !== c) {
        if (text[i] === '\\' && (text[i + 1] === c || text[i + 1] === '\\')) {
          value += text[i + 1];
          i += 2;
          continue;
        }
        if (text[i] === '\n') {
          const end = text.indexOf('\n', i + 1);
          const next = text.slice(i + 1, end < 0 ? text.length : end);
          const close = next.indexOf(c);
          if (line > at || close < 0 || !/^\s*[),;]*\s*(?:(?:#|\/\/).*)?$/.test(next.slice(close + 1))) {
            error = 'unterminated string (a closing quote is missing)';
            break;
          }
          line++;
        } else if (text[i] !== '\r') value += text[i];
        i++;
      }
      if (!error && i >= text.length) error = 'unterminated string (a closing quote is missing)';
      if (!error) i++; // the closing quote
      push('string', value, at, error);
    } else if (PUNCT.has(c)) {
      push('punct', c);
      i++;
    } else {
      const start = i;
      while (i < text.length && !/[\s"'#]/.test(text[i]!) && !PUNCT.has(text[i]!)) i++;
      push('word', text.slice(start, i));
    }
  }
  return tokens;
}

/** Where a statement is, and its source text, for reports. */
export interface Where {
  line: number;
  endLine: number;
  text: string;
}

export type Statement =
  | { kind: 'assign'; name: string; value: Token[]; where: Where }
  /** `name(arg, arg, ...)`, e.g. modparam("tls", "certificate", "/c.pem"). */
  | { kind: 'call'; name: string; args: Token[][]; where: Where }
  /** `name arg...` without `=`, e.g. loadmodule "tls.so". */
  | { kind: 'command'; name: string; args: Token[]; where: Where }
  | { kind: 'block'; head: Token[]; body: Token[]; where: Where }
  | { kind: 'other'; where: Where; error?: string };

/** A source line without its trailing `#` or `//` comment (quotes respected), for reports. */
function withoutComment(line: string): string {
  let quote = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#' || (c === '/' && line[i + 1] === '/')) return line.slice(0, i);
  }
  return line;
}

/** Reads top-level statements; a block's body is kept as tokens for the caller to read or skip. */
export function readStatements(tokens: readonly Token[], source: readonly string[]): Statement[] {
  const out: Statement[] = [];
  const where = (first: number, last: number, block = false): Where => {
    const line = tokens[first]!.line;
    const endLine = tokens[Math.max(first, last)]!.line;
    const text = block
      ? `${withoutComment(source[line - 1]!).trim()} ... }`
      : source
          .slice(line - 1, endLine)
          .map((l) => withoutComment(l).trim())
          .join(' ');
    return { line, endLine, text: text.length > 160 ? `${text.slice(0, 157)}...` : text };
  };
  const isEnd = (t: Token) => t.kind === 'newline' || (t.kind === 'punct' && t.text === ';');
  /** Index of the token closing the bracket opened at `open`, or the last token. */
  const closing = (open: number, o: string, c: string) => {
    let depth = 0;
    for (let j = open; j < tokens.length; j++) {
      const t = tokens[j]!;
      if (t.kind !== 'punct') continue;
      if (t.text === o) depth++;
      else if (t.text === c && --depth === 0) return j;
    }
    return tokens.length - 1;
  };
  let i = 0;
  while (i < tokens.length) {
    const t = tokens[i]!;
    if (isEnd(t)) {
      i++;
      continue;
    }
    const error = (from: number, to: number) => tokens.slice(from, to + 1).find((x) => x.error)?.error;
    const next = tokens[i + 1];
    if (t.kind === 'word' && next?.kind === 'punct' && next.text === '=') {
      let j = i + 2;
      while (j < tokens.length && !isEnd(tokens[j]!)) j++;
      const err = error(i, j - 1);
      out.push(
        err
          ? { kind: 'other', where: where(i, j - 1), error: err }
          : { kind: 'assign', name: t.text, value: tokens.slice(i + 2, j), where: where(i, j - 1) },
      );
      i = j;
      continue;
    }
    if (t.kind === 'word' && next?.kind === 'punct' && next.text === '(') {
      let end = closing(i + 1, '(', ')');
      const broken = tokens.slice(i, end + 1).findIndex((x) => x.error);
      if (broken >= 0) {
        // Do not let a missing quote swallow the following lines: the statement ends with its line.
        end = i + broken;
        while (end + 1 < tokens.length && tokens[end + 1]!.kind !== 'newline') end++;
        out.push({ kind: 'other', where: where(i, end), error: tokens[i + broken]!.error! });
        i = end + 1;
        continue;
      }
      const args: Token[][] = [[]];
      for (const a of tokens.slice(i + 2, end)) {
        if (a.kind === 'newline') continue;
        if (a.kind === 'punct' && a.text === ',') args.push([]);
        else args[args.length - 1]!.push(a);
      }
      out.push({ kind: 'call', name: t.text, args: args.filter((a) => a.length > 0), where: where(i, end) });
      i = end + 1;
      continue;
    }
    // A block head runs to `{`, possibly on the next line (`route[x]` NEWLINE `{`).
    let j = i;
    while (
      j < tokens.length &&
      !isEnd(tokens[j]!) &&
      !(tokens[j]!.kind === 'punct' && tokens[j]!.text === '{')
    )
      j++;
    let brace = j;
    if (tokens[brace]?.kind === 'newline') {
      brace++;
      while (tokens[brace]?.kind === 'newline') brace++;
    }
    if (tokens[brace]?.kind === 'punct' && tokens[brace]!.text === '{') {
      const end = closing(brace, '{', '}');
      out.push({
        kind: 'block',
        head: tokens.slice(i, j).filter((x) => x.kind !== 'newline'),
        body: tokens.slice(brace + 1, end),
        where: where(i, end, true),
      });
      i = end + 1;
      continue;
    }
    const err = error(i, j - 1);
    if (t.kind === 'word' && !err && tokens.slice(i + 1, j).some((x) => x.kind === 'string')) {
      out.push({ kind: 'command', name: t.text, args: tokens.slice(i + 1, j), where: where(i, j - 1) });
    } else {
      out.push({ kind: 'other', where: where(i, Math.max(i, j - 1)), ...(err ? { error: err } : {}) });
    }
    i = Math.max(j, i + 1);
  }
  return out;
}

/** The text of value tokens: string contents unquoted, spacing kept where there was some. */
export function tokensText(tokens: readonly Token[]): string {
  return tokens
    .filter((t) => t.kind !== 'newline')
    .map((t, i) => (i > 0 && t.space ? ' ' : '') + t.text)
    .join('');
}

/** A modparam/assignment value: a number when written as a bare integer, else its text. */
export function scalar(tokens: readonly Token[]): string | number {
  const text = tokensText(tokens);
  const only = tokens.length === 1 ? tokens[0]! : undefined;
  return only?.kind === 'word' && /^-?\d+$/.test(text) ? Number(text) : text;
}

/** `modules/tls/tls.so`, `tls.so`, `tls` -> `tls`. */
export function moduleName(text: string): string {
  return (text.split('/').pop() ?? text).replace(/\.so$/, '');
}

// ---------------------------------------------------------------------------------------------
// Value helpers

const TRUE = new Set(['1', 'yes', 'on', 'true', 'enable', 'enabled']);
const FALSE = new Set(['0', 'no', 'off', 'false', 'disable', 'disabled']);

export function toFlag(v: string | number): boolean | undefined {
  const s = String(v).trim().toLowerCase();
  return TRUE.has(s) ? true : FALSE.has(s) ? false : undefined;
}

export function toInt(v: string | number): number | undefined {
  const s = String(v).trim();
  return /^-?\d+$/.test(s) ? Number(s) : undefined;
}

/**
 * Numeric log levels: OpenSIPS/OpenSER (`log_level`, old `debug`) count ALERT -3 ... DBG 4,
 * Kamailio (`debug`) ALERT -5 ... DBG 3.
 */
export function logLevelFrom(n: number, scale: 'opensips' | 'kamailio'): string {
  if (n <= -2) return 'fatal';
  if (n === -1) return 'error';
  // WARN and NOTICE/INFO end one step lower on Kamailio's scale (WARN 0, INFO 2, DBG 3).
  const [warn, info] = scale === 'kamailio' ? [0, 2] : [1, 3];
  return n <= warn ? 'warn' : n <= info ? 'info' : 'debug';
}

// ---------------------------------------------------------------------------------------------
// Reports

export interface ImportReport {
  file: string;
  line: number;
  /** The statement as written (credentials in URLs masked). */
  text: string;
  kind: 'unmapped' | 'note';
  reason: string;
}

export function formatReport(r: ImportReport): string {
  return `${r.file}:${r.line}: ${r.text}: ${r.kind === 'unmapped' ? 'not mapped' : 'note'}: ${r.reason}`;
}

/** `mysql://user:secret@host` -> `mysql://user:***@host`, so reports never copy a password. */
function maskCredentials(text: string): string {
  return text.replace(/(\b[a-z][\w+.-]*:\/\/[^:/@\s"']+:)[^@\s"']+@/gi, '$1***@');
}

// ---------------------------------------------------------------------------------------------
// The draft of the native config

type Field = keyof TlsDomainInput;
const LIST_FIELDS = new Set<Field>(['match_ip_address', 'match_sip_domain']);
const FLAG_FIELDS = new Set<Field>(['crl_check_all', 'verify_cert', 'require_cert', 'verify_server_name']);
const PATH_FIELDS = new Set<Field>([
  'certificate',
  'private_key',
  'ca_list',
  'ca_dir',
  'crl',
  'crl_dir',
  'dh_params',
]);
const FIELD_ORDER = Object.keys(tlsDomainInputSchema.shape) as Field[];

/** Checks one field the way the config loader will: schema first, then the domain model's rules. */
function fieldProblem(type: 'server' | 'client', field: Field, value: unknown): string | undefined {
  const parsed = tlsDomainInputSchema.shape[field].safeParse(value);
  if (!parsed.success) return parsed.error.issues[0]?.message ?? 'invalid value';
  const n = normalizeDomain({ name: 'check', type, [field]: parsed.data } as TlsDomainInput, {
    source: { kind: 'config' },
    baseDir: '/',
    verifyServerNameDefault: false,
  });
  return Array.isArray(n) ? n.find((p) => p.field === field)?.reason : undefined;
}

export class DomainDraft {
  readonly fields: Partial<TlsDomainInput> = {};
  /** The statement that last set each field. */
  readonly setAt = new Map<Field, Where>();
  constructor(
    readonly name: string,
    readonly type: 'server' | 'client',
    readonly where: Where,
  ) {}

  has(field: Field): boolean {
    return this.fields[field] !== undefined;
  }

  /** Sets a default the source system applies implicitly (not reported). */
  setDefault<F extends Field>(field: F, value: TlsDomainInput[F]): void {
    if (this.fields[field] === undefined) this.fields[field] = value;
  }

  input(): TlsDomainInput {
    const out: Record<string, unknown> = { name: this.name, type: this.type };
    for (const f of FIELD_ORDER)
      if (this.fields[f] !== undefined && f !== 'name' && f !== 'type') out[f] = this.fields[f];
    return out as TlsDomainInput;
  }
}

interface ListenDraft {
  proto: Proto | undefined;
  host: string;
  port: number | undefined;
  where: Where;
}

export interface ImportOptions {
  /** Resolves a relative FILE (and Kamailio's `./` paths); defaults to the process's working directory. */
  cwd?: string;
}

export interface ImportResult {
  /** The native configuration, keys in schema order. */
  config: Record<string, unknown>;
  reports: ImportReport[];
  yaml: string;
}

export class ConfigDraft {
  readonly reports: ImportReport[] = [];
  readonly domains: DomainDraft[] = [];
  private readonly top = new Map<string, unknown>();
  private readonly listens: ListenDraft[] = [];
  private defaultPort: number | undefined;
  /** Protocols of a listen entry written without one. */
  protosWithoutProto: Proto[] = ['udp'];
  private tlsDisabled = false;

  constructor(
    readonly file: string,
    /** The source system's rule for relative paths. */
    private readonly resolvePath: (path: string, where: Where) => string,
  ) {}

  unmapped(where: Where, reason: string): void {
    this.report('unmapped', where, reason);
  }

  note(where: Where, reason: string): void {
    this.report('note', where, reason);
  }

  /** Once per line and reason: a statement applied to two domains is reported once. */
  private report(kind: ImportReport['kind'], where: Where, reason: string): void {
    if (this.reports.some((r) => r.line === where.line && r.kind === kind && r.reason === reason)) return;
    this.reports.push({ file: this.file, line: where.line, text: maskCredentials(where.text), kind, reason });
  }

  /** A top-level key, validated by its schema; reported when the value does not fit. */
  setTop(key: string, value: unknown, where: Where): void {
    const schema = (configSchema.shape as Record<string, z.ZodType>)[key];
    if (!schema) return this.unmapped(where, `sipsd has no "${key}" setting`);
    const parsed = schema.safeParse(value);
    if (!parsed.success)
      this.unmapped(where, `${key}: ${parsed.error.issues[0]?.message ?? 'invalid value'}`);
    else this.top.set(key, parsed.data);
  }

  /**
   * A parameter sipsd may gain under the same name: emitted when the schema has the key,
   * otherwise reported with `reason`.
   */
  passthrough(key: string, value: unknown, where: Where, reason: string): void {
    if (key in configSchema.shape) this.setTop(key, value, where);
    else this.unmapped(where, reason);
  }

  /** A whole number, scaled (seconds to milliseconds); reported when it is not one. */
  setInteger(key: string, raw: string | number, factor: number, where: Where): void {
    const n = toInt(raw);
    if (n === undefined) this.unmapped(where, `"${raw}" is not a whole number`);
    else this.setTop(key, n * factor, where);
  }

  setLogLevel(raw: string | number, scale: 'opensips' | 'kamailio', where: Where): void {
    const n = toInt(raw);
    if (n === undefined) this.unmapped(where, `"${raw}" is not a log level number`);
    else this.setTop('log_level', logLevelFrom(n, scale), where);
  }

  /**
   * OpenSIPS tcp_workers/udp_workers/children, Kamailio children/tcp_children: sipsd's workers serve
   * every protocol, so the largest of them (capped at the most sipsd runs).
   */
  setWorkers(raw: string | number, where: Where): void {
    const n = toInt(raw);
    if (n === undefined || n < 1) return this.unmapped(where, `"${raw}" is not a number of processes`);
    const workers = Math.min(n, MAX_WORKERS);
    this.note(
      where,
      'sipsd workers serve UDP, TCP and TLS alike: workers is the largest process count given',
    );
    if (workers > ((this.top.get('workers') as number | undefined) ?? 0))
      this.setTop('workers', workers, where);
  }

  /** `port=`: the port of listen entries that name none (TLS ones take tls_port). */
  setDefaultPort(raw: string | number, where: Where): void {
    const n = toInt(raw);
    if (n === undefined || n < 1 || n > 65535) this.unmapped(where, `"${raw}" is not a port`);
    else this.defaultPort = n;
  }

  /** OpenSER's disable_tls, Kamailio's enable_tls; false when `raw` is not a boolean (reported). */
  setTlsEnabled(raw: string | number, invert: boolean, where: Where): boolean | undefined {
    const flag = toFlag(raw);
    if (flag === undefined) {
      this.unmapped(where, `"${raw}" is not a boolean`);
      return undefined;
    }
    const on = flag !== invert;
    this.tlsDisabled = !on;
    if (!on) this.note(where, 'TLS is disabled: tls listen entries are left out');
    return on;
  }

  /** `proto:host[:port] [extras]` from `listen=`/`socket=`; `proto` and `port` are optional. */
  addListen(text: string, where: Where): void {
    const [spec = '', ...extra] = text.trim().split(/\s+/);
    const m = /^(?:([a-z_]+):)?(\[[^\]]+\]|[^:[\]]+)(?::(\d+))?$/i.exec(spec);
    if (!m) return this.unmapped(where, `"${spec}" is not proto:ip:port`);
    const proto = m[1]?.toLowerCase();
    if (proto !== undefined && proto !== 'udp' && proto !== 'tcp' && proto !== 'tls') {
      return this.unmapped(where, `sipsd listens on udp, tcp and tls, not ${proto}`);
    }
    const host = m[2]!.replace(/^\[|\]$/g, '');
    if (isIP(host) === 0) {
      return this.unmapped(
        where,
        `"${host}" is not an IP address: sipsd listens on addresses, not host or interface names`,
      );
    }
    const port = m[3] === undefined ? undefined : Number(m[3]);
    if (port !== undefined && port > 65535) return this.unmapped(where, `port ${port} is out of range`);
    this.listens.push({ proto: proto as Proto | undefined, host, port, where });
    if (extra.length > 0)
      this.note(where, `"${extra.join(' ')}" is not mapped: sipsd advertises the address it listens on`);
  }

  domain(type: 'server' | 'client', name: string): DomainDraft | undefined {
    return this.domains.find((d) => d.type === type && d.name === name);
  }

  /** A new domain, or undefined (reported) when one of that type and name exists. */
  addDomain(type: 'server' | 'client', name: string, where: Where): DomainDraft | undefined {
    const earlier = this.domain(type, name);
    if (earlier) {
      this.unmapped(where, `${type} domain "${name}" is already defined at line ${earlier.where.line}`);
      return undefined;
    }
    const d = new DomainDraft(name, type, where);
    this.domains.push(d);
    return d;
  }

  /**
   * Sets a domain field from a source value: paths resolved by the source's rule, booleans and
   * numbers converted, lists split on commas; each value checked by the domain model. Values that
   * do not fit are reported and left out.
   */
  setField(d: DomainDraft, field: Field, raw: string | number, where: Where): void {
    const text = String(raw).trim();
    let value: unknown = raw;
    if (LIST_FIELDS.has(field)) {
      const entries = text
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      const bad = entries.map((e) => [e, fieldProblem(d.type, field, [e])] as const).filter(([, p]) => p);
      for (const [, p] of bad) this.unmapped(where, `${field}: ${p}`);
      value = entries.filter((e) => !bad.some(([b]) => b === e));
      if ((value as string[]).length === 0) return;
    } else {
      if (FLAG_FIELDS.has(field)) value = toFlag(raw) ?? raw;
      else if (field === 'verify_depth') value = toInt(raw) ?? raw;
      else if (PATH_FIELDS.has(field)) value = text === '' ? text : this.resolvePath(text, where);
      else value = text;
      const problem = fieldProblem(d.type, field, value);
      if (problem) return this.unmapped(where, `${field}: ${problem}`);
    }
    (d.fields as Record<string, unknown>)[field] = value;
    d.setAt.set(field, where);
  }

  result(dialect: string, source: string): ImportResult {
    // Schema order, with the domains last: they are the long part.
    const config: Record<string, unknown> = {};
    for (const key of Object.keys(configSchema.shape)) {
      if (key === 'listen') {
        const listen = this.listenEntries();
        if (listen.length > 0) config['listen'] = listen;
      } else if (this.top.has(key)) config[key] = this.top.get(key);
    }
    const domains = this.domainInputs();
    if (domains.length > 0) config['tls_domains'] = domains;

    const doc = new Document(config);
    doc.commentBefore =
      ` Imported by \`sipsd import ${dialect}\` from ${source}.\n` +
      ' Check it with `sipsd check -c <this file>`; what could not be mapped is listed at the end.';
    const domainNodes = doc.get('tls_domains');
    if (isSeq(domainNodes)) {
      for (const d of domainNodes.items) {
        for (const f of LIST_FIELDS) {
          const list = isMap(d) ? d.get(f, true) : undefined;
          if (isSeq(list)) list.flow = true;
        }
      }
    }
    this.reports.sort((a, b) => a.line - b.line);
    const unmapped = this.reports.filter((r) => r.kind === 'unmapped');
    if (unmapped.length > 0) {
      doc.comment = [' Not mapped:', ...unmapped.map((r) => `   ${formatReport(r)}`)].join('\n');
    }
    return {
      config,
      reports: this.reports,
      yaml: doc.toString({ lineWidth: 0, flowCollectionPadding: false }),
    };
  }

  private listenEntries(): string[] {
    const out: string[] = [];
    for (const l of this.listens) {
      for (const proto of l.proto ? [l.proto] : this.protosWithoutProto) {
        if (proto === 'tls' && this.tlsDisabled) continue;
        const port = l.port ?? (proto === 'tls' ? undefined : this.defaultPort);
        const host = isIP(l.host) === 6 ? `[${l.host}]` : l.host;
        const entry = `${proto}:${host}${port === undefined ? '' : `:${port}`}`;
        if (!out.includes(entry)) out.push(entry);
      }
    }
    return out;
  }

  /** Default domains first, then in definition order; each checked once more as a whole. */
  private domainInputs(): TlsDomainInput[] {
    const ordered = [
      ...this.domains.filter((d) => d.name === 'default'),
      ...this.domains.filter((d) => d.name !== 'default'),
    ];
    return ordered.map((d) => {
      if (d.type === 'client') d.setDefault('verify_server_name', false);
      const input = d.input();
      const n = normalizeDomain(input, {
        source: { kind: 'config' },
        baseDir: '/',
        verifyServerNameDefault: false,
      });
      if (Array.isArray(n)) {
        for (const p of n)
          this.unmapped(
            d.setAt.get(p.field as Field) ?? d.where,
            `${d.type} domain "${d.name}": ${p.field}: ${p.reason}`,
          );
      }
      return input;
    });
  }
}

/** Runs the statements through a dialect's handlers; what no handler takes is reported. */
export interface Dialect {
  /** `name = value` core settings. */
  assign(name: string, value: Token[], where: Where): void;
  modparam(module: string, param: string, value: string | number, where: Where): void;
  /** True for modules sipsd provides itself (transports, TLS); others are reported. */
  loadmodule(name: string, where: Where): boolean;
  /** Blocks other than routing logic (OpenSER's tls_domain[...] { }); false when not taken. */
  block(head: Token[], body: Token[], where: Where): boolean;
}

const ROUTE_BLOCK =
  /^(route|request_route|reply_route|onreply_route|failure_route|branch_route|local_route|startup_route|timer_route|event_route|error_route|onsend_route)\b/;

export function walk(statements: readonly Statement[], draft: ConfigDraft, dialect: Dialect): void {
  for (const s of statements) {
    const w = s.where;
    switch (s.kind) {
      case 'assign':
        dialect.assign(s.name, s.value, w);
        break;
      case 'call':
        if (s.name === 'modparam' || s.name === 'param') {
          const [mod, param, value] = s.args.map((a) => scalar(a));
          if (
            s.args.length !== 3 ||
            typeof mod !== 'string' ||
            typeof param !== 'string' ||
            value === undefined
          ) {
            draft.unmapped(w, 'expected modparam("module", "parameter", value)');
            break;
          }
          if (s.name === 'param') draft.note(w, 'written param(...); read as modparam(...)');
          dialect.modparam(moduleName(mod), param, value, w);
        } else if (s.name === 'loadmodule' && s.args.length === 1) {
          loadModule(String(scalar(s.args[0]!)), w, draft, dialect);
        } else draft.unmapped(w, `${s.name}(...) is not a configuration statement sipsd imports`);
        break;
      case 'command':
        if (s.name === 'loadmodule') loadModule(tokensText(s.args), w, draft, dialect);
        else if (/^(include_file|import_file)$/.test(s.name)) {
          draft.unmapped(
            w,
            `included files are not followed; import "${tokensText(s.args)}" separately and merge`,
          );
        } else draft.unmapped(w, `"${s.name}" is not a configuration statement sipsd imports`);
        break;
      case 'block':
        if (ROUTE_BLOCK.test(tokensText(s.head))) {
          draft.unmapped(
            w,
            `routing logic (lines ${w.line}-${w.endLine}) is not imported: write it as a TypeScript routing script (README, "Write a routing script")`,
          );
        } else if (!dialect.block(s.head, s.body, w)) {
          draft.unmapped(
            w,
            `block (lines ${w.line}-${w.endLine}) is not a configuration statement sipsd imports`,
          );
        }
        break;
      case 'other':
        draft.unmapped(w, s.error ?? 'not a configuration statement sipsd imports');
        break;
    }
  }
}

function loadModule(path: string, where: Where, draft: ConfigDraft, dialect: Dialect): void {
  const name = moduleName(path);
  if (!dialect.loadmodule(name, where)) {
    draft.unmapped(
      where,
      `sipsd has no module "${name}": what it does is built in or written in the routing script`,
    );
  }
}
