// host [":" port] as found in SIP URIs and Via sent-by: IPv4, [IPv6] or a host name.
import { isIPv6 } from 'node:net';
import { fail, ok, excerpt, type Result } from './errors.js';
import { parseDecimal, trimWsp } from './chars.js';

export type HostKind = 'ipv4' | 'ipv6' | 'name';

export interface HostPort {
  /** IPv6 addresses are stored without their brackets (see `formatHost`). */
  readonly host: string;
  readonly hostKind: HostKind;
  readonly port: number | undefined;
}

/**
 * The kind of a bare host (IPv6 without brackets), or undefined if it is none of them. Host names
 * are labels of letters, digits, `-` and `_` (illegal but common in the wild) joined by dots, with
 * an optional trailing dot; four all-digit labels must form a valid IPv4 address. A hand-written
 * scan: this runs for every Via and URI of every message.
 */
export function classifyHost(host: string): HostKind | undefined {
  if (host.includes(':')) return isIPv6(host) ? 'ipv6' : undefined;
  let labels = 0;
  let labelLength = 0;
  let numeric = true;
  let octet = 0;
  let validQuad = true;
  for (let i = 0; i < host.length; i++) {
    const code = host.charCodeAt(i);
    if (code === 46 /* . */) {
      if (labelLength === 0) return undefined;
      labels++;
      labelLength = 0;
      octet = 0;
      continue;
    }
    const digit = code >= 48 && code <= 57;
    const letter = (code | 0x20) >= 97 && (code | 0x20) <= 122;
    if (!digit && !letter && code !== 95 /* _ */ && !(code === 45 /* - */ && labelLength > 0))
      return undefined;
    if (digit) {
      octet = octet * 10 + code - 48;
      if (octet > 255 || labelLength >= 3) validQuad = false;
    } else {
      numeric = false;
    }
    labelLength++;
  }
  if (labelLength === 0 && labels === 0) return undefined;
  const trailingDot = labelLength === 0;
  if (numeric && labels === 3 && !trailingDot) return validQuad ? 'ipv4' : undefined;
  return 'name';
}

/** An IPv4 or IPv6 address, the latter with or without brackets (as in Via `received`). */
export function isIpAddress(text: string): boolean {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const kind = classifyHost(bare);
  return kind === 'ipv4' || kind === 'ipv6';
}

export function formatHost(host: string, kind: HostKind): string {
  return kind === 'ipv6' ? `[${host}]` : host;
}

export function formatHostPort(hp: HostPort): string {
  const host = formatHost(hp.host, hp.hostKind);
  return hp.port === undefined ? host : `${host}:${hp.port}`;
}

/** Parses `host`, `host:port`, `[v6]` or `[v6]:port`; whitespace around the colon is tolerated (Via). */
export function parseHostPort(text: string): Result<HostPort> {
  let host: string;
  let portText: string | undefined;
  let kind: HostKind | undefined;
  if (text.charCodeAt(0) === 91 /* [ */) {
    const close = text.indexOf(']');
    host = text.slice(1, close);
    if (close === -1 || !isIPv6(host)) return fail('bad-uri', `bad IPv6 reference ${excerpt(text)}`);
    kind = 'ipv6';
    const rest = trimWsp(text.slice(close + 1));
    if (rest.length > 0) {
      if (rest.charCodeAt(0) !== 58 /* : */)
        return fail('bad-uri', `junk after IPv6 reference ${excerpt(text)}`);
      portText = trimWsp(rest.slice(1));
    }
  } else {
    const colon = text.indexOf(':');
    host = trimWsp(colon === -1 ? text : text.slice(0, colon));
    if (colon !== -1) portText = trimWsp(text.slice(colon + 1));
    kind = classifyHost(host);
    if (kind === undefined || kind === 'ipv6') return fail('bad-uri', `bad host ${excerpt(host)}`);
  }
  if (portText === undefined) return ok({ host, hostKind: kind, port: undefined });
  const port = parseDecimal(portText, 65535);
  if (port < 0) return fail('bad-uri', `bad port ${excerpt(portText)}`);
  return ok({ host, hostKind: kind, port });
}
