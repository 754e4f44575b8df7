// Stateful relaying (RFC 3261 §16.6-§16.10): the response context of one server transaction and
// its branches, each a client transaction. Provisional responses and every 2xx go upstream at once;
// non-2xx final responses wait until every branch has ended, then the best one goes (§16.7 step 6),
// unless the script's failure hook (OpenSIPS failure_route) sends the request somewhere else first.
// Branches end locally too: 408 when timer B, F or C fires, 503 when the transport cannot send,
// 487 when a cancelled branch never answers. Once the response upstream is settled and every branch
// has ended, the relay retires: the branches' client transactions report to the server transaction
// alone, so the request, the responses and the script's closures need not wait for timers D, L, M.
import {
  createResponse,
  generateTag,
  serializeForwarded,
  type SipRequest,
  type SipResponse,
} from '../sip/index.js';
import { hostPort, type Proto } from '../transport/listen-spec.js';
import type { Endpoint, Inbound, SendTarget } from '../transport/types.js';
import type { Destination } from '../router/destination.js';
import type { Logger } from '../log/logger.js';
import type { ClientOwner, ClientTransaction } from './client.js';
import type { TimerValues } from './config.js';
import { newBranch } from './keys.js';
import { buildAck, buildCancel, serializeForBranch, type SentRequest } from './requests.js';
import type { ServerOwner, ServerTransaction } from './server.js';
import { planDestination, type TargetLocator, type TlsChoice } from './target.js';
import { errorText, warningValue } from './text.js';
import { TimerSet } from './timers.js';

/** Branches one transaction may have over all failure-hook rounds (OpenSIPS's MAX_BRANCHES). */
export const MAX_BRANCHES = 12;
/** Targets one branch tries after transport failures (RFC 3263 §4.3) before it ends with 503. */
export const MAX_TARGETS = 8;

/** The socket a branch leaves from, for the Record-Route entries describing it. */
export interface OutboundSocket {
  proto: Proto;
  address: string;
  port: number;
}

export interface RelayOptions {
  /** TLS client domain for new connections of this branch. */
  tls?: TlsChoice;
  /**
   * Runs once when every branch has ended without a 2xx, before the best response goes upstream
   * (OpenSIPS t_on_failure); calling `relay()` in it tries another destination. To run again for
   * the new branch, pass it `onFailure` again.
   */
  onFailure?: FailureHook;
  /**
   * record_route(): the Record-Route values to put on top for a branch leaving from `out` (two when
   * the transport or interface changes). Kept for the later branches of the transaction.
   */
  recordRoute?: (out: OutboundSocket) => readonly string[];
}

export type FailureHook = (failure: RelayFailure) => void | Promise<void>;

/** What the failure hook sees and can do. */
export interface RelayFailure {
  /** The request as relayed; changes (Request-URI, headers) apply to the branches relayed next. */
  readonly request: SipRequest;
  readonly inbound: Inbound;
  /** The best final response so far (our Via removed), received or generated here. */
  readonly response: SipResponse;
  readonly status: number;
  readonly reason: string;
  /** Generated here: a timeout (408), a transport failure (503), an unanswered CANCEL (487). */
  readonly local: boolean;
  /** Why a local response was generated, e.g. the transport's error message. */
  readonly warning: string | undefined;
  /** Destination of the branch the response belongs to, `proto:address:port` once resolved. */
  readonly destination: string;
  /** Branches tried so far in the transaction. */
  readonly branches: number;
  /** Relays the request to another destination (serial forking). */
  relay(destination?: string, options?: RelayOptions): Promise<BranchResult>;
  /** Sends this response upstream instead of the best one. */
  reply(status: number, reason?: string, headers?: ReadonlyArray<readonly [string, string]>): void;
}

export interface BranchResult {
  /** The request was handed to the transport. */
  sent: boolean;
  /** Index of the branch in its transaction; -1 when none was created. */
  branch: number;
  destination: string;
  /** Why it was not sent. */
  reason?: string;
}

/** What a relay needs from the transaction layer. */
export interface RelayHost {
  readonly tlsPort: number;
  readonly log: Logger;
  readonly restartOnProvisional: boolean;
  /** Timer C, the cancel wait, and the failure hook's time limit. */
  readonly timers: TimerValues;
  locate: TargetLocator;
  localFor(proto: Proto, address: string): Endpoint | undefined;
  /** Creates and registers a client transaction (not started). */
  client(
    branch: string,
    method: string,
    data: Buffer,
    target: SendTarget,
    owner: ClientOwner,
    buildAck?: (res: SipResponse) => Buffer,
  ): ClientTransaction;
}

