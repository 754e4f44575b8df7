// Server transactions (RFC 3261 §17.2.1 INVITE, §17.2.2 non-INVITE, with the Accepted state of
// RFC 6026): they absorb retransmitted requests by sending the last response again, retransmit
// non-2xx final responses to INVITE over UDP until the ACK comes (timer G, H), absorb that ACK, and
// linger after the final response only as long as retransmissions can still arrive (I, J, L).
// The request itself is its TU's (the relay's): what lingers here is a small record.
import type { SipRequest, SipResponse } from '../sip/index.js';
import type { Inbound } from '../transport/types.js';
import { RELEASED } from './client.js';
import type { TimerValues } from './config.js';
import { doubled, TimerSet } from './timers.js';

export type ServerState = 'trying' | 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated';

/** What a server transaction needs from the layer that owns it. */
export interface ServerHost {
  /** Sends a response along the request's Via (RFC 3261 §18.2.2); failures are the host's to log. */
  sendResponse(tx: ServerTransaction, response: SipResponse): void;
  /** The transaction reached Terminated: forget it. */
  terminated(tx: ServerTransaction): void;
  /** Terminates `tx` after `ms` (timer L), among many others. */
  expireAfter(ms: number, tx: ServerTransaction): void;
}

/** The TU side of a server transaction: the relay working on its request, while it has work. */
export interface ServerOwner {
  /** A matching CANCEL arrived (RFC 3261 §9.2, §16.10). */
  cancel(): void;
  /** The transaction is over: stop the timers that would still act on it. */
  dispose(): void;
}

export class ServerTransaction {
  state: ServerState;
  readonly invite: boolean;
  /** The relay answering this request, while it works on it: a CANCEL acts on it. */
  owner: ServerOwner | undefined;
  /** The last response, while it may be sent again (2xx never are: not kept in Accepted). */
  private last: SipResponse | undefined;
  /** RFC 2543 matching: retransmissions and CANCELs carry the request's To tag. */
  readonly #requestToTag: string | undefined;
  #inbound: Inbound;
  private readonly timers = new TimerSet<'G' | 'H' | 'I' | 'J'>();
  private retransmitInterval: number;

  constructor(
    readonly key: string,
    /** RFC 2543 matching: the To tag is compared too. */
    readonly legacy: boolean,
    request: SipRequest,
    inbound: Inbound,
    private readonly times: TimerValues,
    private readonly host: ServerHost,
  ) {
    this.invite = request.method === 'INVITE';
    this.state = this.invite ? 'proceeding' : 'trying';
    this.retransmitInterval = times.t1;
    this.#requestToTag = legacy ? request.to().tag : undefined;
    this.#inbound = inbound;
  }

  /** Where the request came from, for the responses; after the final one, without its bytes. */
  get inbound(): Inbound {
    return this.#inbound;
  }

  /** Over UDP responses are retransmitted and the wait states last; over TCP/TLS they do not. */
  get reliable(): boolean {
    return this.inbound.proto !== 'udp';
  }

  /** A final response went out (or the transaction is over). */
  get finalSent(): boolean {
    return this.state !== 'trying' && this.state !== 'proceeding';
  }

  /**
   * For RFC 2543 matching: a retransmission or CANCEL carries the request's To tag, an ACK the tag
   * of our final response (§17.2.3). In Accepted no ACK matches: the script routes it either way.
   */
  toTagMatches(req: SipRequest): boolean {
    if (!this.legacy) return true;
    const wanted = req.method === 'ACK' ? this.last?.to().tag : this.#requestToTag;
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
      return true;
    }
    // From here on only the reply target is needed, not the request's bytes.
    this.#inbound = { ...this.#inbound, data: RELEASED };
    if (!this.invite) {
      this.state = 'completed';
      this.linger('J', this.times.j);
    } else if (status < 300) {
      this.state = 'accepted';
      this.last = undefined;
      this.host.expireAfter(this.times.l, this);
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
