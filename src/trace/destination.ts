// Where HEP packets go: `trace_destination`. The sipsd form is `[udp:|tcp:]host[:port]`; the OpenSIPS
// proto_hep `hep_id` form `[name]host:port;transport=tcp;version=3` is accepted too, so an imported
// value works.
import { isIP } from 'node:net';

export type CollectorTransport = 'udp' | 'tcp';

export interface TraceDestination {
  transport: CollectorTransport;
  /** An IP literal (no brackets) or a host name, resolved by the sender (sender.ts), again over time. */
  host: string;
  port: number;
}

/** The port HEP collectors (HOMER, heplify-server) listen on by default. */
export const HEP_PORT = 9060;

export type DestinationParse = { ok: true; destination: TraceDestination } | { ok: false; reason: string };

const EXAMPLE = 'expected [udp:|tcp:]host[:port], e.g. "udp:127.0.0.1:9060" or "tcp:homer.example.com:9061"';

export function parseTraceDestination(text: string): DestinationParse {
  const fail = (why: string): DestinationParse => ({
    ok: false,
    reason: `invalid trace_destination "${text}": ${why}`,
  });
  // A hep_id starts with its name in brackets, `[hep_dest]10.0.0.1:9060`: only the address matters here.
  const [address = '', ...params] = text
    .trim()
    .replace(/^\[[A-Za-z0-9_-]+\]\s*/, '')
    .split(';');
  let transport: CollectorTransport | undefined;
  for (const param of params) {
    const [name = '', value = ''] = param.split('=').map((s) => s.trim().toLowerCase());
    if (name === 'transport' && (value === 'udp' || value === 'tcp')) transport = value;
    else if (name === 'version' && value === '3') continue;
    else if (name === 'version') return fail(`only HEP version 3 is sent (got version=${value})`);
    else return fail(`unknown parameter "${param.trim()}" (transport=udp|tcp and version=3 are known)`);
  }
  const m = /^(?:(udp|tcp):)?(\[[^\]]+\]|[^:[\]\s]+)(?::(\d+))?$/i.exec(address.trim());
  if (!m) return fail(EXAMPLE);
  const scheme = m[1]?.toLowerCase() as CollectorTransport | undefined;
  if (scheme && transport && scheme !== transport) {
    return fail(`says ${scheme} before the address and transport=${transport} after it`);
  }
  const rawHost = m[2]!;
  const host = rawHost.startsWith('[') ? rawHost.slice(1, -1) : rawHost;
  if (rawHost.startsWith('[') && isIP(host) !== 6)
    return fail(`"${host}" in brackets is not an IPv6 address`);
  if (
    !rawHost.startsWith('[') &&
    isIP(host) === 0 &&
    !/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(host)
  ) {
    return fail(`"${host}" is neither an IP address nor a host name`);
  }
  const port = m[3] === undefined ? HEP_PORT : Number(m[3]);
  if (port < 1 || port > 65535) return fail(`port ${m[3]} is out of range 1-65535`);
  return { ok: true, destination: { transport: scheme ?? transport ?? 'udp', host, port } };
}

export function formatDestination(d: TraceDestination): string {
  return `${d.transport}:${isIP(d.host) === 6 ? `[${d.host}]` : d.host}:${d.port}`;
}
