// Server transactions (RFC 3261 §17.2.1 INVITE, §17.2.2 non-INVITE, with the Accepted state of
// RFC 6026): they absorb retransmitted requests by sending the last response again, retransmit
// non-2xx final responses to INVITE over UDP until the ACK comes (timer G, H), absorb that ACK, and
// linger after the final response only as long as retransmissions can still arrive (I, J, L).
import { createResponse, generateTag, type SipRequest, type SipResponse } from '../sip/index.js';
import type { Inbound } from '../transport/types.js';
import type { TimerValues } from './config.js';
import { doubled, TimerSet } from './timers.js';

export type ServerState = 'trying' | 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated';

/** What a server transaction needs from the layer that owns it. */
export interface ServerHost {
  /** Sends a response along the request's Via (RFC 3261 §18.2.2); failures are the host's to log. */
  sendResponse(tx: ServerTransaction, response: SipResponse): void;
  /** The transaction reached Terminated: forget it. */
  terminated(tx: ServerTransaction): void;
}

/** The TU side of a server transaction: the relay working on its request. */
export interface ServerOwner {
  /** A matching CANCEL arrived (RFC 3261 §9.2, §16.10). */
  cancel(): void;
  /** The transaction is over: stop the timers that would still act on it. */
  dispose(): void;
}

export class ServerTransaction {
  state: ServerState;
  readonly invite: boolean;
  #toTag: string | undefined;
  /** The relay answering this request, once there is one: a CANCEL acts on it. */
  owner: ServerOwner | undefined;
  private last: SipResponse | undefined;
  private readonly timers = new TimerSet<'G' | 'H' | 'I' | 'J' | 'L'>();
  private retransmitInterval: number;

  constructor(
    readonly key: string,
    /** RFC 2543 matching: the To tag is compared too. */
    readonly legacy: boolean,
    readonly request: SipRequest,
    readonly inbound: Inbound,
    private readonly times: TimerValues,
    private readonly host: ServerHost,
  ) {
    this.invite = request.method === 'INVITE';
    this.state = this.invite ? 'proceeding' : 'trying';
    this.retransmitInterval = times.t1;
  }

  /** The To tag of the responses generated here, the same for all of them; drawn on first use. */
  get toTag(): string {
    return (this.#toTag ??= generateTag());
  }

  /** Over UDP responses are retransmitted and the wait states last; over TCP/TLS they do not. */
  get reliable(): boolean {
    return this.inbound.proto !== 'udp';
  }

  /** A final response went out (or the transaction is over). */
  get finalSent(): boolean {
    return this.state !== 'trying' && this.state !== 'proceeding';
  }

  /** The status of the last response sent, if any. */
  get lastStatus(): number | undefined {
    return this.last?.status;
  }

  /** A response generated here (100 Trying, 408, 503, 487...), with this transaction's To tag. */
  localResponse(status: number, reason?: string, headers: ReadonlyArray<readonly [string, string]> = []) {
    return createResponse(this.request, status, reason, headers, this.toTag);
  }

  /**
   * For RFC 2543 matching: a retransmission or CANCEL carries the request's To tag, an ACK the tag
   * of our final response (§17.2.3).
   */
  toTagMatches(req: SipRequest): boolean {
    if (!this.legacy) return true;
    const wanted = req.method === 'ACK' ? this.last?.to().tag : this.request.to().tag;
    return req.to().tag === wanted;
  }

  /** Passes a response from the TU to the transport; false when the state no longer allows it. */
  respond(response: SipResponse): boolean {
    const status = response.status;
    if (this.finalSent) {
      // RFC 6026 §7.1, RFC 3261 §16.7 step 5: every 2xx to an INVITE goes upstream, whatever was
      // sent before (retransmissions, other branches); it is never retransmitted from here.
      if (!this.invite || status < 200 || status >= 300) return false;
      this.host.sendResponse(this, response);
      return true;
    }
    this.last = response;
    this.host.sendResponse(this, response);
    if (status < 200) {
      this.state = 'proceeding';
    } else if (!this.invite) {
      this.state = 'completed';
      this.linger('J', this.times.j);
    } else if (status < 300) {
      this.state = 'accepted';
      this.timers.set('L', this.times.l, () => this.terminate());
    } else {
      this.state = 'completed';
      if (!this.reliable) this.timers.set('G', this.retransmitInterval, () => this.retransmit());
      // Without an ACK in 64*T1 the peer is gone (§17.2.1).
      this.timers.set('H', this.times.h, () => this.terminate());
    }
    return true;
  }

  /** A retransmission of the request: the last response goes out again (§17.2.1, §17.2.2). */
  receiveRetransmission(): void {
    if ((this.state === 'proceeding' || this.state === 'completed') && this.last) {
      this.host.sendResponse(this, this.last);
    }
  }

  /** An ACK for the non-2xx final response: stop retransmitting it, absorb further ACKs (I). */
  receiveAck(): void {
    if (this.state !== 'completed' || !this.invite) return;
    this.state = 'confirmed';
    this.timers.cancel('G');
    this.timers.cancel('H');
    this.linger('I', this.times.i);
  }

  /** Stops everything and leaves the table (also used when the layer shuts down). */
  terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.timers.clear();
    this.host.terminated(this);
  }

  private retransmit(): void {
    if (this.state !== 'completed' || !this.last) return;
    this.host.sendResponse(this, this.last);
    this.retransmitInterval = doubled(this.retransmitInterval, this.times.t2);
    this.timers.set('G', this.retransmitInterval, () => this.retransmit());
  }

  /** Waits `ms` (zero on reliable transports) before Terminated. */
  private linger(timer: 'I' | 'J', ms: number): void {
    if (ms === 0) this.terminate();
    else this.timers.set(timer, ms, () => this.terminate());
  }
}
