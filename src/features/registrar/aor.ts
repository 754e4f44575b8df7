// Addresses-of-record: the key bindings are stored under. `user@domain` with use_domain, else the
// user alone (one domain, or users shared across domains, as OpenSIPS's usrloc does).
import { parseUri, type Uri } from '../../sip/index.js';

export interface Aor {
  /** The key in the location store. */
  key: string;
  username: string;
  /** Lower case (host names compare case-insensitively). */
  domain: string;
}

export function aorKey(username: string, domain: string, useDomain: boolean): string {
  return useDomain ? `${username}@${domain.toLowerCase()}` : username;
}

/** The AoR of a SIP or SIPS URI with a user part; its parameters and headers do not count. */
export function aorOfUri(uri: Uri, useDomain: boolean): Aor | undefined {
  if (uri.kind !== 'sip' || uri.user === undefined) return undefined;
  const domain = uri.host.toLowerCase();
  return { key: aorKey(uri.user, domain, useDomain), username: uri.user, domain };
}

/**
 * An AoR written by a script: a URI (`sip:alice@example.com`, a Request-URI), `alice@example.com`,
 * or `alice` (enough without use_domain).
 */
export function parseAor(text: string, useDomain: boolean): Aor | undefined {
  // Anything with a scheme is a URI; only SIP and SIPS ones have an AoR.
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(text)) {
    const uri = parseUri(text);
    return uri.ok ? aorOfUri(uri.value, useDomain) : undefined;
  }
  const at = text.lastIndexOf('@');
  if (at === -1)
    return useDomain || text.length === 0 ? undefined : { key: text, username: text, domain: '' };
  const username = text.slice(0, at);
  const domain = text.slice(at + 1).toLowerCase();
  if (username.length === 0 || domain.length === 0) return undefined;
  return { key: aorKey(username, domain, useDomain), username, domain };
}
