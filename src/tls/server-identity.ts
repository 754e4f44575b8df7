// Is this certificate valid for the SIP domain we connected to? RFC 5922 §7: the identities are the
// subjectAltName DNS names and the host parts of `sip:` URIs without a user part; the subject CN
// only when the certificate has no subjectAltName at all. Comparison is case-insensitive and
// whole-name: RFC 5922 §7.2 forbids wildcard matching, so `*.example.com` matches nothing but
// itself. `sips:` URIs are accepted as well (RFC 5922 names only `sip:`): they name the same
// domain, and some CAs issue them. An IP address (a destination without a name) is matched against
// IP address entries only, as RFC 6125 and Node do.
import type { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';

export interface AltName {
  /** As Node prints it: `DNS`, `URI`, `IP Address`, `email`, ... */
  type: string;
  value: string;
}

/**
 * Splits Node's subjectAltName text (`DNS:a, IP Address:1.2.3.4, URI:sip:b`). Node JSON-quotes
 * values that contain a comma, quote or other special character, so a separator inside one of
 * those does not split it.
 */
export function parseAltNames(text: string | undefined): AltName[] {
  const names: AltName[] = [];
  let at = 0;
  while (text !== undefined && at < text.length) {
    const colon = text.indexOf(':', at);
    if (colon < 0) break;
    const type = text.slice(at, colon);
    let value: string;
    let next: number;
    if (text[colon + 1] === '"') {
      let end = colon + 2;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      value = JSON.parse(text.slice(colon + 1, end + 1)) as string;
      next = text.indexOf(', ', end);
    } else {
      next = text.indexOf(', ', colon);
      value = text.slice(colon + 1, next < 0 ? undefined : next);
    }
    names.push({ type, value });
    if (next < 0) break;
    at = next + 2;
  }
  return names;
}

/** Lower-case, without IPv6 brackets or a trailing dot; IPs in one canonical spelling. */
function normalizeHost(host: string): string {
  const h = host
    .trim()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '')
    .toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  if (mapped) return mapped[1]!;
  // The WHATWG URL parser compresses IPv6 addresses, so 0:0:0:0:0:0:0:1 and ::1 compare equal.
  return isIP(h) === 6 ? new URL(`http://[${h}]`).hostname.slice(1, -1) : h;
}

/** The host of a `sip:`/`sips:` URI without a user part; undefined for anything else. */
function sipUriHost(uri: string): string | undefined {
  const m = /^sips?:([^;?]*)$/i.exec(uri.trim());
  if (!m || m[1]!.includes('@')) return undefined;
  const hostport = m[1]!;
  const host = hostport.startsWith('[')
    ? hostport.slice(0, hostport.indexOf(']') + 1)
    : hostport.split(':')[0]!;
  return normalizeHost(host);
}

function commonNames(subject: string): string[] {
  return subject
    .split('\n')
    .filter((line) => line.startsWith('CN='))
    .map((line) => line.slice(3));
}

/** Whether `cert` identifies `host` (a SIP domain or host name, or an IP address). */
export function matchesSipIdentity(cert: X509Certificate, host: string): boolean {
  const target = normalizeHost(host);
  if (target === '') return false;
  const altNames = parseAltNames(cert.subjectAltName);
  if (isIP(target) !== 0) {
    return altNames.some((n) => n.type === 'IP Address' && normalizeHost(n.value) === target);
  }
  if (cert.subjectAltName === undefined) {
    return commonNames(cert.subject).some((cn) => normalizeHost(cn) === target);
  }
  return altNames.some(
    (n) =>
      (n.type === 'DNS' && normalizeHost(n.value) === target) ||
      (n.type === 'URI' && sipUriHost(n.value) === target),
  );
}
