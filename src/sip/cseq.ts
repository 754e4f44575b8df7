// The small scalar headers: CSeq, Max-Forwards, Content-Length and Call-ID.
import { fail, ok, excerpt, type Result } from './errors.js';
import { isToken, isWsp, parseDecimal, trimWsp } from './chars.js';

export interface CSeq {
  readonly seq: number;
  /** Case as received (methods are case-sensitive). */
  readonly method: string;
}

/** RFC 3261 §8.1.1.5: the sequence number must be less than 2**31. */
const MAX_CSEQ = 2 ** 31 - 1;
/** No RFC bound; a 32-bit value is plenty and keeps arithmetic exact. */
const MAX_MAX_FORWARDS = 2 ** 31 - 1;
/** Far above any message size limit, small enough to stay an exact integer. */
const MAX_CONTENT_LENGTH = 2 ** 32 - 1;

/** `CSeq: 4711 INVITE` (any amount of SP/HT between the two parts). */
export function parseCSeq(value: string): Result<CSeq> {
  const text = trimWsp(value);
  let space = 0;
  while (space < text.length && !isWsp(text.charCodeAt(space))) space++;
  const seq = parseDecimal(text.slice(0, space), MAX_CSEQ);
  const method = trimWsp(text.slice(space));
  if (seq < 0) return fail('bad-cseq', `bad CSeq number in ${excerpt(value)}`);
  if (!isToken(method)) return fail('bad-cseq', `bad CSeq method in ${excerpt(value)}`);
  return ok({ seq, method });
}

export function formatCSeq(cseq: CSeq): string {
  return `${cseq.seq} ${cseq.method}`;
}

export function parseMaxForwards(value: string): Result<number> {
  const n = parseDecimal(trimWsp(value), MAX_MAX_FORWARDS);
  return n < 0 ? fail('bad-max-forwards', `bad Max-Forwards ${excerpt(value)}`) : ok(n);
}

/**
 * Only digits, surrounded by optional whitespace: `+5`, `-1`, `5 5`, `0x10`, `1e3` and `5;x` are all
 * rejected, since a lenient reading here is how request smuggling starts. CR/LF count as whitespace
 * because the framer reads this value straight from possibly folded raw lines.
 */
export function parseContentLength(value: string): Result<number> {
  // Read twice per stream message (framer and parser): a loop, not a regular expression.
  let start = 0;
  let end = value.length;
  while (start < end && isLineSpace(value.charCodeAt(start))) start++;
  while (end > start && isLineSpace(value.charCodeAt(end - 1))) end--;
  const n = parseDecimal(value.slice(start, end), MAX_CONTENT_LENGTH);
  return n < 0 ? fail('bad-content-length', `Malformed Content-Length ${excerpt(value)}`) : ok(n);
}

function isLineSpace(code: number): boolean {
  return code === 32 || code === 9 || code === 13 || code === 10;
}

/** callid = word ["@" word]: one run of visible characters. */
export function parseCallId(value: string): Result<string> {
  const id = trimWsp(value);
  // eslint-disable-next-line no-control-regex
  if (id.length === 0 || /[\x00-\x20\x7f]/.test(id))
    return fail('bad-call-id', `bad Call-ID ${excerpt(value)}`);
  return ok(id);
}
