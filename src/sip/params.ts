// `;name=value` parameter lists: the ordered, case-insensitive model, and the header-parameter parser.
import { fail, ok, excerpt, type Result } from './errors.js';
import { findClosingQuote, isTokenChar, skipWsp } from './chars.js';

/** One parameter; `value` is null for a valueless parameter (`;lr`, `;rport`). */
export interface Param {
  name: string;
  value: string | null;
}

/**
 * Parameters in received order (formatting keeps it), names compared case-insensitively, valueless
 * ones allowed. Parameter names are few and short: a linear scan beats any index.
 */
export class Params implements Iterable<Param> {
  constructor(private readonly list: Param[] = []) {}

  /** undefined when absent, null when present without a value. */
  get(name: string): string | null | undefined {
    return this.list[this.indexOf(name)]?.value;
  }

  has(name: string): boolean {
    return this.indexOf(name) !== -1;
  }

  /** Replaces the value in place (keeping the received spelling of the name), or appends. */
  set(name: string, value: string | null = null): this {
    const index = this.indexOf(name);
    const existing = this.list[index];
    if (existing) existing.value = value;
    else this.list.push({ name, value });
    return this;
  }

  delete(name: string): boolean {
    const index = this.indexOf(name);
    if (index !== -1) this.list.splice(index, 1);
    return index !== -1;
  }

  get size(): number {
    return this.list.length;
  }

  [Symbol.iterator](): Iterator<Param> {
    return this.list[Symbol.iterator]();
  }

  /**
   * `;a=b;c` — `encode` escapes names and values (URI parameters; header parameters go out as
   * stored), `separator` is `&` for URI headers.
   */
  format(encode: (text: string) => string = (t) => t, separator = ';'): string {
    let out = '';
    for (const p of this.list) {
      out +=
        p.value === null
          ? `${separator}${encode(p.name)}`
          : `${separator}${encode(p.name)}=${encode(p.value)}`;
    }
    return out;
  }

  private indexOf(name: string): number {
    const list = this.list;
    for (let i = 0; i < list.length; i++) if (list[i]!.name === name) return i;
    // Then ignoring case, without lower-casing copies: most lookups are for absent names (rport,
    // received, maddr...), which would otherwise allocate on every message.
    let lower: string | undefined;
    for (let i = 0; i < list.length; i++) {
      const p = list[i]!.name;
      const same = asciiEqualIgnoringCase(p, name);
      if (same === 1) return i;
      if (same === -1) {
        lower ??= name.toLowerCase();
        if (p.length === lower.length && p.toLowerCase() === lower) return i;
      }
    }
    return -1;
  }
}

/**
 * Whether two names are equal up to the case of ASCII letters: 1 yes, 0 no, -1 when a non-ASCII
 * character makes it a question for toLowerCase (whose result may differ in length).
 */
function asciiEqualIgnoringCase(a: string, b: string): 1 | 0 | -1 {
  if (a.length !== b.length) return hasNonAscii(a) || hasNonAscii(b) ? -1 : 0;
  for (let i = 0; i < a.length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y && x < 128) continue;
    if (x >= 128 || y >= 128) return -1;
    if ((x >= 65 && x <= 90 ? x | 0x20 : x) !== (y >= 65 && y <= 90 ? y | 0x20 : y)) return 0;
  }
  return 1;
}

function hasNonAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 128) return true;
  return false;
}

/**
 * Header parameters (`*( SEMI generic-param )`, RFC 3261 §25.1) starting at `pos`, which must be at
 * the end of `text` or at a `;` (LWS allowed around `;` and `=`). Values are kept as received,
 * quoted-strings with their quotes (see `unquote`), so they format back unchanged. Empty
 * parameters (`a;;b`, a trailing `;`) are tolerated and dropped: real-world stacks send them.
 */
export function parseHeaderParams(text: string, pos: number): Result<Params> {
  const params: Param[] = [];
  pos = skipWsp(text, pos);
  while (pos < text.length) {
    if (text.charCodeAt(pos) !== 59 /* ; */)
      return fail('bad-params', `expected ';' before ${excerpt(text.slice(pos))}`);
    const nameStart = skipWsp(text, pos + 1);
    let nameEnd = nameStart;
    while (nameEnd < text.length && isTokenChar(text.charCodeAt(nameEnd))) nameEnd++;
    let next = skipWsp(text, nameEnd);
    const code = text.charCodeAt(next);
    if (nameEnd === nameStart) {
      if (next < text.length && code !== 59)
        return fail('bad-params', `bad parameter name in ${excerpt(text.slice(pos))}`);
      pos = next;
      continue;
    }
    const name = text.slice(nameStart, nameEnd);
    let value: string | null = null;
    if (code === 61 /* = */) {
      const valueStart = skipWsp(text, next + 1);
      const valueEnd = scanParamValue(text, valueStart);
      if (valueEnd <= valueStart)
        return fail('bad-params', `bad value for parameter ${name} in ${excerpt(text.slice(pos))}`);
      value = text.slice(valueStart, valueEnd);
      next = skipWsp(text, valueEnd);
    }
    if (next < text.length && text.charCodeAt(next) !== 59) {
      return fail('bad-params', `junk after parameter ${name} in ${excerpt(text.slice(pos))}`);
    }
    params.push({ name, value });
    pos = next;
  }
  return ok(new Params(params));
}

/**
 * End of a gen-value (token / host / quoted-string) starting at `pos`, or `pos` if there is none.
 * Lenient on the unquoted characters (IPv6 references bring `[`, `]` and `:`), but never past
 * whitespace, `;`, `,` or a quote.
 */
function scanParamValue(text: string, pos: number): number {
  if (text.charCodeAt(pos) === 34 /* " */) {
    const close = findClosingQuote(text, pos);
    return close === -1 ? pos : close + 1;
  }
  let end = pos;
  for (; end < text.length; end++) {
    const code = text.charCodeAt(end);
    if (code <= 32 || code === 34 || code === 44 || code === 59 || code === 127) break;
  }
  return end;
}
