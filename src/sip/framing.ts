// Cutting a TCP/TLS byte stream into SIP messages (RFC 3261 §18.3) and RFC 5626 CRLF keepalives.
import { parseError, type ParseErrorCode, type Result, type SipParseError } from './errors.js';
import { parseContentLength } from './cseq.js';
import { findBodyStart } from './header-end.js';
import type { SipLimits } from './limits.js';

export interface StreamFramerOptions {
  limits: SipLimits;
  /** Most reads (push calls) one message may span, counted from its first byte; 0 = unlimited. */
  maxChunks: number;
  /** Report a CRLFCRLF ping between messages, so the transport can answer the CRLF pong. */
  crlfPingPong: boolean;
  /** Discard lone CRLF keepalives silently instead of reporting them as `keepalive` events. */
  crlfDrop: boolean;
}

export type FrameEvent =
  /** `bodyStart`: where the body starts in `data`, for the parser (ParseOptions.bodyStart). */
  | { readonly type: 'message'; readonly data: Buffer; readonly bodyStart: number }
  | { readonly type: 'ping' }
  | { readonly type: 'keepalive' }
  | { readonly type: 'error'; readonly error: SipParseError };

const CR = 13;
const LF = 10;

/**
 * Incremental and pure: feed it reads, get events back. After an error it yields nothing more (the
 * transport closes the connection).
 *
 * Between messages, CR/LF bytes are keepalives, read with a rule that gives the same events however
 * the stream is split into reads: a CRLFCRLF is a ping only when its four bytes arrive before any
 * other byte; until then the framer waits (`\r\n` then `\r\n` in two reads is one ping). A CRLF that
 * turns out not to be followed by CRLF is a pong/keepalive, as is any other stray CR or LF (leading
 * whitespace, RFC 3261 §7.5): reported as a `keepalive` event, or dropped silently with `crlfDrop`.
 * Keepalives never count against `maxChunks`: phones that send a lone CRLF every few seconds must
 * not be disconnected for it. A message therefore never starts with CR or LF.
 *
 * A message ends Content-Length bytes after the first empty line (CRLFCRLF, or LFLF) following its
 * start line. Emitted data is a slice of the read when the message arrived whole (no copy), else of
 * a buffer allocated for that message alone; either way it is never written to again.
 */
export class StreamFramer {
  readonly #options: StreamFramerOptions;
  #failed = false;
  /** Number of the current push, to count reads per message. */
  #read = 0;
  /** Between messages: how much of `\r\n\r\n` has been seen (0-3), and the read that brought each byte. */
  #crlfSeen = 0;
  #crlfReads: number[] = [];
  /** Reads counted against the message being assembled (or the next one), and the last one counted. */
  #chunks = 0;
  #lastCountedRead = -1;
  /**
   * The message being assembled: its bytes so far, where to resume looking for the empty line, and
   * once that is found, where its body starts and its length.
   */
  #acc: Buffer | undefined;
  #accLength = 0;
  #scanFrom = 0;
  #bodyStart = -1;
  #total = -1;

  constructor(options: StreamFramerOptions) {
    this.#options = options;
  }

  /** True while a message has started but not completed (the transport's message timer runs). */
  get hasPartial(): boolean {
    return this.#acc !== undefined;
  }

