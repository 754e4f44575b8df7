// TLS protocol ranges from the names operators write: OpenSIPS `SSLv23`, `TLSv1_2`, ranges
// `TLSv1-TLSv1_3`, `TLSv1_2-`, `-TLSv1_2`; Kamailio `TLSv1.2`, `TLSv1.2+`. Case-insensitive.
import type { SecureVersion } from 'node:tls';

export interface TlsMethod {
  min: SecureVersion;
  max: SecureVersion;
  /** Versions below TLS 1.2 were asked for explicitly (they need OpenSSL security level 0). */
  legacy: boolean;
  /** As written, for tls_list. */
  text: string;
}

export type MethodParse = { ok: true; method: TlsMethod; warning?: string } | { ok: false; reason: string };

const ORDER: SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** One version name in either spelling; SSLv23 is handled by the caller. */
function version(name: string): SecureVersion | undefined {
  const n = name.trim().toLowerCase().replace(/_/g, '.');
  const map: Record<string, SecureVersion> = {
    tlsv1: 'TLSv1',
    'tlsv1.0': 'TLSv1',
    'tlsv1.1': 'TLSv1.1',
    'tlsv1.2': 'TLSv1.2',
    'tlsv1.3': 'TLSv1.3',
  };
  return map[n];
}

const HELP = 'use SSLv23, TLSv1_2, TLSv1_3, a range such as TLSv1_2-TLSv1_3 or TLSv1_2-, or TLSv1.2+';

/**
 * SSLv23 ("any") means TLS 1.2 and 1.3 here: older versions are only enabled when named, and then
 * with a warning, since RFC 8996 deprecates them.
 */
export function parseTlsMethod(text: string): MethodParse {
  const t = text.trim();
  const lower = t.toLowerCase();
  let min: SecureVersion | undefined;
  let max: SecureVersion | undefined;
  if (lower === 'sslv23' || lower === 'any' || lower === '') {
    min = 'TLSv1.2';
    max = 'TLSv1.3';
  } else if (lower === 'sslv2' || lower === 'sslv3') {
    return { ok: false, reason: `${t} is not supported by OpenSSL 3 (insecure); ${HELP}` };
  } else if (lower.endsWith('+')) {
    min = version(t.slice(0, -1));
    max = 'TLSv1.3';
  } else if (t.includes('-')) {
    const [from, to] = t.split('-', 2) as [string, string];
    min = from.trim() === '' ? 'TLSv1' : version(from);
    max = to.trim() === '' ? 'TLSv1.3' : version(to);
  } else {
    min = max = version(t);
  }
  if (!min || !max) return { ok: false, reason: `unknown TLS method "${t}"; ${HELP}` };
  if (ORDER.indexOf(min) > ORDER.indexOf(max))
    return { ok: false, reason: `TLS method range "${t}" is empty (${min} is above ${max})` };
  const legacy = ORDER.indexOf(min) < ORDER.indexOf('TLSv1.2');
  return {
    ok: true,
    method: { min, max, legacy, text: t || 'SSLv23' },
    ...(legacy
      ? { warning: `TLS method "${t}" enables ${min}, deprecated by RFC 8996; prefer TLSv1_2 or newer` }
      : {}),
  };
}
