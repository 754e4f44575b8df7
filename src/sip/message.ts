// The SIP message model: start line, an ordered list of raw header lines (untouched lines go back out
// byte for byte), lazily parsed and cached views of the headers a proxy needs, and the body.
import {
  SipHeaderError,
  fail,
  ok,
  wrapError,
  type ParseErrorCode,
  type Result,
  type SipParseError,
} from './errors.js';
import { canonicalHeaderName, headerKey } from './header-names.js';
import { findValueSeparator, isMultiValuedHeader, splitHeaderValues } from './header-split.js';
import { trimWsp } from './chars.js';
import { parseCallId, parseCSeq, parseMaxForwards, type CSeq } from './cseq.js';
import { parseNameAddr, type NameAddr } from './name-addr.js';
import { formatUri, parseUri, type Uri } from './uri.js';
import { parseVia, type Via } from './via.js';

/** One header line as the application sees it: the name as received, the (unfolded) value. */
export interface HeaderField {
  readonly name: string;
  readonly value: string;
}

/** How a line is stored. */
export interface HeaderLine extends HeaderField {
  /** Lookup key: full name in lower case (see `headerKey`). */
  readonly key: string;
  /** The line exactly as received (no line terminator); undefined once modified or if it was folded. */
  readonly raw: string | undefined;
}

export function headerLine(name: string, value: string, raw?: string): HeaderLine {
  return { name, key: headerKey(name), value, raw };
}

/** Contact values, or `*` (the REGISTER wildcard). */
export type ContactList = NameAddr[] | '*';

const EMPTY_BODY = Buffer.alloc(0);
const REQUEST_URI_KEY = ' request-uri';

abstract class SipMessageBase {
  /**
   * How the raw header text was decoded, hence how it is encoded back: latin1 when the header block
   * was not valid UTF-8 (latin1 maps bytes to characters one to one, so such junk is forwarded intact).
   */
  rawEncoding: 'utf8' | 'latin1' = 'utf8';
  // Parse results by header key, dropped whenever lines with that key change: a slot per header a
  // proxy reads on every message (a Map per message, grown entry by entry, cost more than the
  // lookups it served), and a Map for any other key.
  #via: Result<unknown> | undefined;
  #from: Result<unknown> | undefined;
  #to: Result<unknown> | undefined;
  #callId: Result<unknown> | undefined;
  #cseq: Result<unknown> | undefined;
  #maxForwardsResult: Result<unknown> | undefined;
  #route: Result<unknown> | undefined;
  #recordRoute: Result<unknown> | undefined;
  #contact: Result<unknown> | undefined;
  #requestUri: Result<unknown> | undefined;
  #other: Map<string, Result<unknown>> | undefined;

  constructor(
    protected readonly lines: HeaderLine[],
    public body: Buffer,
    public version: string,
  ) {}

  /** All header lines in order. */
  headerFields(): readonly HeaderField[] {
    return this.lines;
  }

  hasHeader(name: string): boolean {
    const key = headerKey(name);
    return this.lines.some((h) => h.key === key);
  }

  /**
   * The first value: of the first line for list headers (`Via: a, b` → `a`), else the whole first
   * line. Compact and full names are interchangeable, case-insensitive.
   */
  getHeader(name: string): string | undefined {
    const key = headerKey(name);
    const multi = isMultiValuedHeader(key);
    for (const h of this.lines) {
      if (h.key !== key) continue;
      if (!multi) return h.value;
      const first = splitHeaderValues(h.value)[0];
      if (first !== undefined) return first;
    }
    return undefined;
  }

  /** Every value across repeated lines, list headers split on their commas. */
  getHeaders(name: string): string[] {
    const key = headerKey(name);
    const multi = isMultiValuedHeader(key);
    const values: string[] = [];
    for (const h of this.lines) {
      if (h.key !== key) continue;
      if (multi) values.push(...splitHeaderValues(h.value));
      else values.push(h.value);
    }
    return values;
  }

