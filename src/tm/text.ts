// Small text helpers of the transaction layer.

/** The message of whatever was thrown. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * A Warning header value (RFC 3261 §20.43) carrying why sipsd answered as it did; 399 is the
 * miscellaneous code, and the text must be a quoted-string (no quotes, backslashes or controls).
 */
export function warningValue(text: string): string {
  return `399 sipsd "${text.replace(/["\\\p{Cc}]/gu, "'")}"`;
}
