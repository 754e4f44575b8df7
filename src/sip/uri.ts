// SIP, SIPS and TEL URIs (RFC 3261 §19.1, RFC 3966); any other scheme is kept opaque.
import { fail, ok, excerpt, wrapError, type Result } from './errors.js';
import { formatHost, parseHostPort, type HostKind } from './host.js';
import { Params, type Param } from './params.js';
import { charTable } from './chars.js';

export interface SipUri {
  kind: 'sip';
  scheme: 'sip' | 'sips';
  /** Percent-decoded; undefined when the URI has no userinfo. */
  user: string | undefined;
  password: string | undefined;
  /** IPv6 without brackets; case as received (compare case-insensitively). */
  host: string;
  hostKind: HostKind;
  port: number | undefined;
  /** Percent-decoded, in received order; lookups are case-insensitive. */
  params: Params;
  /** `?name=value&...`, percent-decoded. */
  headers: Params;
}

export interface TelUri {
  kind: 'tel';
  scheme: 'tel';
  /** The number with its visual separators, e.g. `+1-201-555-0123`. */
  number: string;
  params: Params;
}

/** A URI of another scheme (`urn:`, `mailto:`, `http:`...): routable only by whoever understands it. */
export interface OtherUri {
  kind: 'other';
  /** Lower case. */
  scheme: string;
  opaque: string;
}

export type Uri = SipUri | TelUri | OtherUri;

const UNRESERVED = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*'()";
/** What each component may contain unescaped (RFC 3261 §25.1), for formatting. */
const USER_CHARS = charTable(`${UNRESERVED}&=+$,;?/`);
const PASSWORD_CHARS = charTable(`${UNRESERVED}&=+$,`);
const PARAM_CHARS = charTable(`${UNRESERVED}[]/:&+$`);
const HEADER_CHARS = charTable(`${UNRESERVED}[]/?:+$`);
/** Accepted on input: the same plus `%` escapes, and `#` in user parts (illegal but common: `*67#123`). */
const USER_INPUT = charTable(`${UNRESERVED}&=+$,;?/%#`);
const PASSWORD_INPUT = charTable(`${UNRESERVED}&=+$,%`);
const PARAM_INPUT = charTable(`${UNRESERVED}[]/:&+$%`);
const HEADER_INPUT = charTable(`${UNRESERVED}[]/?:+$%`);

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*$/;
// eslint-disable-next-line no-control-regex
const SPACE_OR_CONTROL = /[\s\x00-\x1f\x7f]/;
const GLOBAL_NUMBER = /^\+[0-9().-]*[0-9][0-9().-]*$/;
const LOCAL_NUMBER = /^[0-9A-Fa-f*#().-]*[0-9A-Fa-f*#][0-9A-Fa-f*#().-]*$/;

function allIn(text: string, table: Uint8Array): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 128 || table[code] !== 1) return false;
  }
  return true;
}

function hexValue(code: number | undefined): number {
  if (code === undefined) return -1;
  if (code >= 48 && code <= 57) return code - 48;
  const lower = code | 0x20;
  return lower >= 97 && lower <= 102 ? lower - 87 : -1;
}

/** Resolves `%XX` escapes (as UTF-8); undefined when an escape is malformed. */
function percentDecode(text: string): string | undefined {
  if (!text.includes('%')) return text;
  const src = Buffer.from(text, 'utf8');
  const out = Buffer.allocUnsafe(src.length);
  let n = 0;
  for (let i = 0; i < src.length; i++) {
    const byte = src[i] ?? 0;
    if (byte === 37 /* % */) {
      const hi = hexValue(src[i + 1]);
      const lo = hexValue(src[i + 2]);
      if (hi < 0 || lo < 0) return undefined;
      out[n++] = hi * 16 + lo;
      i += 2;
    } else {
      out[n++] = byte;
    }
  }
  return out.toString('utf8', 0, n);
}