  /** Appends a line, or with `first` puts it before the first line of the same header (top of the list). */
  addHeader(name: string, value: string, options: { first?: boolean } = {}): void {
    const line = headerLine(name, value);
    this.invalidate(line.key);
    if (!options.first) {
      this.lines.push(line);
      return;
    }
    const index = this.lines.findIndex((h) => h.key === line.key);
    this.lines.splice(index === -1 ? 0 : index, 0, line);
  }

  /** Removes every line of the header; returns how many went. */
  removeHeader(name: string): number {
    const key = headerKey(name);
    const before = this.lines.length;
    for (let i = this.lines.length - 1; i >= 0; i--) if (this.lines[i]?.key === key) this.lines.splice(i, 1);
    if (this.lines.length !== before) this.invalidate(key);
    return before - this.lines.length;
  }

  /** Replaces the header by one line at the position of its first occurrence (appended if absent). */
  setHeader(name: string, value: string): void {
    const line = headerLine(name, value);
    const index = this.lines.findIndex((h) => h.key === line.key);
    this.removeHeader(name);
    this.lines.splice(index === -1 ? this.lines.length : index, 0, line);
    this.invalidate(line.key);
  }

  /**
   * Pops the first value (top Via, top Route): the rest of that line's values stay in place, and the
   * line goes once empty. Returns the removed value.
   */
  removeFirstHeaderValue(name: string): string | undefined {
    const key = headerKey(name);
    const index = this.lines.findIndex((h) => h.key === key);
    const line = this.lines[index];
    if (!line) return undefined;
    // The parsed Vias (Routes) stay valid minus the first: replies pop ours and are then routed by
    // the next; loose routing pops our Route entries and reads the next.
    const parsed = key === 'via' || key === 'route' ? this.cached<unknown[]>(key) : undefined;
    this.invalidate(key);
    const comma = isMultiValuedHeader(key) ? findValueSeparator(line.value) : -1;
    const rest = comma === -1 ? '' : trimWsp(line.value.slice(comma + 1));
    if (rest.length === 0) this.lines.splice(index, 1);
    else this.lines[index] = headerLine(line.name, rest);
    const removed = trimWsp(comma === -1 ? line.value : line.value.slice(0, comma));
    // An empty element (`Via: , x`) was never a parsed value: then the cache is not kept.
    if (parsed?.ok && parsed.value.length > 1 && removed.length > 0)
      this.cache(key, ok(parsed.value.slice(1)));
    return removed;
  }