/** One destination tried for the request. */
class Branch {
  tx: ClientTransaction | undefined;
  sent: SentRequest | undefined;
  /** A provisional response arrived: a CANCEL may be sent (§9.1). */
  provisional = false;
  /** The CANCEL waits for a provisional response, or went out. */
  cancel: 'none' | 'pending' | 'sent' = 'none';
  final: SipResponse | undefined;
  local = false;
  warning: string | undefined;
  readonly timers = new TimerSet<'C' | 'cancel'>();

  /** The Via branch of the current attempt: a new one per target tried (RFC 3263 §4.3). */
  id = '';

  constructor(
    readonly index: number,
    public destination: string,
  ) {}
}

/** §16.7 step 6: a 6xx if there is one, else the lowest class; the earliest within it. */
export function bestResponseIndex(statuses: readonly number[]): number {
  let best = -1;
  let bestRank = Infinity;
  statuses.forEach((status, i) => {
    const cls = Math.floor(status / 100);
    const rank = cls === 6 ? 0 : cls;
    if (rank < bestRank) {
      best = i;
      bestRank = rank;
    }
  });
  return best;
}

export class Relay implements ServerOwner {
  private readonly branches: Branch[] = [];
  private hook: FailureHook | undefined;
  private recordRoute: RelayOptions['recordRoute'];
  private inHook = false;
  /** Branches of the current round: a failure hook that relays starts a new one (OpenSIPS first_branch). */
  private firstBranch = 0;
  private roundStarted = false;
  /** A 2xx went upstream: the transaction succeeded whatever the other branches do. */
  private answered = false;
  /** A final response went upstream (or the relay was disposed). */
  private done = false;
  private cancelled = false;
  private readonly hookTimer = new TimerSet<'hook'>();
  #toTag: string | undefined;

  constructor(
    private readonly server: ServerTransaction,
    private readonly request: SipRequest,
    private readonly host: RelayHost,
  ) {
    server.owner = this;
  }

  /**
   * Relays to `destination` (default: top Route or Request-URI); throws if it cannot be parsed.
   * `plan` is the destination already checked by the caller.
   */
  addBranch(
    destination: string | undefined,
    options: RelayOptions = {},
    plan: Destination = planDestination(this.request, destination, this.host.tlsPort),
  ): Promise<BranchResult> {
    if (options.onFailure) this.hook = options.onFailure;
    if (options.recordRoute) this.recordRoute = options.recordRoute;
    const label = destination ?? `${plan.proto}:${hostPort(plan.host, plan.port)}`;
    const refusal = this.done
      ? 'the transaction has its final response'
      : this.cancelled
        ? 'the transaction was cancelled'
        : this.branches.length >= MAX_BRANCHES
          ? `no more than ${MAX_BRANCHES} branches per transaction`
          : undefined;
    if (refusal) return Promise.resolve({ sent: false, branch: -1, destination: label, reason: refusal });
    if (this.inHook && !this.roundStarted) {
      // The response for upstream is chosen among the branches tried after this hook.
      this.firstBranch = this.branches.length;
      this.roundStarted = true;
    }
    // The branch counts as pending from now on, so the response context cannot close under it.
    const branch = new Branch(this.branches.length, label);
    this.branches.push(branch);
    return this.send(branch, destination, plan, options.tls ?? {});
  }

  /** A matching CANCEL: cancel every branch still going (§16.10); they end with their own final. */
  cancel(): void {
    if (this.cancelled || this.done) return;
    this.cancelled = true;
    for (const branch of this.branches) if (!branch.final) this.sendCancel(branch);
    this.settle();
  }

  dispose(): void {
    this.done = true;
    this.hookTimer.clear();
    for (const branch of this.branches) branch.timers.clear();
  }

