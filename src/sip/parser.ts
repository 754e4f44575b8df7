// Parsing a whole SIP message (one datagram, or one message cut out of a stream by the framer).
import { isUtf8 } from 'node:buffer';
import { excerpt, fail, parseError, type Result, type SipParseError } from './errors.js';
import { isToken, isTokenChar, isWsp } from './chars.js';
import { parseContentLength } from './cseq.js';
import { findBodyStart } from './header-end.js';
import { headerKey } from './header-names.js';
import { DEFAULT_SIP_LIMITS, type SipLimits } from './limits.js';
import { SipRequest, SipResponse, type HeaderLine, type SipMessage } from './message.js';
import { parseVia } from './via.js';
import { splitHeaderValues } from './header-split.js';

export interface ParseOptions {
  /** Received over TCP/TLS: Content-Length is mandatory (RFC 3261 §18.3). */
  stream?: boolean;
  /**
   * Where the body starts in `data` when the caller has found it already (the stream framer does):
   * the parser then does not search for the end of the header block again.
   */
  bodyStart?: number;
}

/**
 * What is needed to answer a request that failed to parse (see `createParseErrorResponse`): present
 * when the start line is a request other than ACK, and Via (whose top value parses, so the answer
 * can be routed), From, To, Call-ID and CSeq are there. The values are raw, to be copied.
 */
export interface ReplyableRequest {
  readonly method: string;
  /** The value of each Via line, in order. */
  readonly via: readonly string[];
  readonly from: string;
  readonly to: string;
  readonly callId: string;
  readonly cseq: string;
}

export type ParseResult =
  | { readonly ok: true; readonly message: SipMessage }
  | { readonly ok: false; readonly error: SipParseError; readonly replyable?: ReplyableRequest };

type StartLine =
  | { readonly isRequest: true; readonly method: string; readonly uri: string; readonly version: string }
  | { readonly isRequest: false; readonly status: number; readonly reason: string; readonly version: string };

const SIP_VERSION = 'SIP/2.0';

/**
 * Parses one message. Never throws: every problem, down to random bytes, comes back as an error
 * value. The body is a slice of `data` (no copy), so `data` must not be reused afterwards.
 */
