// Character classes and small lexical helpers shared by the header parsers (RFC 3261 §25.1).

/** A lookup table over ASCII: 1 for each character of `chars`. */
export function charTable(chars: string): Uint8Array {
  const table = new Uint8Array(128);
  for (let i = 0; i < chars.length; i++) table[chars.charCodeAt(i)] = 1;
  return table;
}

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~") */
const TOKEN = charTable(`${ALNUM}-.!%*_+\`'~`);

export function isTokenChar(code: number): boolean {
  return code < 128 && TOKEN[code] === 1;
}

export function isToken(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) if (!isTokenChar(text.charCodeAt(i))) return false;
  return true;
}

/** Space or horizontal tab: the only whitespace left inside a header value once lines are unfolded. */
export function isWsp(code: number): boolean {
  return code === 32 || code === 9;
}

export function skipWsp(text: string, pos: number): number {
  while (pos < text.length && isWsp(text.charCodeAt(pos))) pos++;
  return pos;
}

/** Trims SP/HT only (String#trim would also eat characters SIP does not treat as whitespace). */
export function trimWsp(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isWsp(text.charCodeAt(start))) start++;
  while (end > start && isWsp(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

/**
 * A non-negative decimal integer made only of digits (no sign, no spaces, no exponent), at most
 * `max`; returns -1 otherwise. Leading zeros are accepted, as the ABNF `1*DIGIT` allows them.
 */
export function parseDecimal(text: string, max: number): number {
  if (text.length === 0 || text.length > 15) return -1;
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value <= max ? value : -1;
}

/**
 * Index of the quote closing the quoted-string that opens at `start`, honouring `\` escapes;
 * -1 when unterminated.
 */
export function findClosingQuote(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 92 /* \ */) i++;
    else if (code === 34 /* " */) return i;
  }
  return -1;
}

/** The content of a quoted-string with its escapes resolved; text without quotes is returned as is. */
export function unquote(text: string): string {
  if (text.length < 2 || text.charCodeAt(0) !== 34 || text.charCodeAt(text.length - 1) !== 34) return text;
  const inner = text.slice(1, -1);
  return inner.includes('\\') ? inner.replace(/\\(.)/gs, '$1') : inner;
}

export function quote(text: string): string {
  return `"${text.replace(/["\\]/g, '\\$&')}"`;
}
