// The SIP message layer: parsing, the message model, serialization, responses and stream framing.
export { SipHeaderError, type ParseErrorCode, type Result, type SipParseError } from './errors.js';
export { DEFAULT_SIP_LIMITS, type SipLimits } from './limits.js';
export { canonicalHeaderName, headerKey } from './header-names.js';
export { findValueSeparator, isMultiValuedHeader, splitHeaderValues } from './header-split.js';
export { quote, unquote } from './chars.js';
export { Params, parseHeaderParams, type Param } from './params.js';
export {
  classifyHost,
  formatHost,
  isIpAddress,
  parseHostPort,
  type HostKind,
  type HostPort,
} from './host.js';
export { formatUri, parseUri, type OtherUri, type SipUri, type TelUri, type Uri } from './uri.js';
export { NameAddr, formatNameAddr, parseNameAddr } from './name-addr.js';
export { BRANCH_MAGIC_COOKIE, Via, formatVia, parseVia } from './via.js';
export {
  formatCSeq,
  parseCallId,
  parseContentLength,
  parseCSeq,
  parseMaxForwards,
  type CSeq,
} from './cseq.js';
export {
  SipRequest,
  SipResponse,
  headerLine,
  serializeForwarded,
  serializeMessage,
  type ContactList,
  type HeaderField,
  type HeaderLine,
  type SipMessage,
} from './message.js';
export { parseMessage, type ParseOptions, type ParseResult, type ReplyableRequest } from './parser.js';
export { createParseErrorResponse, createResponse, defaultReasonPhrase, generateTag } from './response.js';
export { randomToken } from './random.js';
export { StreamFramer, type FrameEvent, type StreamFramerOptions } from './framing.js';
