// Record-Route (RFC 3261 §16.6 step 4, §16.12): sipsd asks to stay on the path of the dialog with
// loose-routing (`lr`) entries. When the request leaves by another transport or interface than it
// came in by (UDP in, TLS out), two entries are added, one per side, marked `r2=on` (RFC 5658), so
// that requests from either end reach sipsd on a socket that end can use.
import { hostPort } from '../../transport/listen-spec.js';
import type { LocalSocket } from './myself.js';

/** The URI of one Record-Route entry for a socket. */
export function recordRouteUri(socket: LocalSocket, double: boolean): string {
  // TLS keeps the sip: scheme with transport=tls, as OpenSIPS and Kamailio do: sips: would demand
  // TLS on every hop after us (RFC 5630), which we cannot promise.
  return `sip:${hostPort(socket.address, socket.port)};transport=${socket.proto};lr${double ? ';r2=on' : ''}`;
}

/**
 * The Record-Route values to put on top of the request, topmost first: the socket facing the next
 * hop comes first, since the far end's requests enter there.
 */
export function recordRouteValues(inbound: LocalSocket, outbound: LocalSocket | undefined): string[] {
  const changes =
    outbound !== undefined &&
    (outbound.proto !== inbound.proto ||
      outbound.address.toLowerCase() !== inbound.address.toLowerCase() ||
      outbound.port !== inbound.port);
  if (!changes) return [`<${recordRouteUri(inbound, false)}>`];
  return [`<${recordRouteUri(outbound, true)}>`, `<${recordRouteUri(inbound, true)}>`];
}
