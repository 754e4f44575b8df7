// The text of Authorization / Proxy-Authorization credentials and of WWW- / Proxy-Authenticate
// challenges (RFC 3261 §25.1, RFC 7616 §3.3-3.4): `Digest name=value, name="quoted", ...`.
import { findClosingQuote, isTokenChar, skipWsp } from '../../sip/chars.js';
import { quote, unquote } from '../../sip/index.js';

export interface AuthHeader {
  /** As received (compare case-insensitively). */
  scheme: string;
  /** Parameter names in lower case; values unquoted. */
  params: Map<string, string>;
}

export type AuthHeaderResult = { ok: true; value: AuthHeader } | { ok: false; reason: string };

function token(text: string, pos: number): number {
  let end = pos;
  while (end < text.length && isTokenChar(text.charCodeAt(end))) end++;
  return end;
}

/**
 * Parses one credentials (or challenge) value. Lenient where clients differ and it is harmless:
 * whitespace around `=` and `,`, empty list items, quoted or bare values for any parameter. A
 * parameter given twice is refused: which one counts would be a guess.
 */
export function parseAuthHeader(value: string): AuthHeaderResult {
  let pos = skipWsp(value, 0);
  const schemeEnd = token(value, pos);
  if (schemeEnd === pos) return { ok: false, reason: 'no authentication scheme' };
  const scheme = value.slice(pos, schemeEnd);
  const params = new Map<string, string>();
  pos = schemeEnd;
  while (pos < value.length) {
    pos = skipWsp(value, pos);
    if (value.charCodeAt(pos) === 44 /* , */) {
      pos++;
      continue;
    }
    if (pos >= value.length) break;
    const nameEnd = token(value, pos);
    if (nameEnd === pos)
      return { ok: false, reason: `unexpected character at ${JSON.stringify(value.slice(pos, pos + 10))}` };
    const name = value.slice(pos, nameEnd).toLowerCase();
    pos = skipWsp(value, nameEnd);
    if (value.charCodeAt(pos) !== 61 /* = */) return { ok: false, reason: `parameter ${name} has no value` };
    pos = skipWsp(value, pos + 1);
    let raw: string;
    if (value.charCodeAt(pos) === 34 /* " */) {
      const close = findClosingQuote(value, pos);
      if (close === -1) return { ok: false, reason: `unterminated quoted value of ${name}` };
      raw = unquote(value.slice(pos, close + 1));
      pos = close + 1;
    } else {
      // Bare values are tokens by the grammar, but base64 nonces (`/`, `=`) appear unquoted in the
      // wild: take everything up to a comma or whitespace.
      let stop = pos;
      while (stop < value.length && !/[\s,]/.test(value.charAt(stop))) stop++;
      if (stop === pos) return { ok: false, reason: `parameter ${name} has an empty value` };
      raw = value.slice(pos, stop);
      pos = stop;
    }
    if (params.has(name)) return { ok: false, reason: `parameter ${name} given twice` };
    params.set(name, raw);
    pos = skipWsp(value, pos);
    if (pos < value.length && value.charCodeAt(pos) !== 44)
      return { ok: false, reason: `expected ',' after parameter ${name}` };
  }
  return { ok: true, value: { scheme, params } };
}

/** One challenge parameter: quoted (quoted-string) or bare (token). */
export type ChallengeParam = readonly [name: string, value: string, quoted: boolean];

export function formatAuthHeader(scheme: string, params: readonly ChallengeParam[]): string {
  return `${scheme} ${params.map(([n, v, quoted]) => `${n}=${quoted ? quote(v) : v}`).join(', ')}`;
}
