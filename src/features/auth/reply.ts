// What the features hand back when the request is to be answered: a status, a reason and extra
// headers, ready for the script's `ctx.reply(status, reason, headers)`, or for `toResponse`.
import { createResponse, type SipRequest, type SipResponse } from '../../sip/index.js';

export interface ReplySpec {
  status: number;
  reason: string;
  headers: Array<[string, string]>;
}

export function toResponse(req: SipRequest, reply: ReplySpec, toTag?: string): SipResponse {
  return createResponse(req, reply.status, reply.reason, reply.headers, toTag);
}

/**
 * `Warning: 399 sipsd "text"` (RFC 3261 §20.43, 399 = miscellaneous): why a request was refused,
 * without inventing reason phrases. Quotes, backslashes and controls cannot go in the quoted text.
 */
export function warning(text: string): [string, string] {
  // eslint-disable-next-line no-control-regex
  return ['Warning', `399 sipsd "${text.replace(/["\\\x00-\x1f\x7f]/g, "'")}"`];
}
