// Max-Forwards on receipt (RFC 3261 §16.3 step 3; OpenSIPS mf_process_maxfwd_header): a request
// that may not be forwarded any more is answered 483, except OPTIONS, which a proxy may answer
// itself (§11). The decrement happens when the request is forwarded.
import type { SipRequest } from '../../sip/index.js';

export type MaxForwardsVerdict = 'forward' | 'too-many-hops' | 'answer-locally';

export function checkMaxForwards(req: SipRequest): MaxForwardsVerdict {
  const value = req.maxForwards();
  if (value === undefined || value > 0) return 'forward';
  return req.method === 'OPTIONS' ? 'answer-locally' : 'too-many-hops';
}
