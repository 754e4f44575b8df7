// URI equivalence (RFC 3261 §19.1.4), which decides whether a Contact refreshes a binding or adds
// one: user and password compare exactly, the host without case, the port only if both or neither
// give it, and parameters by the RFC's rules (user, ttl, method, maddr and transport must match
// when either side has them; others only when both do).
import { parseUri, type Params, type Uri } from '../../sip/index.js';

const SIGNIFICANT = ['user', 'ttl', 'method', 'maddr', 'transport'];

function sameParams(a: Params, b: Params): boolean {
  for (const name of SIGNIFICANT) if (a.has(name) !== b.has(name)) return false;
  for (const { name, value } of a) {
    if (!b.has(name)) continue;
    const other = b.get(name);
    if (value === null || other === null || other === undefined) {
      if (value !== other) return false;
    } else if (value.toLowerCase() !== other.toLowerCase()) return false;
  }
  return true;
}

function sameHeaders(a: Params, b: Params): boolean {
  if (a.size !== b.size) return false;
  for (const { name, value } of a) if (b.get(name) !== value) return false;
  return true;
}

export function sameParsedUri(a: Uri, b: Uri): boolean {
  if (a.kind === 'sip' && b.kind === 'sip') {
    return (
      a.scheme === b.scheme &&
      a.user === b.user &&
      a.password === b.password &&
      a.host.toLowerCase() === b.host.toLowerCase() &&
      a.port === b.port &&
      sameParams(a.params, b.params) &&
      sameHeaders(a.headers, b.headers)
    );
  }
  if (a.kind === 'tel' && b.kind === 'tel') {
    // RFC 3966 §4: visual separators do not count.
    const digits = (n: string) => n.replace(/[-.()]/g, '').toLowerCase();
    return digits(a.number) === digits(b.number) && sameParams(a.params, b.params);
  }
  if (a.kind === 'other' && b.kind === 'other') return a.scheme === b.scheme && a.opaque === b.opaque;
  return false;
}

/** Equivalence of two URIs as text; text that does not parse is only equal to itself. */
export function sameUri(a: string, b: string): boolean {
  if (a === b) return true;
  const x = parseUri(a);
  const y = parseUri(b);
  return x.ok && y.ok && sameParsedUri(x.value, y.value);
}
