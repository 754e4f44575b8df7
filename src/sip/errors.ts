// Parse errors as typed values: the SIP layer never throws on bad input, it returns one of these.

export type ParseErrorCode =
  | 'empty'
  | 'bad-start-line'
  | 'bad-version'
  | 'bad-header'
  | 'missing-header'
  | 'duplicate-header'
  | 'too-large'
  | 'too-many-headers'
  | 'too-many-chunks'
  | 'line-too-long'
  | 'bad-content-length'
  | 'missing-content-length'
  | 'truncated'
  | 'bad-uri'
  | 'bad-name-addr'
  | 'bad-from'
  | 'bad-to'
  | 'bad-via'
  | 'bad-cseq'
  | 'bad-call-id'
  | 'bad-max-forwards'
  | 'bad-contact'
  | 'bad-route'
  | 'bad-params'
  | 'internal-error';

export interface SipParseError {
  readonly code: ParseErrorCode;
  /** Human-readable and precise: which header or field, and what is wrong with it. */
  readonly reason: string;
}

/** The result style used by every parser in this folder. */
export type Result<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: SipParseError };

export function parseError(code: ParseErrorCode, reason: string): SipParseError {
  return { code, reason };
}

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

export function fail<T = never>(code: ParseErrorCode, reason: string): Result<T> {
  return { ok: false, error: { code, reason } };
}

/** Re-labels a nested failure (e.g. a bad URI inside From) with the code of the enclosing field. */
export function wrapError<T>(code: ParseErrorCode, context: string, error: SipParseError): Result<T> {
  return { ok: false, error: { code, reason: `${context}: ${error.reason}` } };
}

/**
 * Thrown only by the message accessors of validated headers (`from()`, `topVia()`...) when code has
 * replaced such a header with garbage; a message returned by `parseMessage` never triggers it.
 */
export class SipHeaderError extends Error {
  constructor(readonly error: SipParseError) {
    super(error.reason);
    this.name = 'SipHeaderError';
  }
}

/** A short, printable excerpt of untrusted input for error reasons (they may be echoed in a 400). */
export function excerpt(text: string, max = 40): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\x00-\x1f\x7f]/g, '?');
  return JSON.stringify(clean.length > max ? `${clean.slice(0, max)}...` : clean);
}