  /** All Via values, top first. Validated by `parseMessage`; throws SipHeaderError only if code broke them. */
  vias(): readonly Via[] {
    return unwrap(this.#vias());
  }

  topVia(): Via {
    return unwrap(this.#vias())[0] as Via;
  }

  from(): NameAddr {
    return unwrap(this.#nameAddr('from'));
  }

  to(): NameAddr {
    return unwrap(this.#nameAddr('to'));
  }

  get callId(): string {
    return unwrap(this.#single('call-id', parseCallId));
  }

  cseq(): CSeq {
    return unwrap(this.#single('cseq', parseCSeq));
  }

  /** undefined when absent (allowed); validated by `parseMessage` when present. */
  maxForwards(): number | undefined {
    return unwrap(this.#maxForwards());
  }

  /** Parsed on first use, hence a Result: a bad Contact does not make the message unparseable. */
  contacts(): Result<ContactList> {
    return this.cached<ContactList>('contact') ?? this.cache('contact', this.#parseContacts());
  }

  /** Route values, top first; empty when absent. */
  routes(): Result<NameAddr[]> {
    return (
      this.cached<NameAddr[]>('route') ??
      this.cache('route', parseAddressList(this.getHeaders('route'), 'bad-route', 'Route'))
    );
  }

  recordRoutes(): Result<NameAddr[]> {
    return (
      this.cached<NameAddr[]>('record-route') ??
      this.cache(
        'record-route',
        parseAddressList(this.getHeaders('record-route'), 'bad-route', 'Record-Route'),
      )
    );
  }

  /** The body length: what `serializeMessage` writes, whatever the Content-Length line says. */
  get contentLength(): number {
    return this.body.length;
  }

  /**
   * Checks what makes a message safe to route: Via, From, To, Call-ID and CSeq present once (Via at
   * least once) and well-formed, Max-Forwards well-formed if present; for requests, a valid
   * Request-URI and a CSeq method equal to the request method. Results stay cached for the accessors.
   */
  validate(): SipParseError | undefined {
    // In order, the first failure wins; all are parsed (and cached) as before, without an array.
    const vias = this.#vias();
    const from = this.#nameAddr('from');
    const to = this.#nameAddr('to');
    const callId = this.#single('call-id', parseCallId);
    const cseq = this.#single('cseq', parseCSeq);
    const maxForwards = this.#maxForwards();
    if (!vias.ok) return vias.error;
    if (!from.ok) return from.error;
    if (!to.ok) return to.error;
    if (!callId.ok) return callId.error;
    if (!cseq.ok) return cseq.error;
    if (!maxForwards.ok) return maxForwards.error;
    return undefined;
  }

  // Accessors read `cached(key) ?? cache(key, parse())` rather than passing a compute closure:
  // they run several times per message, and a closure per call is garbage on every cache hit.

  /** The cached parse of `key`, if computed since its lines last changed. */
  protected cached<T>(key: string): Result<T> | undefined {
    switch (key) {
      case 'via':
        return this.#via as Result<T> | undefined;
      case 'from':
        return this.#from as Result<T> | undefined;
      case 'to':
        return this.#to as Result<T> | undefined;
      case 'call-id':
        return this.#callId as Result<T> | undefined;
      case 'cseq':
        return this.#cseq as Result<T> | undefined;
      case 'max-forwards':
        return this.#maxForwardsResult as Result<T> | undefined;
      case 'route':
        return this.#route as Result<T> | undefined;
      case 'record-route':
        return this.#recordRoute as Result<T> | undefined;
      case 'contact':
        return this.#contact as Result<T> | undefined;
      case REQUEST_URI_KEY:
        return this.#requestUri as Result<T> | undefined;
      default:
        return this.#other?.get(key) as Result<T> | undefined;
    }
  }

  protected cache<T>(key: string, result: Result<T>): Result<T> {
    this.#store(key, result);
    return result;
  }

  protected invalidate(key: string): void {
    this.#store(key, undefined);
  }

  #store(key: string, result: Result<unknown> | undefined): void {
    switch (key) {
      case 'via':
        this.#via = result;
        return;
      case 'from':
        this.#from = result;
        return;
      case 'to':
        this.#to = result;
        return;
      case 'call-id':
        this.#callId = result;
        return;
      case 'cseq':
        this.#cseq = result;
        return;
      case 'max-forwards':
        this.#maxForwardsResult = result;
        return;
      case 'route':
        this.#route = result;
        return;
      case 'record-route':
        this.#recordRoute = result;
        return;
      case 'contact':
        this.#contact = result;
        return;
      case REQUEST_URI_KEY:
        this.#requestUri = result;
        return;
      default:
        if (result === undefined) this.#other?.delete(key);
        else (this.#other ??= new Map()).set(key, result);
    }
  }

  #parseContacts(): Result<ContactList> {
    const values = this.getHeaders('contact');
    if (values.includes('*')) {
      return values.length === 1 ? ok('*' as const) : fail('bad-contact', "Contact '*' mixed with addresses");
    }
    return parseAddressList(values, 'bad-contact', 'Contact');
  }

  #vias(): Result<Via[]> {
    return this.cached<Via[]>('via') ?? this.cache('via', this.#parseVias());
  }

  #parseVias(): Result<Via[]> {
    // getHeaders('via') without its arrays: every value of every Via line, split on commas.
    const vias: Via[] = [];
    for (const h of this.lines) {
      if (h.key !== 'via') continue;
      const value = h.value;
      for (let start = 0; ;) {
        const comma = findValueSeparator(value, start);
        const part = trimWsp(comma === -1 ? value.slice(start) : value.slice(start, comma));
        if (part.length > 0) {
          const via = parseVia(part);
          if (!via.ok) return via;
          vias.push(via.value);
        }
        if (comma === -1) break;
        start = comma + 1;
      }
    }
    if (vias.length === 0) return fail('missing-header', 'missing mandatory header Via');
    return ok(vias);
  }

  #nameAddr(key: 'from' | 'to'): Result<NameAddr> {
    return this.#single(key, key === 'from' ? parseFrom : parseTo);
  }

  #maxForwards(): Result<number | undefined> {
    return (
      this.cached<number | undefined>('max-forwards') ?? this.cache('max-forwards', this.#parseMaxForwards())
    );
  }

  #parseMaxForwards(): Result<number | undefined> {
    const line = this.#atMostOnce('max-forwards');
    if (!line.ok) return line;
    return line.value === undefined ? ok(undefined) : parseMaxForwards(line.value.value);
  }

  /** A header that must occur exactly once, parsed. */
  #single<T>(key: string, parse: (value: string) => Result<T>): Result<T> {
    const hit = this.cached<T>(key);
    if (hit) return hit;
    const line = this.#atMostOnce(key);
    if (!line.ok) return this.cache(key, line);
    if (!line.value)
      return this.cache(key, fail('missing-header', `missing mandatory header ${canonicalHeaderName(key)}`));
    return this.cache(key, parse(line.value.value));
  }

  #atMostOnce(key: string): Result<HeaderLine | undefined> {
    let found: HeaderLine | undefined;
    for (const h of this.lines) {
      if (h.key !== key) continue;
      if (found) return fail('duplicate-header', `more than one ${canonicalHeaderName(key)} header`);
      found = h;
    }
    return ok(found);
  }
}

const parseFrom = (value: string) => parseAddressHeader(value, 'bad-from', 'From');
const parseTo = (value: string) => parseAddressHeader(value, 'bad-to', 'To');

function parseAddressHeader(value: string, code: ParseErrorCode, header: string): Result<NameAddr> {
  const addr = parseNameAddr(value);
  return addr.ok ? addr : wrapError(code, header, addr.error);
}

function unwrap<T>(result: Result<T>): T {
  if (!result.ok) throw new SipHeaderError(result.error);
  return result.value;
}

function parseAddressList(values: string[], code: ParseErrorCode, header: string): Result<NameAddr[]> {
  const addrs: NameAddr[] = [];
  for (const value of values) {
    const addr = parseNameAddr(value);
    if (!addr.ok) return wrapError(code, header, addr.error);
    addrs.push(addr.value);
  }
  return ok(addrs);
}

export class SipRequest extends SipMessageBase {
  readonly isRequest = true;
  #uri: string;

  constructor(
    public method: string,
    uri: string,
    headers: HeaderLine[] = [],
    body: Buffer = EMPTY_BODY,
    version = 'SIP/2.0',
  ) {
    super(headers, body, version);
    this.#uri = uri;
  }

  /** The Request-URI as text (as received unless changed). */
  get uri(): string {
    return this.#uri;
  }

  set uri(uri: string) {
    this.#uri = uri;
    this.invalidate(REQUEST_URI_KEY);
  }

  /** The parsed Request-URI; validated by `parseMessage`, throws SipHeaderError only after a bad `uri =`. */
  get requestUri(): Uri {
    return unwrap(this.#requestUri());
  }

  set requestUri(uri: Uri) {
    this.uri = formatUri(uri);
  }

  override validate(): SipParseError | undefined {
    const error = super.validate();
    if (error) return error;
    const uri = this.#requestUri();
    if (!uri.ok) return uri.error;
    const cseq = this.cseq();
    if (cseq.method !== this.method) {
      return {
        code: 'bad-cseq',
        reason: `CSeq method ${cseq.method} does not match request method ${this.method}`,
      };
    }
    return undefined;
  }

  #requestUri(): Result<Uri> {
    const hit = this.cached<Uri>(REQUEST_URI_KEY);
    if (hit) return hit;
    const uri = parseUri(this.#uri);
    return this.cache(REQUEST_URI_KEY, uri.ok ? uri : wrapError('bad-uri', 'Request-URI', uri.error));
  }
}

export class SipResponse extends SipMessageBase {
  readonly isRequest = false;

  constructor(
    public status: number,
    public reason: string,
    headers: HeaderLine[] = [],
    body: Buffer = EMPTY_BODY,
    version = 'SIP/2.0',
  ) {
    super(headers, body, version);
  }
}

export type SipMessage = SipRequest | SipResponse;

/**
 * The wire form: start line, header lines in order (untouched ones byte for byte, compact names as
 * received), a Content-Length recomputed from the body (in place of the first Content-Length line,
 * or appended), the empty line, the body.
 */
export function serializeMessage(msg: SipMessage): Buffer {
  const length = msg.body.length;
  let head = msg.isRequest
    ? `${msg.method} ${msg.uri} ${msg.version}\r\n`
    : `${msg.version} ${msg.status} ${msg.reason}\r\n`;
  let lengthWritten = false;
  for (const h of msg.headerFields() as readonly HeaderLine[]) {
    if (h.key === 'content-length') {
      if (lengthWritten) continue;
      lengthWritten = true;
      head += h.raw !== undefined && trimWsp(h.value) === String(length) ? h.raw : `${h.name}: ${length}`;
    } else {
      head += h.raw ?? `${h.name}: ${h.value}`;
    }
    head += '\r\n';
  }
  if (!lengthWritten) head += `Content-Length: ${length}\r\n`;
  head += '\r\n';
  // A message that came in as non-UTF-8 goes out in the same 8-bit form, unless code added text
  // that latin1 cannot carry.
  // eslint-disable-next-line no-control-regex
  const encoding = msg.rawEncoding === 'latin1' && !/[^\x00-\xff]/.test(head) ? 'latin1' : 'utf8';
  const headLength = Buffer.byteLength(head, encoding);
  const out = Buffer.allocUnsafe(headLength + length);
  out.write(head, 0, encoding);
  msg.body.copy(out, headLength);
  return out;
}

/**
 * A request as a proxy sends it on (RFC 3261 §16.6), serialized without touching `req`: `via` on
 * top of the Vias, `recordRoutes` on top of the Record-Routes (at the very top when there are none),
 * Max-Forwards decremented (70 when the sender had none; the line stays where it was, or is
 * appended). One pass over the lines: editing the request and undoing it afterwards would splice
 * the line array six times and drop its parsed Vias.
 */
export function serializeForwarded(req: SipRequest, via: string, recordRoutes: readonly string[]): Buffer {
  const lines = req.headerFields() as readonly HeaderLine[];
  const viaLine = headerLine('Via', via);
  const routeLines = recordRoutes.map((value) => headerLine('Record-Route', value));
  const maxForwardsLine = headerLine('Max-Forwards', String(Math.max(0, (req.maxForwards() ?? 71) - 1)));
  const out: HeaderLine[] = [];
  let viaPlaced = !lines.some((h) => h.key === 'via');
  let routesPlaced = !lines.some((h) => h.key === 'record-route');
  if (viaPlaced) out.push(viaLine);
  if (routesPlaced) out.push(...routeLines);
  let maxForwardsPlaced = false;
  for (const line of lines) {
    if (line.key === 'via' && !viaPlaced) {
      out.push(viaLine);
      viaPlaced = true;
    } else if (line.key === 'record-route' && !routesPlaced) {
      out.push(...routeLines);
      routesPlaced = true;
    } else if (line.key === 'max-forwards') {
      if (!maxForwardsPlaced) out.push(maxForwardsLine);
      maxForwardsPlaced = true;
      continue;
    }
    out.push(line);
  }
  if (!maxForwardsPlaced) out.push(maxForwardsLine);
  const forwarded = new SipRequest(req.method, req.uri, out, req.body, req.version);
  forwarded.rawEncoding = req.rawEncoding;
  return serializeMessage(forwarded);
}