  /** A response generated here (408, 503, 487...); all of them carry the same To tag. */
  private localResponse(
    status: number,
    reason?: string,
    headers: ReadonlyArray<readonly [string, string]> = [],
  ): SipResponse {
    return createResponse(this.request, status, reason, headers, (this.#toTag ??= generateTag()));
  }

  private async send(
    branch: Branch,
    destination: string | undefined,
    plan: Destination,
    tls: TlsChoice,
  ): Promise<BranchResult> {
    const result = (reason?: string): BranchResult => ({
      sent: reason === undefined,
      branch: branch.index,
      destination: branch.destination,
      ...(reason !== undefined && { reason }),
    });
    const targets = this.host.locate(this.request, destination, plan, tls);
    let failure: string | undefined;
    for (let tried = 0; tried < MAX_TARGETS; tried++) {
      let target: SendTarget | undefined;
      try {
        target = await targets.next();
      } catch (err) {
        failure = `cannot resolve ${plan.host}: ${errorText(err)}`;
        break;
      }
      if (!target) {
        // After a transport failure, that failure is the reason; before any target, resolution's.
        if (tried === 0) failure = `cannot resolve ${plan.host}: ${targets.failure?.message ?? 'no address'}`;
        break;
      }
      // Cancelled, or answered on another branch, while the name was resolved: nothing leaves.
      if (this.cancelled || branch.cancel === 'pending' || this.done || this.answered) {
        return result(this.endBranch(branch, 487, 'cancelled before it was sent'));
      }
      const error = await this.attempt(branch, target);
      if (error === undefined) return result();
      // Timer B may have ended the branch while a connection was being opened.
      if (branch.final) return result(error);
      failure = error;
      this.host.log.info(
        { destination: branch.destination, reason: error },
        'target failed; trying the next',
      );
    }
    return result(this.endBranch(branch, 503, failure ?? `no target for ${branch.destination}`));
  }

  /** Sends the branch's request to one target; resolves to why it could not be sent. */
  private attempt(branch: Branch, target: SendTarget): Promise<string | undefined> {
    try {
      return this.startAttempt(branch, target);
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  private startAttempt(branch: Branch, target: SendTarget): Promise<string | undefined> {
    branch.id = newBranch();
    branch.destination = `${target.proto}:${hostPort(target.address, target.port)}`;
    const local = this.host.localFor(target.proto, target.address);
    if (!local) return Promise.resolve(`no ${target.proto} listener to send from`);
    const via = `SIP/2.0/${target.proto.toUpperCase()} ${hostPort(local.address, local.port)};branch=${branch.id};rport`;
    const recordRoutes = this.recordRoute?.({ proto: target.proto, ...local }) ?? [];
    const method = this.request.method;
    let data: Buffer;
    let sent: SentRequest | undefined;
    if (method === 'INVITE') {
      ({ data, sent } = serializeForBranch(this.request, via, recordRoutes));
    } else {
      // Only an INVITE branch builds an ACK or CANCEL from what it sent.
      data = serializeForwarded(this.request, via, recordRoutes);
    }
    branch.sent = sent;
    const owner: ClientOwner = {
      response: (res) => this.onResponse(branch, res),
      timeout: () =>
        this.endBranch(branch, this.cancelled ? 487 : 408, `no final response from ${branch.destination}`),
      transportError: (reason) => this.endBranch(branch, 503, reason),
    };
    const ack = sent ? (res: SipResponse) => buildAck(sent, res) : undefined;
    branch.tx = this.host.client(branch.id, method, data, target, owner, ack);
    // Once per relayed request: build the fields only when debug logging is on.
    if (this.host.log.isLevelEnabled('debug')) {
      this.host.log.debug({ branch: branch.id, destination: branch.destination, method }, 'relaying');
    }
    return branch.tx.start();
  }

  private onResponse(branch: Branch, res: SipResponse): void {
    res.removeFirstHeaderValue('Via'); // ours; the response goes on along the rest of the path
    const status = res.status;
    if (status < 200) {
      branch.provisional = true;
      if (branch.cancel === 'pending') this.sendCancel(branch);
      if (branch.final) return;
      if (this.server.invite) this.armTimerC(branch, status);
      // §16.7 step 5: 100 stops at this hop; other provisional responses go upstream.
      if (status > 100) this.server.respond(res);
      return;
    }
    branch.timers.clear();
    if (status < 300) {
      branch.final ??= res;
      this.answered = true;
      this.server.respond(res);
      // §16.7 step 10: once a 2xx to an INVITE went upstream, the other branches are cancelled.
      if (this.server.invite) this.cancelOthers(branch);
      this.settle();
      return;
    }
    if (branch.final) return; // ended here already (timer C), or after a 2xx
    branch.final = res;
    // §16.7 step 5: a 6xx ends the search; pending INVITE branches are cancelled.
    if (status >= 600 && this.server.invite) this.cancelOthers(branch);
    this.settle();
  }

  /** Timer C runs from the first provisional response (OpenSIPS fr_inv_timeout); see §16.6 step 11. */
  private armTimerC(branch: Branch, status: number): void {
    if (branch.timers.has('C') && !(status > 100 && this.host.restartOnProvisional)) return;
    branch.timers.set('C', this.host.timers.c, () => {
      if (branch.final) return;
      // §16.8: the branch has had a provisional response, so it is cancelled, and counts as 408.
      this.sendCancel(branch);
      this.endBranch(branch, 408, `no final response from ${branch.destination} within fr_inv_timeout`);
    });
  }

  private cancelOthers(except: Branch): void {
    for (const branch of this.branches) if (branch !== except && !branch.final) this.sendCancel(branch);
  }

  /** §9.1: a CANCEL goes only once the branch has had a provisional response. */
  private sendCancel(branch: Branch): void {
    if (!this.server.invite || branch.cancel === 'sent') return;
    const invite = branch.tx;
    if (!invite || !branch.sent || !branch.provisional) {
      branch.cancel = 'pending';
      return;
    }
    branch.cancel = 'sent';
    if (invite.state !== 'calling' && invite.state !== 'proceeding') return;
    const cancel = this.host.client(branch.id, 'CANCEL', buildCancel(branch.sent), invite.destination, {
      response: () => undefined,
      timeout: () => this.host.log.info({ branch: branch.id }, 'CANCEL not answered'),
      transportError: (reason) =>
        this.host.log.info({ branch: branch.id, reason }, 'CANCEL not retransmitted'),
    });
    void cancel.start().then((reason) => {
      if (reason !== undefined) this.host.log.info({ branch: branch.id, reason }, 'CANCEL not sent');
    });
    // §9.1: without a final response in 64*T1 the branch is given up.
    branch.timers.set('cancel', this.host.timers.cancelWait, () => {
      invite.terminate();
      this.endBranch(branch, 487, `no final response from ${branch.destination} after CANCEL`);
    });
  }

  /** Ends a branch with a response generated here; returns the reason, for the caller's result. */
  private endBranch(branch: Branch, status: number, reason: string): string {
    if (branch.final) return reason;
    branch.timers.cancel('C');
    const headers: Array<[string, string]> = status === 503 ? [['Warning', warningValue(reason)]] : [];
    branch.final = this.localResponse(status, undefined, headers);
    branch.local = true;
    branch.warning = reason;
    this.host.log.info(
      { branch: branch.id, destination: branch.destination, status, reason },
      'branch failed',
    );
    this.settle();
    return reason;
  }

  /** When every branch has ended: the failure hook, or the best response upstream, and retirement. */
  private settle(): void {
    if (this.inHook || this.branches.some((b) => !b.final)) return;
    if (this.done || this.answered) this.retire();
    else this.answer();
  }

  /** The failure hook, or the best response upstream. */
  private answer(): void {
    const finals = this.branches
      .slice(this.firstBranch)
      .filter((b): b is Branch & { final: SipResponse } => b.final !== undefined);
    const best = finals[bestResponseIndex(finals.map((b) => b.final.status))];
    if (!best) {
      // Only reachable without any branch; answered rather than left hanging.
      this.finish(this.localResponse(this.cancelled ? 487 : 500));
      return;
    }
    const hook = this.hook;
    if (hook && !this.cancelled) {
      this.hook = undefined; // one-shot, as t_on_failure: a new relay() arms it again
      this.runHook(hook, best);
      return;
    }
    const response = best.final;
    // §16.7 step 6: a 503 from downstream must not make upstream think this proxy is unavailable.
    if (!best.local && response.status === 503) {
      response.status = 500;
      response.reason = 'Server Internal Error';
    }
    this.finish(response);
  }

  private runHook(hook: FailureHook, best: Branch & { final: SipResponse }): void {
    this.inHook = true;
    this.roundStarted = false;
    let over = false;
    const end = () => {
      if (over) return;
      over = true;
      this.hookTimer.cancel('hook');
      this.inHook = false;
      this.settle();
    };
    const failure: RelayFailure = {
      request: this.request,
      inbound: this.server.inbound,
      response: best.final,
      status: best.final.status,
      reason: best.final.reason,
      local: best.local,
      warning: best.warning,
      destination: best.destination,
      branches: this.branches.length,
      relay: (destination, options) => this.addBranch(destination, options),
      reply: (status, reason, headers) => {
        if (this.done) return;
        this.cancelOthers(best);
        this.finish(this.localResponse(status, reason, headers));
      },
    };
    // A hook that never settles must not hold the transaction: after 64*T1 it is left behind.
    this.hookTimer.set('hook', this.host.timers.cancelWait, () => {
      this.host.log.warn({ status: failure.status }, 'failure hook still running: best response sent');
      end();
    });
    Promise.resolve()
      .then(() => hook(failure))
      .catch((err: unknown) => this.host.log.error({ err: errorText(err) }, 'failure hook failed'))
      .finally(end);
  }

  private finish(response: SipResponse): void {
    this.done = true;
    this.server.respond(response);
    this.settle();
  }

  /**
   * Nothing can change the outcome any more, only a 2xx can still come (a retransmission, another
   * fork's): that needs the server transaction alone, and the relay can be freed at once.
   */
  private retire(): void {
    this.dispose();
    const upstream = new Upstream(this.server);
    for (const branch of this.branches) branch.tx?.handOver(upstream);
    this.server.owner = undefined;
  }
}

/** Where the branches of a retired relay report: RFC 6026 §7.1, every 2xx goes upstream. */
class Upstream implements ClientOwner {
  constructor(private readonly server: ServerTransaction) {}

  response(res: SipResponse): void {
    res.removeFirstHeaderValue('Via');
    this.server.respond(res);
  }

  // The branches have ended: their timeouts and transport errors change nothing.
  timeout(): void {}
  transportError(): void {}
}
