// Loose routing on receipt (RFC 3261 §16.4, OpenSIPS/Kamailio loose_route()): our own entries are
// taken off the top of the Route set, both of a double Record-Route pair, and a Request-URI that a
// strict router left pointing at us is restored from the last Route.
import { formatNameAddr, type SipRequest } from '../../sip/index.js';
import type { Myself } from './myself.js';

export type LooseRouteResult =
  /** No Route header: route by the Request-URI (an initial request, usually). */
  | { routed: false }
  /** Route headers were present: the request follows them (or the restored Request-URI). */
  | { routed: true; removed: number; strictRouterFixed: boolean };

export function looseRoute(req: SipRequest, myself: Myself): LooseRouteResult {
  let removed = 0;
  let strictRouterFixed = false;
  // §16.4: a previous hop that strict-routes puts our Record-Route URI (with lr) in the
  // Request-URI and the real target in the last Route.
  const ruri = req.requestUri;
  if (ruri.kind === 'sip' && ruri.params.has('lr') && myself.isMyself(ruri)) {
    const last = lastRouteValue(req);
    if (last !== undefined) {
      req.uri = last.uri;
      removeLastRoute(req);
      strictRouterFixed = true;
    }
  }
  const hadRoutes = req.hasHeader('Route');
  for (let i = 0; i < 2; i++) {
    const top = topRoute(req);
    if (!top || top.uri.kind !== 'sip' || !myself.isMyself(top.uri)) break;
    req.removeFirstHeaderValue('Route');
    removed++;
    // Only the second entry of our own double Record-Route is taken off as well.
    if (!top.uri.params.has('r2')) break;
  }
  return hadRoutes || strictRouterFixed ? { routed: true, removed, strictRouterFixed } : { routed: false };
}

function topRoute(req: SipRequest) {
  const routes = req.routes();
  return routes.ok ? routes.value[0] : undefined;
}

function lastRouteValue(req: SipRequest): { uri: string } | undefined {
  const routes = req.routes();
  if (!routes.ok || routes.value.length === 0) return undefined;
  return { uri: routes.value[routes.value.length - 1]!.uriText };
}

/** Removes the last Route value, keeping the others as they were written. */
function removeLastRoute(req: SipRequest): void {
  const routes = req.routes();
  if (!routes.ok) return;
  const keep = routes.value.slice(0, -1);
  req.removeHeader('Route');
  for (const r of keep) req.addHeader('Route', formatNameAddr(r));
}
