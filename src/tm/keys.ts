// Matching messages to transactions. Server side (RFC 3261 §17.2.3): the top Via's branch and
// sent-by plus the method, ACK counting as INVITE; for RFC 2543 peers (no magic cookie) the
// Request-URI, From tag, Call-ID, CSeq number and top Via instead, the To tag checked apart.
// Client side (§17.1.3): our branch plus the CSeq method, as CANCEL shares its INVITE's branch.
import { branchMark, ownerOfBranchToken } from '../cluster/identity.js';
import { BRANCH_MAGIC_COOKIE, randomToken, type SipRequest, type SipResponse } from '../sip/index.js';

/** Prefix of every branch sipsd creates; the stateless core recognises its Vias by it. */
export const SIPSD_BRANCH_PREFIX = `${BRANCH_MAGIC_COOKIE}-sipsd-`;

export interface ServerKey {
  key: string;
  /** RFC 2543 matching: the caller must compare the To tag too (see `toTagMatches`). */
  legacy: boolean;
}

/**
 * The key of the server transaction `req` belongs to, looked up as `method` (the INVITE a CANCEL
 * refers to is found with method INVITE).
 */
export function serverKey(req: SipRequest, method: string = req.method): ServerKey {
  const m = method === 'ACK' ? 'INVITE' : method;
  const via = req.topVia();
  const branch = via.branch;
  const sentBy = `${via.transport} ${via.host.toLowerCase()}:${via.port ?? ''}`;
  if (branch?.startsWith(BRANCH_MAGIC_COOKIE)) {
    // Parameter values compare case-insensitively (RFC 3261 §7.3.1).
    return { key: `${m} ${branch.toLowerCase()} ${sentBy}`, legacy: false };
  }
  const from = req.from().tag ?? '';
  return {
    key: `${m} 2543 ${req.uri} ${from} ${req.callId} ${req.cseq().seq} ${sentBy} ${branch ?? ''}`,
    legacy: true,
  };
}

/** The key of the client transaction a response belongs to, or undefined if it has no branch. */
export function clientKeyOfResponse(res: SipResponse): string | undefined {
  const branch = res.topVia().branch;
  return branch === undefined ? undefined : clientKey(branch, res.cseq().method);
}

export function clientKey(branch: string, method: string): string {
  return `${method} ${branch}`;
}

/** This worker's mark, made once (empty for a single process). */
const mark = branchMark();

/**
 * A new branch, unique per client transaction (RFC 3261 §8.1.1.7, §16.6 step 8); with several
 * workers it names this one, so a response any worker reads reaches the transaction.
 */
export function newBranch(): string {
  return SIPSD_BRANCH_PREFIX + mark + randomToken(12, 'base64url');
}

/** The worker whose transaction a branch belongs to, when sipsd made it with a worker mark. */
export function branchOwner(branch: string): number | undefined {
  if (!branch.startsWith(SIPSD_BRANCH_PREFIX)) return undefined;
  return ownerOfBranchToken(branch.slice(SIPSD_BRANCH_PREFIX.length));
}