function percentEncode(text: string, allowed: Uint8Array): string {
  if (allIn(text, allowed)) return text;
  let out = '';
  for (const ch of text) {
    const code = ch.charCodeAt(0);
    if (code < 128 && allowed[code] === 1) out += ch;
    else
      for (const byte of Buffer.from(ch, 'utf8'))
        out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * Checks a raw component against its character set and decodes it. `what` and `part` name it in
 * errors (joined only then: this runs for every URI part of every message).
 */
function decodeComponent(raw: string, allowed: Uint8Array, what: string, part = ''): Result<string> {
  if (!allIn(raw, allowed)) return fail('bad-uri', `illegal character in ${what}${part} ${excerpt(raw)}`);
  const decoded = percentDecode(raw);
  return decoded === undefined
    ? fail('bad-uri', `bad %-escape in ${what}${part} ${excerpt(raw)}`)
    : ok(decoded);
}

/** `name[=value]` items separated by `separator`, each part checked and decoded. */
function parseUriParams(text: string, separator: string, allowed: Uint8Array, what: string): Result<Params> {
  const params: Param[] = [];
  for (const item of text.split(separator)) {
    const eq = item.indexOf('=');
    const name = decodeComponent(eq === -1 ? item : item.slice(0, eq), allowed, what, ' name');
    if (!name.ok) return name;
    if (name.value.length === 0) return fail('bad-uri', `empty ${what} name in ${excerpt(text)}`);
    if (eq === -1) {
      params.push({ name: name.value, value: null });
      continue;
    }
    const value = decodeComponent(item.slice(eq + 1), allowed, what, ' value');
    if (!value.ok) return value;
    params.push({ name: name.value, value: value.value });
  }
  return ok(new Params(params));
}

export function parseUri(text: string): Result<Uri> {
  const colon = text.indexOf(':');
  // The usual lower-case `sip`/`sips` is recognised without slicing and matching the scheme.
  const common =
    colon === 3 ? isLowerSip(text) : colon === 4 && isLowerSip(text) && text.charCodeAt(3) === 115;
  if (!common && (colon <= 0 || !SCHEME.test(text.slice(0, colon))))
    return fail('bad-uri', `no URI scheme in ${excerpt(text)}`);
  if (SPACE_OR_CONTROL.test(text))
    return fail('bad-uri', `whitespace or control character in URI ${excerpt(text)}`);
  const scheme = common ? (colon === 3 ? 'sip' : 'sips') : text.slice(0, colon).toLowerCase();
  const rest = text.slice(colon + 1);
  if (rest.length === 0) return fail('bad-uri', `empty ${scheme} URI`);
  if (scheme === 'sip' || scheme === 'sips') return parseSipUri(scheme, rest);
  if (scheme === 'tel') return parseTelUri(rest);
  return ok({ kind: 'other', scheme, opaque: rest });
}

/** `text` starts with `sip` in lower case. */
function isLowerSip(text: string): boolean {
  return text.charCodeAt(0) === 115 && text.charCodeAt(1) === 105 && text.charCodeAt(2) === 112;
}

function parseSipUri(scheme: 'sip' | 'sips', rest: string): Result<Uri> {
  // `@` is legal neither in the host nor (unescaped) in params or headers: the first one ends the userinfo.
  const at = rest.indexOf('@');
  let user: string | undefined;
  let password: string | undefined;
  if (at !== -1) {
    const userinfo = rest.slice(0, at);
    const colon = userinfo.indexOf(':');
    const u = decodeComponent(colon === -1 ? userinfo : userinfo.slice(0, colon), USER_INPUT, 'user');
    if (!u.ok) return u;
    if (u.value.length === 0) return fail('bad-uri', `empty user part in ${excerpt(rest)}`);
    user = u.value;
    if (colon !== -1) {
      const p = decodeComponent(userinfo.slice(colon + 1), PASSWORD_INPUT, 'password');
      if (!p.ok) return p;
      password = p.value;
    }
  }
  const hostStart = at + 1;
  let hostEnd = hostStart;
  while (hostEnd < rest.length) {
    const code = rest.charCodeAt(hostEnd);
    if (code === 59 /* ; */ || code === 63 /* ? */) break;
    hostEnd++;
  }
  const hostPort = parseHostPort(rest.slice(hostStart, hostEnd));
  if (!hostPort.ok) return wrapError('bad-uri', `${scheme} URI`, hostPort.error);
  const question = rest.indexOf('?', hostEnd);
  const paramsEnd = question === -1 ? rest.length : question;
  // Each Params is made once: the parsed one, or an empty one when there is nothing to parse.
  let params: Params;
  if (hostEnd < paramsEnd) {
    const parsed = parseUriParams(rest.slice(hostEnd + 1, paramsEnd), ';', PARAM_INPUT, 'URI parameter');
    if (!parsed.ok) return parsed;
    params = parsed.value;
  } else {
    params = new Params();
  }
  let headers: Params;
  if (question !== -1) {
    const parsed = parseUriParams(rest.slice(question + 1), '&', HEADER_INPUT, 'URI header');
    if (!parsed.ok) return parsed;
    headers = parsed.value;
  } else {
    headers = new Params();
  }
  const { host, hostKind, port } = hostPort.value;
  return ok({ kind: 'sip', scheme, user, password, host, hostKind, port, params, headers });
}

function parseTelUri(rest: string): Result<Uri> {
  const semi = rest.indexOf(';');
  const number = semi === -1 ? rest : rest.slice(0, semi);
  if (!GLOBAL_NUMBER.test(number) && !LOCAL_NUMBER.test(number)) {
    return fail('bad-uri', `bad telephone number ${excerpt(number)}`);
  }
  let params = new Params();
  if (semi !== -1) {
    const parsed = parseUriParams(rest.slice(semi + 1), ';', PARAM_INPUT, 'tel parameter');
    if (!parsed.ok) return parsed;
    params = parsed.value;
  }
  return ok({ kind: 'tel', scheme: 'tel', number, params });
}

const encodeParam = (text: string): string => percentEncode(text, PARAM_CHARS);
const encodeHeader = (text: string): string => percentEncode(text, HEADER_CHARS);

/** The text form of a URI; `parseUri(formatUri(u))` gives back `u`, escaping only what must be. */
export function formatUri(uri: Uri): string {
  switch (uri.kind) {
    case 'other':
      return `${uri.scheme}:${uri.opaque}`;
    case 'tel':
      return `tel:${uri.number}${uri.params.format(encodeParam)}`;
    case 'sip': {
      let out = `${uri.scheme}:`;
      if (uri.user !== undefined) {
        out += percentEncode(uri.user, USER_CHARS);
        if (uri.password !== undefined) out += `:${percentEncode(uri.password, PASSWORD_CHARS)}`;
        out += '@';
      }
      out += formatHost(uri.host, uri.hostKind);
      if (uri.port !== undefined) out += `:${uri.port}`;
      out += uri.params.format(encodeParam);
      if (uri.headers.size > 0) out += `?${uri.headers.format(encodeHeader, '&').slice(1)}`;
      return out;
    }
  }
}
