// Client transactions (RFC 3261 §17.1.1 INVITE, §17.1.2 non-INVITE, with the Accepted state of
// RFC 6026): they send a request, retransmit it over UDP (timers A and E), give up when no answer
// comes (B, F), ACK non-2xx final responses to INVITE themselves (hop by hop) and absorb the
// retransmissions of final responses (D, K); a 2xx and its retransmissions go up (M).
import type { SipResponse } from '../sip/index.js';
import type { SendTarget, SentFrom } from '../transport/types.js';
import type { TimerValues } from './config.js';
import { errorText } from './text.js';
import { doubled, TimerSet } from './timers.js';

/** Stands in for the bytes a transaction no longer needs, so they can be freed. */
export const RELEASED = Buffer.alloc(0);

export type ClientState = 'calling' | 'trying' | 'proceeding' | 'completed' | 'accepted' | 'terminated';

/** Where a client transaction reports to: the branch of a relay. */
export interface ClientOwner {
  /** Provisional responses, the first non-2xx final response, and every 2xx. */
  response(res: SipResponse): void;
  /** Timer B or F fired without a (final) response. */
  timeout(): void;
  /** The transport could not send a retransmission (§17.1.4); a failed first send is start()'s result. */
  transportError(reason: string): void;
}

/** What a client transaction needs from the layer that owns it. */
export interface ClientHost {
  send(target: SendTarget, data: Buffer): Promise<SentFrom>;
  terminated(tx: ClientTransaction): void;
  /** Terminates `tx` after `ms` (timer M), among many others. */
  expireAfter(ms: number, tx: ClientTransaction): void;
}

export class ClientTransaction {
  state: ClientState;
  readonly invite: boolean;
  /** The connection the request left on, so an ACK or CANCEL follows it. */
  sentFrom: SentFrom | undefined;
  private readonly timers = new TimerSet<'A' | 'B' | 'D' | 'E' | 'F' | 'K'>();
  private interval: number;
  private ack: Buffer | undefined;

  constructor(
    readonly key: string,
    readonly method: string,
    private data: Buffer,
    private readonly target: SendTarget,
    private readonly times: TimerValues,
    private readonly host: ClientHost,
    private owner: ClientOwner,
    /** Builds the ACK of a non-2xx final response (INVITE only). */
    private buildAck?: (res: SipResponse) => Buffer,
  ) {
    this.invite = method === 'INVITE';
    this.state = this.invite ? 'calling' : 'trying';
    this.interval = times.t1;
  }

  get reliable(): boolean {
    return this.target.proto !== 'udp';
  }

  /** Where the request went, for requests that must follow it (ACK, CANCEL). */
  get destination(): SendTarget {
    const connectionId = this.sentFrom?.connectionId;
    return connectionId === undefined ? this.target : { ...this.target, connectionId };
  }

  /**
   * Sends the request and arms the timers. Resolves to why it could not be sent, the transaction
   * then being over: the owner decides whether another target is tried (RFC 3263 §4.3).
   */
  start(): Promise<string | undefined> {
    if (!this.reliable) this.timers.set(this.invite ? 'A' : 'E', this.interval, () => this.retransmit());
    this.timers.set(this.invite ? 'B' : 'F', this.invite ? this.times.b : this.times.f, () => {
      if (this.state !== 'calling' && this.state !== 'trying' && this.state !== 'proceeding') return;
      this.terminate();
      this.owner.timeout();
    });
    // One promise from the transport, two handlers: no async function around it per request.
    let sending: Promise<SentFrom>;
    try {
      sending = this.host.send(this.target, this.data);
    } catch (err) {
      sending = Promise.reject(err as Error);
    }
    return sending.then(
      (sentFrom) => {
        this.sentFrom = sentFrom;
        return undefined;
      },
      (err: unknown) => {
        this.terminate();
        return errorText(err);
      },
    );
  }

  /** Reports to `owner` from now on: a relay with no more to do hands over to a smaller one. */
  handOver(owner: ClientOwner): void {
    this.owner = owner;
  }

  receive(res: SipResponse): void {
    const status = res.status;
    switch (this.state) {
      case 'calling':
      case 'trying':
      case 'proceeding':
        if (status < 200) {
          this.proceed();
        } else if (status < 300 && this.invite) {
          this.state = 'accepted';
          this.stopRetransmitting();
          // Timer M keeps the transaction for 64*T1, only to pass on 2xx retransmissions: the request
          // (never sent again) and the ACK builder (for non-2xx) need not stay in memory that long.
          this.data = RELEASED;
          this.buildAck = undefined;
          this.host.expireAfter(this.times.m, this);
        } else {
          this.complete(res);
        }
        this.owner.response(res);
        return;
      case 'accepted':
        if (status >= 200 && status < 300) this.owner.response(res);
        return;
      case 'completed':
        // A retransmitted final response: the ACK went missing (INVITE), or nothing to do.
        if (this.ack && status >= 300) this.sendQuietly(this.ack);
        return;
      case 'terminated':
        return;
    }
  }

  terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.timers.clear();
    this.host.terminated(this);
  }

  private proceed(): void {
    if (this.state === 'proceeding') return;
    this.state = 'proceeding';
    if (this.invite) {
      // §17.1.1.2: a provisional response stops INVITE retransmissions and timer B.
      this.stopRetransmitting();
      this.timers.cancel('B');
    } else if (this.timers.has('E')) {
      // §17.1.2.2: in Proceeding, non-INVITE requests are retransmitted every T2.
      this.interval = this.times.t2;
      this.timers.set('E', this.interval, () => this.retransmit());
    }
  }

  private complete(res: SipResponse): void {
    this.state = 'completed';
    this.stopRetransmitting();
    this.timers.cancel('B');
    this.timers.cancel('F');
    if (this.invite && this.buildAck) {
      this.ack = this.buildAck(res);
      this.sendQuietly(this.ack);
    }
    const wait = this.invite ? this.times.d : this.times.k;
    if (wait === 0) this.terminate();
    else this.timers.set(this.invite ? 'D' : 'K', wait, () => this.terminate());
  }

  private retransmit(): void {
    if (this.state !== 'calling' && this.state !== 'trying' && this.state !== 'proceeding') return;
    // A doubles without a cap (§17.1.1.2); E doubles up to T2 (§17.1.2.2).
    this.interval = this.invite ? doubled(this.interval) : doubled(this.interval, this.times.t2);
    this.timers.set(this.invite ? 'A' : 'E', this.interval, () => this.retransmit());
    this.host.send(this.destination, this.data).catch((err: unknown) => this.fail(err));
  }

  private stopRetransmitting(): void {
    this.timers.cancel('A');
    this.timers.cancel('E');
  }

  /** ACKs are not transactions: a lost one is sent again when the response is. */
  private sendQuietly(data: Buffer): void {
    this.host.send(this.destination, data).catch(() => undefined);
  }

  /** A retransmission could not be sent (§17.1.4). */
  private fail(err: unknown): void {
    if (this.state === 'terminated' || this.state === 'completed' || this.state === 'accepted') return;
    this.terminate();
    this.owner.transportError(errorText(err));
  }
}
