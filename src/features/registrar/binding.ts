// A binding: one contact registered for an address-of-record (RFC 3261 §10), with what is needed
// to reach it again (Path, the address the REGISTER came from, our socket) and to judge the next
// REGISTER (Call-ID, CSeq). Immutable: an update makes a new object with the same id.
import type { SipRequest } from '../../sip/index.js';

export interface Binding {
  /** Unique per binding, kept across refreshes (the `ruid` column). */
  readonly id: string;
  readonly username: string;
  /** Lower case. */
  readonly domain: string;
  /** The Contact URI as the client wrote it. */
  readonly contact: string;
  /** The Contact's header parameters other than expires and q, as `;name=value...` ('' if none). */
  readonly params: string;
  /** The q parameter, 0 to 1; undefined when the client gave none (ranks as 1). */
  readonly q: number | undefined;
  /** When it expires, in seconds since the epoch. */
  readonly expires: number;
  readonly callId: string;
  readonly cseq: number;
  /** Path header values of the REGISTER (RFC 3327), top first: the route back to the client. */
  readonly path: readonly string[];
  /**
   * `sip:ip:port;transport=proto` of the REGISTER's source when the Contact does not lead there
   * (NAT, a connection-oriented transport): where requests for this binding go.
   */
  readonly received: string | undefined;
  /** Our socket the REGISTER arrived on, `proto:ip:port`: send from it. */
  readonly socket: string | undefined;
  readonly userAgent: string | undefined;
  /** `+sip.instance` (RFC 5626), unquoted, e.g. `<urn:uuid:...>`. */
  readonly instance: string | undefined;
  /** `reg-id` (RFC 5626). */
  readonly regId: number | undefined;
  /** Seconds since the epoch of the last REGISTER that touched it. */
  readonly lastModified: number;
}

/** Best first: highest q (no q counts as 1), then the most recently registered. */
export function orderBindings(bindings: Iterable<Binding>): Binding[] {
  return [...bindings].sort((a, b) => (b.q ?? 1) - (a.q ?? 1) || b.lastModified - a.lastModified);
}

/** The Contact value listing a binding in a 200 OK: its parameters, q and the seconds left. */
export function contactValue(binding: Binding, nowS: number): string {
  const q = binding.q === undefined ? '' : `;q=${binding.q}`;
  return `<${binding.contact}>${binding.params}${q};expires=${Math.max(0, binding.expires - nowS)}`;
}

/**
 * What OpenSIPS `lookup` does with the chosen binding: the Request-URI becomes the contact, the
 * Path becomes Route headers on top of any present (RFC 3327 §5.4), and the return value is the
 * destination to send to (OpenSIPS $du): the received address when there is no Path, else
 * undefined (the request follows its top Route).
 */
export function applyBinding(req: SipRequest, binding: Binding): string | undefined {
  req.uri = binding.contact;
  for (const hop of [...binding.path].reverse()) req.addHeader('Route', hop, { first: true });
  return binding.path.length === 0 ? binding.received : undefined;
}
