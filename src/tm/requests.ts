// The requests a proxy branch sends: the relayed request itself (RFC 3261 §16.6: our Via on top,
// Max-Forwards decremented), and the two it builds for that branch alone: the ACK of a non-2xx
// final response (§17.1.1.3) and the CANCEL (§9.1). Both copy what the relayed request carried,
// so they are kept as text at send time.
import {
  headerLine,
  serializeForwarded,
  serializeMessage,
  SipRequest,
  type SipResponse,
} from '../sip/index.js';

/** What an ACK or CANCEL of a branch repeats from the request sent on it. */
export interface SentRequest {
  uri: string;
  /** Our Via, the only one those requests carry. */
  via: string;
  from: string;
  to: string;
  callId: string;
  cseq: number;
  routes: string[];
}

/**
 * Serializes `req` as it leaves on one branch: `via` on top, Max-Forwards decremented (70 when the
 * sender had none, §16.6 step 3), and `recordRoutes` on top of any Record-Route (§16.6 step 4).
 * The request itself is left as the script sees it, so the next branch starts from the same request.
 */
export function serializeForBranch(
  req: SipRequest,
  via: string,
  recordRoutes: readonly string[] = [],
): { data: Buffer; sent: SentRequest } {
  return {
    data: serializeForwarded(req, via, recordRoutes),
    sent: {
      uri: req.uri,
      via,
      from: req.getHeader('From') ?? '',
      to: req.getHeader('To') ?? '',
      callId: req.callId,
      cseq: req.cseq().seq,
      routes: req.getHeaders('Route'),
    },
  };
}

/** §17.1.1.3: the ACK of a non-2xx final response, with the response's To (and so its tag). */
export function buildAck(sent: SentRequest, response: SipResponse): Buffer {
  return build('ACK', sent, response.getHeader('To') ?? sent.to);
}

/** §9.1: the CANCEL of the request sent on a branch. */
export function buildCancel(sent: SentRequest): Buffer {
  return build('CANCEL', sent, sent.to);
}

function build(method: 'ACK' | 'CANCEL', sent: SentRequest, to: string): Buffer {
  const lines = [
    headerLine('Via', sent.via),
    ...sent.routes.map((route) => headerLine('Route', route)),
    headerLine('Max-Forwards', '70'),
    headerLine('From', sent.from),
    headerLine('To', to),
    headerLine('Call-ID', sent.callId),
    headerLine('CSeq', `${sent.cseq} ${method}`),
  ];
  return serializeMessage(new SipRequest(method, sent.uri, lines));
}
