// Building responses to requests (RFC 3261 §8.2.6), including answers to requests that failed to parse.
import type { SipParseError } from './errors.js';
import { headerLine, SipResponse, type HeaderLine, type SipRequest } from './message.js';
import { parseNameAddr } from './name-addr.js';
import { randomToken } from './random.js';
import type { ReplyableRequest } from './parser.js';

const REASON_PHRASES: Readonly<Record<number, string>> = {
  100: 'Trying',
  180: 'Ringing',
  181: 'Call Is Being Forwarded',
  182: 'Queued',
  183: 'Session Progress',
  199: 'Early Dialog Terminated',
  200: 'OK',
  202: 'Accepted',
  204: 'No Notification',
  300: 'Multiple Choices',
  301: 'Moved Permanently',
  302: 'Moved Temporarily',
  305: 'Use Proxy',
  380: 'Alternative Service',
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  410: 'Gone',
  412: 'Conditional Request Failed',
  413: 'Request Entity Too Large',
  414: 'Request-URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Unsupported URI Scheme',
  417: 'Unknown Resource-Priority',
  420: 'Bad Extension',
  421: 'Extension Required',
  422: 'Session Interval Too Small',
  423: 'Interval Too Brief',
  428: 'Use Identity Header',
  429: 'Provide Referrer Identity',
  430: 'Flow Failed',
  433: 'Anonymity Disallowed',
  436: 'Bad Identity-Info',
  437: 'Unsupported Certificate',
  438: 'Invalid Identity Header',
  439: 'First Hop Lacks Outbound Support',
  440: 'Max-Breadth Exceeded',
  469: 'Bad Info Package',
  470: 'Consent Needed',
  480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist',
  482: 'Loop Detected',
  483: 'Too Many Hops',
  484: 'Address Incomplete',
  485: 'Ambiguous',
  486: 'Busy Here',
  487: 'Request Terminated',
  488: 'Not Acceptable Here',
  489: 'Bad Event',
  491: 'Request Pending',
  493: 'Undecipherable',
  494: 'Security Agreement Required',
  500: 'Server Internal Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Server Time-out',
  505: 'Version Not Supported',
  513: 'Message Too Large',
  555: 'Push Notification Service Not Supported',
  580: 'Precondition Failure',
  600: 'Busy Everywhere',
  603: 'Decline',
  604: 'Does Not Exist Anywhere',
  606: 'Not Acceptable',
  607: 'Unwanted',
  608: 'Rejected',
};

/** Names of the response classes (RFC 3261 §21), for codes without a registered phrase. */
const CLASS_PHRASES = [
  'Provisional',
  'Successful',
  'Redirection',
  'Request Failure',
  'Server Failure',
  'Global Failure',
];

export function defaultReasonPhrase(status: number): string {
  return REASON_PHRASES[status] ?? CLASS_PHRASES[Math.floor(status / 100) - 1] ?? 'Unknown';
}

/** A fresh To tag (RFC 3261 §19.3: at least 32 bits of randomness). */
export function generateTag(): string {
  return randomToken(8, 'hex');
}

/**
 * A response to `req`: its Via lines copied in order, From, To, Call-ID and CSeq (and the
 * Record-Route lines when it establishes a dialog), then
 * `extraHeaders`, and `Content-Length: 0`. A To without tag gets `toTag` (a random one when not
 * given) unless the status is 100, which never carries one. The copies are verbatim, so this also
 * works for a request that failed to parse (`ReplyableRequest`).
 */
export function createResponse(
  req: SipRequest | ReplyableRequest,
  status: number,
  reason: string = defaultReasonPhrase(status),
  extraHeaders: ReadonlyArray<readonly [string, string]> = [],
  toTag?: string,
): SipResponse {
  const copied = 'isRequest' in req ? copiedLines(req, status) : replyableLines(req);
  const lines: HeaderLine[] = [];
  for (const line of copied) {
    if (line.key === 'to' && status > 100 && !hasTag(req, line.value)) {
      lines.push(headerLine(line.name, `${line.value};tag=${toTag ?? generateTag()}`));
    } else {
      lines.push(line);
    }
  }
  for (const [name, value] of extraHeaders) lines.push(headerLine(name, value));
  lines.push(headerLine('Content-Length', '0'));
  const response = new SipResponse(status, reason, lines);
  // Copied raw lines go out in the encoding they were read with.
  if ('isRequest' in req) response.rawEncoding = req.rawEncoding;
  return response;
}

/**
 * The answer to a request `parseMessage` rejected: 505 for an unsupported version, else
 * `400 Bad Request` with the cause in a `Warning: 399 <agent> "..."` header (RFC 3261 §20.43: 399
 * is the miscellaneous warning), so the peer sees why without a non-standard reason phrase.
 */
export function createParseErrorResponse(
  req: ReplyableRequest,
  error: SipParseError,
  agent = 'sipsd',
): SipResponse {
  const status = error.code === 'bad-version' ? 505 : 400;
  // The warn-text is a quoted-string: no quotes, backslashes or control characters inside.
  // eslint-disable-next-line no-control-regex
  const text = error.reason.replace(/["\\\x00-\x1f\x7f]/g, "'");
  return createResponse(req, status, undefined, [['Warning', `399 ${agent} "${text}"`]]);
}

const COPIED = new Set(['via', 'from', 'to', 'call-id', 'cseq']);

/** Requests whose 101–299 responses establish a dialog (RFC 3261 §12.1, RFC 6665, RFC 3515). */
const DIALOG_CREATING = new Set(['INVITE', 'SUBSCRIBE', 'REFER']);

function copiedLines(req: SipRequest, status: number): HeaderLine[] {
  // §12.1.1: a response that establishes a dialog carries the request's Record-Route, in order.
  const withRoutes = status > 100 && status < 300 && DIALOG_CREATING.has(req.method);
  return (req.headerFields() as readonly HeaderLine[]).filter(
    (h) => COPIED.has(h.key) || (withRoutes && h.key === 'record-route'),
  );
}

function replyableLines(req: ReplyableRequest): HeaderLine[] {
  return [
    ...req.via.map((value) => headerLine('Via', value)),
    headerLine('From', req.from),
    headerLine('To', req.to),
    headerLine('Call-ID', req.callId),
    headerLine('CSeq', req.cseq),
  ];
}

function hasTag(req: SipRequest | ReplyableRequest, to: string): boolean {
  // A parsed request has its To parsed already (validation did it); else parse the raw value.
  if ('isRequest' in req) {
    try {
      return req.to().tag !== undefined;
    } catch {
      // Not one well-formed To (a request built or changed by code): judge the copied line.
    }
  }
  const addr = parseNameAddr(to);
  return addr.ok && addr.value.tag !== undefined;
}