  push(chunk: Buffer): FrameEvent[] {
    const events: FrameEvent[] = [];
    if (this.#failed || chunk.length === 0) return events;
    const read = ++this.#read;
    let offset = this.#acc ? this.#continueMessage(chunk, read, events) : 0;
    while (!this.#failed && offset < chunk.length) {
      offset = this.#skipKeepalives(chunk, offset, read, events);
      if (!this.#failed && offset < chunk.length) offset = this.#startMessage(chunk, offset, read, events);
    }
    return events;
  }

  /** Consumes CR/LF keepalive bytes; returns the offset of the first byte of a message, or the chunk end. */
  #skipKeepalives(chunk: Buffer, offset: number, read: number, events: FrameEvent[]): number {
    for (; offset < chunk.length && !this.#failed; offset++) {
      const byte = chunk[offset];
      const expected = this.#crlfSeen % 2 === 0 ? CR : LF;
      if (byte === expected) {
        this.#crlfReads.push(read);
        if (++this.#crlfSeen === 4) {
          if (this.#options.crlfPingPong) events.push({ type: 'ping' });
          this.#crlfSeen = 0;
          this.#crlfReads = [];
        }
        continue;
      }
      if (this.#crlfSeen === 0 && byte !== CR && byte !== LF) return offset;
      // The sequence broke: its leading CRLF (or lone CR) is keepalive whitespace, and the rest is
      // looked at again with the current byte (a held third CR may start a new sequence).
      const settled = this.#crlfSeen >= 2 ? 2 : this.#crlfSeen;
      this.#whitespace(this.#crlfReads.slice(0, settled), events);
      this.#crlfReads = this.#crlfReads.slice(settled);
      this.#crlfSeen -= settled;
      if (this.#crlfSeen === 0 && byte === LF) this.#whitespace([read], events);
      else offset--;
    }
    return offset;
  }

  /** Keepalive bytes that are not a ping: one event per settled CRLF (or stray CR/LF). */
  #whitespace(reads: number[], events: FrameEvent[]): void {
    if (!this.#options.crlfDrop && reads.length > 0) events.push({ type: 'keepalive' });
  }

  /** A message starts at `offset`: emits it if the chunk holds all of it, else starts buffering. */
  #startMessage(chunk: Buffer, offset: number, read: number, events: FrameEvent[]): number {
    if (!this.#countRead(read, events)) return chunk.length;
    const { maxMessageSize } = this.#options.limits;
    const bodyStart = findBodyStart(chunk, offset, chunk.length);
    if (bodyStart === -1) {
      if (chunk.length - offset >= maxMessageSize) {
        this.#fail(events, 'too-large', headerTooLarge(maxMessageSize));
        return chunk.length;
      }
      this.#begin(chunk.subarray(offset), -1, -1);
      return chunk.length;
    }
    const total = this.#messageLength(chunk, offset, bodyStart, events);
    if (total < 0) return chunk.length;
    if (offset + total <= chunk.length) {
      this.#emit(chunk.subarray(offset, offset + total), bodyStart - offset, events);
      return offset + total;
    }
    this.#begin(chunk.subarray(offset), bodyStart - offset, total);
    return chunk.length;
  }

  /** Adds a read to the buffered message; returns the offset in `chunk` where the next message starts. */
  #continueMessage(chunk: Buffer, read: number, events: FrameEvent[]): number {
    if (!this.#countRead(read, events)) return chunk.length;
    const { maxMessageSize } = this.#options.limits;
    const before = this.#accLength;
    if (this.#total < 0) {
      // Never buffer past the limit: a header block that big is an error anyway.
      this.#append(chunk, 0, Math.min(chunk.length, maxMessageSize - before));
      const acc = this.#acc as Buffer;
      const bodyStart = findBodyStart(acc, this.#scanFrom, this.#accLength);
      if (bodyStart === -1) {
        if (this.#accLength >= maxMessageSize) {
          this.#fail(events, 'too-large', headerTooLarge(maxMessageSize));
          return chunk.length;
        }
        this.#scanFrom = Math.max(0, this.#accLength - 2);
        return chunk.length;
      }
      this.#bodyStart = bodyStart;
      this.#total = this.#messageLength(acc, 0, bodyStart, events);
      if (this.#total < 0) return chunk.length;
    }
    const taken = this.#accLength - before;
    if (this.#accLength < this.#total) {
      this.#append(chunk, taken, Math.min(chunk.length, taken + this.#total - this.#accLength));
    }
    if (this.#accLength < this.#total) return chunk.length;
    const total = this.#total;
    this.#emit((this.#acc as Buffer).subarray(0, total), this.#bodyStart, events);
    return total - before;
  }

  /** Header block + Content-Length, checked against the limit; -1 after reporting an error. */
  #messageLength(buf: Buffer, start: number, bodyStart: number, events: FrameEvent[]): number {
    const { maxMessageSize } = this.#options.limits;
    if (bodyStart - start > maxMessageSize) {
      this.#fail(events, 'too-large', headerTooLarge(maxMessageSize));
      return -1;
    }
    const length = findContentLength(buf, start, bodyStart);
    if (!length.ok) {
      this.#fail(events, length.error.code, length.error.reason);
      return -1;
    }
    const total = bodyStart - start + length.value;
    if (total > maxMessageSize) {
      this.#fail(
        events,
        'too-large',
        `message of ${total} bytes (Content-Length ${length.value}) exceeds the limit of ${maxMessageSize}`,
      );
      return -1;
    }
    return total;
  }

  #begin(data: Buffer, bodyStart: number, total: number): void {
    const { maxMessageSize } = this.#options.limits;
    const capacity = total >= 0 ? total : Math.min(maxMessageSize, Math.max(2048, data.length * 2));
    this.#acc = Buffer.allocUnsafe(capacity);
    data.copy(this.#acc);
    this.#accLength = data.length;
    this.#scanFrom = Math.max(0, data.length - 2);
    this.#bodyStart = bodyStart;
    this.#total = total;
  }

  #append(chunk: Buffer, from: number, to: number): void {
    let acc = this.#acc as Buffer;
    const needed = this.#accLength + to - from;
    if (needed > acc.length) {
      const target =
        this.#total >= 0 ? this.#total : Math.min(this.#options.limits.maxMessageSize, 2 * acc.length);
      const grown = Buffer.allocUnsafe(Math.max(needed, target));
      acc.copy(grown, 0, 0, this.#accLength);
      acc = this.#acc = grown;
    }
    chunk.copy(acc, this.#accLength, from, to);
    this.#accLength = needed;
  }

  #emit(data: Buffer, bodyStart: number, events: FrameEvent[]): void {
    events.push({ type: 'message', data, bodyStart });
    this.#acc = undefined;
    this.#accLength = 0;
    this.#bodyStart = -1;
    this.#total = -1;
    this.#chunks = 0;
    this.#lastCountedRead = -1;
  }

  /** Counts a read against the current message; false (after reporting) when over `maxChunks`. */
  #countRead(read: number, events: FrameEvent[]): boolean {
    if (read === this.#lastCountedRead) return true;
    this.#lastCountedRead = read;
    const { maxChunks } = this.#options;
    if (maxChunks > 0 && ++this.#chunks > maxChunks) {
      this.#fail(events, 'too-many-chunks', `message not complete after ${maxChunks} reads`);
      return false;
    }
    return true;
  }

  /** Reports the error and stops for good. */
  #fail(events: FrameEvent[], code: ParseErrorCode, reason: string): void {
    this.#failed = true;
    this.#acc = undefined;
    events.push({ type: 'error', error: parseError(code, reason) });
  }
}

function headerTooLarge(limit: number): string {
  return `header block larger than the limit of ${limit} bytes`;
}

/** `content-length` in lower case, for comparing header names byte by byte. */
const CONTENT_LENGTH = Buffer.from('content-length', 'latin1');

/**
 * The single, well-formed Content-Length of the header block `buf[start, end)`: a line (not the
 * start line) named `Content-Length` or `l`, any case, with any folded continuation of its value.
 * A byte scan, not a regular expression over decoded text: it runs for every message of every
 * stream, and only the one line's value is ever decoded.
 */
function findContentLength(buf: Buffer, start: number, end: number): Result<number> {
  let value: string | undefined;
  // indexOf per line rather than a byte loop: about half the time on typical lines of 20-80 bytes.
  for (let lf = buf.indexOf(LF, start); lf !== -1 && lf < end; lf = buf.indexOf(LF, lf + 1)) {
    const colon = contentLengthColon(buf, lf + 1, end);
    if (colon === -1) continue;
    if (value !== undefined)
      return { ok: false, error: parseError('duplicate-header', 'more than one Content-Length header') };
    // The value runs to the end of the line and over continuation lines (starting with SP or HT).
    let valueEnd = buf.indexOf(LF, colon);
    while (valueEnd !== -1 && valueEnd + 1 < end && isSpaceOrTab(buf[valueEnd + 1])) {
      valueEnd = buf.indexOf(LF, valueEnd + 1);
    }
    if (valueEnd === -1 || valueEnd > end) valueEnd = end;
    value = buf.toString('latin1', colon + 1, valueEnd);
    lf = valueEnd - 1;
  }
  if (value === undefined) {
    return {
      ok: false,
      error: parseError('missing-content-length', 'no Content-Length in a stream message'),
    };
  }
  return parseContentLength(value);
}

/** Where the colon is when the line at `pos` is named `Content-Length` or `l` (SP/HT before it allowed); else -1. */
function contentLengthColon(buf: Buffer, pos: number, end: number): number {
  const first = (buf[pos] ?? 0) | 0x20;
  let at: number;
  if (first === 0x6c /* l */) at = pos + 1;
  else if (first === 0x63 /* c */ && matchesLowerCase(buf, pos, end, CONTENT_LENGTH))
    at = pos + CONTENT_LENGTH.length;
  else return -1;
  while (at < end && isSpaceOrTab(buf[at])) at++;
  return at < end && buf[at] === 0x3a /* : */ ? at : -1;
}

/** `buf[pos...]` equals the lower-case ASCII `word`, letters compared case-insensitively. */
function matchesLowerCase(buf: Buffer, pos: number, end: number, word: Buffer): boolean {
  if (pos + word.length > end) return false;
  for (let i = 0; i < word.length; i++) {
    const expected = word[i] as number;
    const byte = buf[pos + i] as number;
    // Only letters may differ by case (0x20): '-' must match exactly.
    if (byte !== expected && !(expected >= 0x61 && (byte | 0x20) === expected)) return false;
  }
  return true;
}

function isSpaceOrTab(byte: number | undefined): boolean {
  return byte === 32 || byte === 9;
}