export function parseMessage(
  data: Buffer,
  limits: SipLimits = DEFAULT_SIP_LIMITS,
  options: ParseOptions = {},
): ParseResult {
  try {
    return parse(data, limits, options.stream === true, options.bodyStart);
  } catch (err) {
    // Not expected to happen; the guarantee above is worth this net.
    return failure('internal-error', `parser failure: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function failure(code: SipParseError['code'], reason: string): ParseResult {
  return { ok: false, error: parseError(code, reason) };
}

function parse(
  data: Buffer,
  limits: SipLimits,
  stream: boolean,
  knownBodyStart: number | undefined,
): ParseResult {
  if (data.length > limits.maxMessageSize) {
    return failure(
      'too-large',
      `message of ${data.length} bytes exceeds the limit of ${limits.maxMessageSize}`,
    );
  }
  // RFC 3261 §7.5: CRLFs before the start line are ignored.
  let start = 0;
  while (start < data.length && (data[start] === 13 || data[start] === 10)) start++;
  if (start === data.length) return failure('empty', 'empty message');

  // A body start from the caller is taken when plausible: inside the message, just after a line feed.
  const bodyStart =
    knownBodyStart !== undefined &&
    knownBodyStart > start &&
    knownBodyStart <= data.length &&
    data[knownBodyStart - 1] === 10
      ? knownBodyStart
      : findBodyStart(data, start, data.length);
  const headerEnd = bodyStart === -1 ? data.length : bodyStart;
  const encoding = isUtf8(data.subarray(start, headerEnd)) ? 'utf8' : 'latin1';
  const text = data.toString(encoding, start, headerEnd);

  let lineEnd = text.indexOf('\n');
  if (lineEnd === -1) lineEnd = text.length;
  const startLineText = text.slice(
    0,
    lineEnd > 0 && text.charCodeAt(lineEnd - 1) === 13 ? lineEnd - 1 : lineEnd,
  );
  if (startLineText.length > limits.maxLineLength) {
    return failure('line-too-long', `start line longer than ${limits.maxLineLength} characters`);
  }
  const startLine = parseStartLine(startLineText);
  if (!startLine.ok) return { ok: false, error: startLine.error };
  if (bodyStart === -1) return failure('truncated', 'no empty line after the headers: message truncated');
  const badLines = linesWithControlBytes(data, start, headerEnd);
  if (badLines[0] === 0) return failure('bad-start-line', 'control character in the start line');

  const sl = startLine.value;
  const { lines, error: headerError } = parseHeaderLines(text, lineEnd + 1, limits, badLines);
  const versionError =
    sl.version === SIP_VERSION
      ? undefined
      : parseError('bad-version', `unsupported protocol version ${excerpt(sl.version)}`);
  const length = contentLength(lines, stream);
  const available = data.length - bodyStart;
  const bodyLength = length.ok ? (length.value ?? available) : 0;
  let error = versionError ?? headerError ?? (length.ok ? undefined : length.error);
  if (!error && bodyLength > available) {
    error = parseError(
      'truncated',
      `Content-Length ${bodyLength} exceeds the ${available} bytes received after the headers`,
    );
  }
  if (!error) {
    // Bytes beyond Content-Length in a datagram are discarded (RFC 3261 §18.3).
    const body = data.subarray(bodyStart, bodyStart + bodyLength);
    const message = sl.isRequest
      ? new SipRequest(sl.method, sl.uri, lines, body, sl.version)
      : new SipResponse(sl.status, sl.reason, lines, body, sl.version);
    message.rawEncoding = encoding;
    error = message.validate();
    if (!error) return { ok: true, message };
  }
  return { ok: false, error, replyable: sl.isRequest ? replyableRequest(sl.method, lines) : undefined };
}

/**
 * `Method SP Request-URI SP SIP-Version` or `SIP-Version SP Status-Code SP Reason-Phrase`, single
 * spaces as RFC 3261 requires (RFC 4475 lists extra whitespace there among invalid messages). The version
 * is checked by the caller, so that a request in another version can still be answered (505).
 */
function parseStartLine(line: string): Result<StartLine> {
  const bad = (what: string) => fail<StartLine>('bad-start-line', `${what}: ${excerpt(line, 80)}`);
  if (startsWithSipSlash(line)) {
    const match = /^(SIP\/\d+\.\d+) (\d{3})(?: (.*))?$/i.exec(line);
    if (!match) return bad('malformed status line');
    const status = Number(match[2]);
    if (status < 100 || status > 699) return bad('status code out of range');
    return {
      ok: true,
      value: { isRequest: false, status, reason: match[3] ?? '', version: normalizeVersion(match[1] ?? '') },
    };
  }
  const first = line.indexOf(' ');
  const last = line.lastIndexOf(' ');
  if (first <= 0 || last === first) return bad('malformed request line');
  const method = line.slice(0, first);
  const uri = line.slice(first + 1, last);
  const version = line.slice(last + 1);
  if (!isToken(method)) return bad('bad method');
  if (uri.length === 0 || uri.includes(' ')) return bad('bad Request-URI spacing');
  if (version !== SIP_VERSION && !/^SIP\/\d+\.\d+$/i.test(version)) return bad('bad protocol version');
  return { ok: true, value: { isRequest: true, method, uri, version: normalizeVersion(version) } };
}

/** `SIP/` in any case at the start (a status line), without a regular expression per message. */
function startsWithSipSlash(line: string): boolean {
  return (
    line.length >= 4 &&
    (line.charCodeAt(0) | 0x20) === 115 /* s */ &&
    (line.charCodeAt(1) | 0x20) === 105 /* i */ &&
    (line.charCodeAt(2) | 0x20) === 112 /* p */ &&
    line.charCodeAt(3) === 47 /* / */
  );
}

/** `sip/2.0` is legal (ABNF literals are case-insensitive): stored, and sent on, as `SIP/2.0`. */
function normalizeVersion(version: string): string {
  return version.toUpperCase();
}

/**
 * The header lines from `pos` up to the empty line. A bad line does not stop the scan: it is
 * reported and skipped, so that a reply can still be built from the rest.
 */
function parseHeaderLines(
  text: string,
  pos: number,
  limits: SipLimits,
  badLines: readonly number[],
): { lines: HeaderLine[]; error?: SipParseError } {
  const lines: HeaderLine[] = [];
  let error: SipParseError | undefined;
  // The first problem wins.
  const report = (code: SipParseError['code'], reason: string) => {
    error ??= parseError(code, reason);
  };
  let nextBad = 0;
  for (let lineNo = 1; ; lineNo++) {
    const newline = text.indexOf('\n', pos);
    let end = newline;
    if (end > pos && text.charCodeAt(end - 1) === 13) end--;
    if (end === pos) break;
    const next = newline + 1;
    if (badLines[nextBad] === lineNo) {
      report('bad-header', `control character in header line ${lineNo}`);
      nextBad++;
    } else if (end - pos > limits.maxLineLength) {
      report('line-too-long', `header line ${lineNo} longer than ${limits.maxLineLength} characters`);
    } else if (isWsp(text.charCodeAt(pos))) {
      // Folding: a continuation line joins the previous header, the line break becoming one space.
      const previous = lines.pop();
      if (previous)
        lines.push({ ...previous, value: joinFolded(previous.value, text, pos, end), raw: undefined });
      else report('bad-header', 'continuation line before the first header');
    } else if (lines.length >= limits.maxHeaders) {
      report('too-many-headers', `more than ${limits.maxHeaders} header lines`);
      break;
    } else {
      const line = parseHeaderLine(text, pos, end);
      if (line) lines.push(line);
      else report('bad-header', `malformed header line ${lineNo}: ${excerpt(text.slice(pos, end))}`);
    }
    pos = next;
  }
  return { lines, error };
}

/**
 * Numbers of the lines (0 = start line) of the header block that hold a control character or a CR
 * not followed by LF (which some parsers downstream would take for a line break).
 */
function linesWithControlBytes(data: Buffer, start: number, end: number): number[] {
  const bad: number[] = [];
  let line = 0;
  let lineStart = start;
  for (let at = firstControlByte(data, start, end); at !== -1; at = firstControlByte(data, lineStart, end)) {
    for (let lf = data.indexOf(10, lineStart); lf !== -1 && lf < at; lf = data.indexOf(10, lf + 1)) {
      line++;
      lineStart = lf + 1;
    }
    bad.push(line);
    const lf = data.indexOf(10, at);
    if (lf === -1 || lf >= end) break;
    line++;
    lineStart = lf + 1;
  }
  return bad;
}

/**
 * A plain byte loop with the rare case behind one comparison: it runs over every header byte of
 * every message, and is several times faster than a regular expression over the decoded text.
 */
function firstControlByte(data: Buffer, start: number, end: number): number {
  for (let i = start; i < end; i++) {
    const byte = data[i] as number;
    if (byte >= 32 && byte !== 127) continue;
    if (byte === 13 && data[i + 1] === 10) i++;
    else if (byte !== 10 && byte !== 9) return i;
  }
  return -1;
}

/** `name SWS ":" SWS value`; undefined when there is no colon or the name is not a token. */
function parseHeaderLine(text: string, pos: number, end: number): HeaderLine | undefined {
  const colon = text.indexOf(':', pos);
  if (colon === -1 || colon >= end) return undefined;
  let nameEnd = colon;
  while (nameEnd > pos && isWsp(text.charCodeAt(nameEnd - 1))) nameEnd--;
  if (nameEnd === pos) return undefined;
  for (let i = pos; i < nameEnd; i++) if (!isTokenChar(text.charCodeAt(i))) return undefined;
  let valueStart = colon + 1;
  while (valueStart < end && isWsp(text.charCodeAt(valueStart))) valueStart++;
  let valueEnd = end;
  while (valueEnd > valueStart && isWsp(text.charCodeAt(valueEnd - 1))) valueEnd--;
  const name = text.slice(pos, nameEnd);
  return { name, key: headerKey(name), value: text.slice(valueStart, valueEnd), raw: text.slice(pos, end) };
}

function joinFolded(value: string, text: string, pos: number, end: number): string {
  let start = pos;
  while (start < end && isWsp(text.charCodeAt(start))) start++;
  let stop = end;
  while (stop > start && isWsp(text.charCodeAt(stop - 1))) stop--;
  if (start === stop) return value;
  return value.length === 0 ? text.slice(start, stop) : `${value} ${text.slice(start, stop)}`;
}

/**
 * The declared body length: undefined when absent on a datagram (the body is then the rest of the
 * packet); absent on a stream, repeated (a request smuggling vector) or malformed is an error.
 */
function contentLength(lines: readonly HeaderLine[], stream: boolean): Result<number | undefined> {
  let found: HeaderLine | undefined;
  for (const h of lines) {
    if (h.key !== 'content-length') continue;
    if (found) return fail('duplicate-header', 'more than one Content-Length header');
    found = h;
  }
  if (found) return parseContentLength(found.value);
  if (stream) return fail('missing-content-length', 'Content-Length is mandatory over TCP/TLS');
  return { ok: true, value: undefined };
}

function replyableRequest(method: string, lines: readonly HeaderLine[]): ReplyableRequest | undefined {
  // An ACK never gets a response.
  if (method === 'ACK') return undefined;
  const first = (key: string) => lines.find((h) => h.key === key)?.value;
  const via = lines.filter((h) => h.key === 'via').map((h) => h.value);
  const topVia = splitHeaderValues(via[0] ?? '')[0];
  const from = first('from');
  const to = first('to');
  const callId = first('call-id');
  const cseq = first('cseq');
  if (topVia === undefined || !parseVia(topVia).ok) return undefined;
  if (from === undefined || to === undefined || callId === undefined || cseq === undefined) return undefined;
  return { method, via, from, to, callId, cseq };
}
