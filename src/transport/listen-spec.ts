// `listen` entries in the OpenSIPS form proto:ip:port (`udp:127.0.0.1:5060`, `tls:[::1]:5061`, `tcp:0.0.0.0`).
import { isIP } from 'node:net';

export type Proto = 'udp' | 'tcp' | 'tls';
export const PROTOS: readonly Proto[] = ['udp', 'tcp', 'tls'];

export interface ListenSpec {
  proto: Proto;
  /** A literal IPv4 or IPv6 address (no brackets). */
  host: string;
  port: number;
}

export const SIP_PORT = 5060;

export type ListenParse = { ok: true; spec: ListenSpec } | { ok: false; reason: string };

const EXAMPLE = 'expected proto:ip[:port], e.g. "udp:127.0.0.1:5060" or "tls:[::1]:5061"';

/** Parses one listen entry; the port defaults to 5060, or to `tlsPort` for TLS. */
export function parseListen(entry: string, tlsPort: number): ListenParse {
  const m = /^(udp|tcp|tls):(\[[^\]]+\]|[^:[\]]+)(?::(\d+))?$/i.exec(entry.trim());
  if (!m) return { ok: false, reason: `invalid listen entry "${entry}": ${EXAMPLE}` };
  const proto = m[1]!.toLowerCase() as Proto;
  const rawHost = m[2]!;
  const host = rawHost.startsWith('[') ? rawHost.slice(1, -1) : rawHost;
  const family = isIP(host);
  if (family === 0) {
    return { ok: false, reason: `invalid listen entry "${entry}": "${host}" is not an IP address` };
  }
  if (family === 6 && !rawHost.startsWith('[')) {
    return {
      ok: false,
      reason: `invalid listen entry "${entry}": write IPv6 addresses in brackets, e.g. [${host}]`,
    };
  }
  const port = m[3] === undefined ? (proto === 'tls' ? tlsPort : SIP_PORT) : Number(m[3]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    return { ok: false, reason: `invalid listen entry "${entry}": port ${m[3]} is out of range 0-65535` };
  }
  return { ok: true, spec: { proto, host, port } };
}

/** `host:port` with brackets around IPv6, as used in logs, Via headers and keys. */
export function hostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

export function formatListen(spec: ListenSpec): string {
  return `${spec.proto}:${hostPort(spec.host, spec.port)}`;
}
