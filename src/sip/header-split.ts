// Splitting comma-separated header values (RFC 3261 §7.3.1) without breaking quoted strings or <URIs>.
import { trimWsp } from './chars.js';

/**
 * Headers whose grammar is a comma-separated list, so that `A: x, y` equals `A: x` + `A: y`.
 * Deliberately absent: the auth challenge/credential headers (one value holding comma-separated
 * auth-params), Date (its value contains a comma), and every header this table does not know.
 */
const MULTI_VALUED = new Set([
  'accept',
  'accept-contact',
  'accept-encoding',
  'accept-language',
  'alert-info',
  'allow',
  'allow-events',
  'call-info',
  'contact',
  'content-encoding',
  'content-language',
  'error-info',
  'history-info',
  'in-reply-to',
  'p-asserted-identity',
  'p-preferred-identity',
  'path',
  'proxy-require',
  'reason',
  'record-route',
  'reject-contact',
  'request-disposition',
  'require',
  'route',
  'security-client',
  'security-server',
  'security-verify',
  'service-route',
  'supported',
  'unsupported',
  'via',
  'warning',
]);

/** Whether the header with this key (see `headerKey`) is a comma-separated list. */
export function isMultiValuedHeader(key: string): boolean {
  return MULTI_VALUED.has(key);
}

/**
 * Index of the first comma at or after `from` that separates two values, i.e. one outside a
 * quoted-string (with `\` escapes) and outside `<...>`; -1 if there is none. An unterminated quote
 * or bracket swallows the rest of the value, so garbage never yields a spurious split.
 */
export function findValueSeparator(value: string, from = 0): number {
  for (let i = from; i < value.length; i++) {
    switch (value.charCodeAt(i)) {
      case 44 /* , */:
        return i;
      case 34 /* " */:
        for (i++; i < value.length; i++) {
          const code = value.charCodeAt(i);
          if (code === 92 /* \ */) i++;
          else if (code === 34) break;
        }
        break;
      case 60 /* < */: {
        const close = value.indexOf('>', i + 1);
        if (close === -1) return -1;
        i = close;
        break;
      }
    }
  }
  return -1;
}

/** The values of a list header, trimmed; empty elements (`a,,b`) are dropped. */
export function splitHeaderValues(value: string): string[] {
  const values: string[] = [];
  let start = 0;
  for (;;) {
    const comma = findValueSeparator(value, start);
    const part = trimWsp(comma === -1 ? value.slice(start) : value.slice(start, comma));
    if (part.length > 0) values.push(part);
    if (comma === -1) return values;
    start = comma + 1;
  }
}
