// Where a forwarded message goes: an explicit `proto:host[:port]`, or a SIP/SIPS URI (Request-URI or
// a Route), turned into a transport target. Host names are resolved with the system resolver here;
// RFC 3263 NAPTR/SRV selection replaces that step in the DNS layer.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { parseUri, type SipRequest, type SipUri, type Uri } from '../sip/index.js';
import { targetSpecOf, type SipResolver, type TargetSpec } from '../dns/index.js';
import { SIP_PORT, type Proto } from '../transport/listen-spec.js';
import type { SendTarget } from '../transport/types.js';

export interface Destination {
  proto: Proto;
  host: string;
  port: number;
  /** The host as written (a name stays the SNI / identity to check for TLS). */
  serverName?: string;
  /** The port was written out (RFC 3263: no SRV lookup then), not a default. */
  explicitPort?: boolean;
}

export type DestinationParse =
  /** `uri` when the text was a SIP URI, for RFC 3263 resolution of that URI. */
  { ok: true; dest: Destination; uri?: SipUri } | { ok: false; reason: string };

const EXPLICIT = /^(udp|tcp|tls):(\[[^\]]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i;

/**
 * Explicit destinations already parsed, by text: scripts name them in constants (`tcp:10.0.0.5:5060`),
 * and each relay reads one twice. Frozen, since every caller shares them; bounded, for scripts that
 * build destinations from message content.
 */
const explicitParsed = new Map<string, { tlsPort: number; parse: DestinationParse }>();
const MAX_EXPLICIT_PARSED = 1024;

export function parseDestination(text: string, tlsPort: number): DestinationParse {
  const hit = explicitParsed.get(text);
  if (hit !== undefined && hit.tlsPort === tlsPort) return hit.parse;
  const parse = parseDestinationText(text, tlsPort);
  // Only the explicit form: a parse with a SIP URI holds a mutable Uri the resolver reads.
  if (parse.ok && parse.uri === undefined) {
    if (explicitParsed.size >= MAX_EXPLICIT_PARSED) explicitParsed.clear();
    Object.freeze(parse.dest);
    explicitParsed.set(text, { tlsPort, parse: Object.freeze(parse) });
  }
  return parse;
}

function parseDestinationText(text: string, tlsPort: number): DestinationParse {
  const m = EXPLICIT.exec(text.trim());
  if (m) {
    const proto = m[1]!.toLowerCase() as Proto;
    const host = m[2]!.replace(/^\[|\]$/g, '');
    const port = m[3] ? Number(m[3]) : proto === 'tls' ? tlsPort : SIP_PORT;
    if (port < 1 || port > 65535) return { ok: false, reason: `port out of range in "${text}"` };
    const serverName = isIP(host) ? undefined : host;
    return { ok: true, dest: { proto, host, port, serverName, explicitPort: m[3] !== undefined } };
  }
  const uri = parseUri(text.trim());
  if (!uri.ok)
    return { ok: false, reason: `"${text}" is neither proto:host:port nor a SIP URI (${uri.error.reason})` };
  const parsed = uriDestination(uri.value, tlsPort);
  return parsed.ok && uri.value.kind === 'sip' ? { ...parsed, uri: uri.value } : parsed;
}

/** RFC 3261 §19.1 defaults: sips: or transport=tls → TLS; transport=tcp → TCP; else UDP. */
export function uriDestination(uri: Uri, tlsPort: number): DestinationParse {
  if (uri.kind !== 'sip') return { ok: false, reason: `a ${uri.scheme}: URI has no host to forward to` };
  const transport = uri.params.get('transport')?.toLowerCase() ?? undefined;
  const proto: Proto =
    uri.scheme === 'sips' || transport === 'tls' ? 'tls' : transport === 'tcp' ? 'tcp' : 'udp';
  if (transport && !['udp', 'tcp', 'tls'].includes(transport)) {
    return { ok: false, reason: `transport=${transport} is not supported (udp, tcp, tls)` };
  }
  const maddr = uri.params.get('maddr');
  const host = maddr ?? uri.host;
  const port = uri.port ?? (proto === 'tls' ? tlsPort : SIP_PORT);
  return { ok: true, dest: { proto, host, port, serverName: isIP(host) ? undefined : host } };
}

/** Resolves a host name to an address (literal addresses pass through). */
export async function toTarget(dest: Destination): Promise<SendTarget> {
  const address = isIP(dest.host) ? dest.host : (await lookup(dest.host)).address;
  return { proto: dest.proto, address, port: dest.port, serverName: dest.serverName };
}

/**
 * What RFC 3263 resolves for a forwarded request: an explicit `proto:host[:port]` (its port, when
 * given, skips SRV) or SIP URI, else the top Route (loose routing) or the Request-URI.
 */
export function resolutionInput(
  req: SipRequest,
  dest: string | undefined,
  tlsPort: number,
): SipUri | TargetSpec {
  if (dest !== undefined) {
    const parsed = parseDestination(dest, tlsPort);
    if (!parsed.ok) throw new Error(parsed.reason);
    if (parsed.uri) return parsed.uri;
    const { proto, host, explicitPort, port } = parsed.dest;
    return { host, transport: proto, ...(explicitPort && { port }) };
  }
  const routes = req.routes();
  if (!routes.ok) throw new Error(routes.error.reason);
  const uri = routes.value[0]?.uri ?? req.requestUri;
  if (uri.kind !== 'sip') throw new Error(`a ${uri.scheme}: URI has no host to forward to`);
  return uri;
}

/**
 * The targets to send a forwarded request to, by RFC 3263, most preferred first; ask for the next
 * after each transport failure. Without a SIP domain from the script, client domains match the
 * destination's domain (the URI host), which is what match_sip_domain is written for.
 */
export function locateTargets(
  resolver: SipResolver,
  req: SipRequest,
  dest: string | undefined,
  tlsPort: number,
  tls: { domain?: string; sipDomain?: string },
): { next(): Promise<SendTarget | undefined>; readonly failure: { message: string } | undefined } {
  const input = resolutionInput(req, dest, tlsPort);
  const only = numericTarget(input, tls);
  if (only) {
    // What the resolver gives for an address with its transport and port: that target alone,
    // without its iterator machinery and lookups per request.
    let given = false;
    return {
      next: () => {
        const target = given ? undefined : only;
        given = true;
        return Promise.resolve(target);
      },
      failure: undefined,
    };
  }
  const targets = resolver.targets(input);
  return {
    async next() {
      const t = await targets.next();
      if (!t) return undefined;
      // Only what the transport reads: copying the resolver's whole target costs more than the rest.
      const target: SendTarget = {
        proto: t.proto,
        address: t.address,
        port: t.port,
        serverName: t.serverName,
        tlsDomain: tls.domain,
        sipDomain: tls.sipDomain ?? t.serverName,
      };
      return target;
    },
    get failure() {
      return targets.failure;
    },
  };
}

/**
 * RFC 3263 §4.1/§4.2: an IP address with a transport and a port is its own only target; undefined
 * when a lookup or a default is involved (left to the resolver).
 */
function numericTarget(
  input: SipUri | TargetSpec,
  tls: { domain?: string; sipDomain?: string },
): SendTarget | undefined {
  const spec = 'kind' in input ? targetSpecOf(input) : input;
  if ('kind' in spec || spec.transport === undefined || spec.port === undefined) return undefined;
  if (isIP(spec.host) === 0) return undefined;
  return {
    proto: spec.transport,
    address: spec.host.toLowerCase(),
    port: spec.port,
    serverName: undefined,
    tlsDomain: tls.domain,
    sipDomain: tls.sipDomain,
  };
}
