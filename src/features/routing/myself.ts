// "Is this URI or host one of ours?" (OpenSIPS/Kamailio myself, is_myself()): the addresses and
// ports sipsd listens on, plus the aliases the operator declares (`alias`, as in both anchors).
// Used by loose routing to recognise our own Route entries and by scripts to tell local requests
// from those to relay.
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Uri } from '../../sip/index.js';
import { SIP_PORT } from '../../transport/listen-spec.js';

export interface LocalSocket {
  proto: 'udp' | 'tcp' | 'tls';
  address: string;
  port: number;
}

export interface Alias {
  /** Lower-case host name or address. */
  host: string;
  /** undefined: any port. */
  port: number | undefined;
}

/** Parses `host[:port]` (IPv6 in brackets); throws with the reason. */
export function parseAlias(text: string): Alias {
  const m = /^(\[[^\]]+\]|[^:[\]\s]+)(?::(\d{1,5}))?$/.exec(text.trim());
  if (!m) throw new Error(`alias "${text}": expected host or host:port (IPv6 in brackets)`);
  const port = m[2] === undefined ? undefined : Number(m[2]);
  if (port !== undefined && (port < 1 || port > 65535)) throw new Error(`alias "${text}": port out of range`);
  return { host: normalizeHost(m[1]!), port };
}

/** Without the brackets of an IPv6 reference, in lower case. A loop, not a regular expression: it runs per message. */
function normalizeHost(h: string): string {
  const start = h.charCodeAt(0) === 91 /* [ */ ? 1 : 0;
  const end = h.length > start && h.charCodeAt(h.length - 1) === 93 /* ] */ ? h.length - 1 : h.length;
  return (start === 0 && end === h.length ? h : h.slice(start, end)).toLowerCase();
}
const isWildcard = (a: string) => a === '0.0.0.0' || a === '::';

export class Myself {
  /** Addresses of this host's interfaces: what a wildcard listener (0.0.0.0, ::) answers on. */
  private readonly hostAddresses: ReadonlySet<string>;
  /** The sockets' addresses, normalised once. */
  private readonly socketHosts: readonly string[];

  constructor(
    private readonly sockets: readonly LocalSocket[],
    private readonly aliases: readonly Alias[] = [],
    private readonly tlsPort = 5061,
  ) {
    this.socketHosts = sockets.map((s) => normalizeHost(s.address));
    this.hostAddresses = new Set(
      Object.values(networkInterfaces())
        .flat()
        .map((i) => i?.address.toLowerCase())
        .filter((a): a is string => a !== undefined),
    );
  }

  /** A host (and port, defaulting by transport) that names this server. */
  isMyselfHost(host: string, port: number | undefined, secure = false): boolean {
    const h = normalizeHost(host);
    const effectivePort = port ?? (secure ? this.tlsPort : SIP_PORT);
    for (const a of this.aliases)
      if (a.host === h && (a.port === undefined || a.port === effectivePort)) return true;
    for (let i = 0; i < this.sockets.length; i++) {
      const s = this.sockets[i]!;
      if (s.port !== effectivePort) continue;
      if (this.socketHosts[i] === h) return true;
      if (isWildcard(s.address) && isIP(h) !== 0 && this.hostAddresses.has(h)) return true;
    }
    return false;
  }

  /** A SIP/SIPS URI whose host and port name this server (TEL and other URIs never do). */
  isMyself(uri: Uri): boolean {
    if (uri.kind !== 'sip') return false;
    const transport = uri.params.get('transport')?.toLowerCase();
    return this.isMyselfHost(uri.host, uri.port, uri.scheme === 'sips' || transport === 'tls');
  }
}
