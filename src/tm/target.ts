// Where a relayed request goes: the destination the script named (`tls:host:port`, a SIP URI), or
// else the top Route (loose routing) or the Request-URI. Checked at once, so a script's mistake is
// an exception in the script; resolved per branch into targets tried in order (RFC 3263 §4.3: the
// next one after a transport failure), so a DNS failure ends only that branch.
import {
  parseDestination,
  locateTargets,
  toTarget,
  uriDestination,
  type Destination,
} from '../router/destination.js';
import type { SipResolver } from '../dns/index.js';
import type { SipRequest } from '../sip/index.js';
import type { SendTarget } from '../transport/types.js';

/** The script's choice of TLS client domain for a branch (OpenSIPS client_*_avp, Kamailio server_id). */
export interface TlsChoice {
  domain?: string;
  sipDomain?: string;
}

/** The targets of one branch, most preferred first; asked for the next after each transport failure. */
export interface TargetSource {
  /** The next target; undefined when there is none (left). Rejecting counts as a resolution failure. */
  next(): Promise<SendTarget | undefined>;
  /** Why resolution ended without (more) targets, when it failed. */
  readonly failure?: { readonly message: string } | undefined;
}

/**
 * Finds the targets of a branch: `destination` as the script gave it (undefined: top Route or
 * Request-URI), already checked to parse as `plan`. The DNS layer plugs in here.
 */
export type TargetLocator = (
  req: SipRequest,
  destination: string | undefined,
  plan: Destination,
  tls: TlsChoice,
) => TargetSource;

/** Throws with the reason when `destination` (or the request's own target) is not usable. */
export function planDestination(
  req: SipRequest,
  destination: string | undefined,
  tlsPort: number,
): Destination {
  if (destination !== undefined) {
    const parsed = parseDestination(destination, tlsPort);
    if (!parsed.ok) throw new Error(parsed.reason);
    return parsed.dest;
  }
  const routes = req.routes();
  if (!routes.ok) throw new Error(routes.error.reason);
  const route = routes.value[0];
  const parsed = uriDestination(route ? route.uri : req.requestUri, tlsPort);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.dest;
}

/** Without the DNS layer: the planned host, looked up with the system resolver; one target. */
export const systemLocator: TargetLocator = (_req, _destination, plan, tls) => {
  let given = false;
  return {
    async next() {
      if (given) return undefined;
      given = true;
      return { ...(await toTarget(plan)), tlsDomain: tls.domain, sipDomain: tls.sipDomain };
    },
  };
};

/** RFC 3263 per branch: the next target after each transport failure (see locateTargets). */
export function dnsLocator(resolver: SipResolver, tlsPort: number): TargetLocator {
  return (req, destination, _plan, tls) => locateTargets(resolver, req, destination, tlsPort, tls);
}
