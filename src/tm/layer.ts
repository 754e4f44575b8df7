// The transaction layer between the router and the transport: it sees every request before the
// script does (retransmissions, ACKs of non-2xx responses and CANCELs of known INVITEs never reach
// it), every response before the stateless path does (those of our client transactions stay here),
// and relays requests statefully for the script (OpenSIPS t_relay). Tables are bounded: a request
// beyond tm_max_transactions is answered 503, and transactions leave after their last timer.
import type { Logger } from '../log/logger.js';
import { createResponse, type SipRequest, type SipResponse } from '../sip/index.js';
import type { Proto } from '../transport/listen-spec.js';
import type { Endpoint, Inbound, SendTarget, SentFrom } from '../transport/types.js';
import { ClientTransaction, type ClientHost, type ClientOwner } from './client.js';
import { timerValues, type TimerValues, type TmSettings } from './config.js';
import { clientKey, clientKeyOfResponse, serverKey, type ServerKey } from './keys.js';
import { Relay, type BranchResult, type RelayHost, type RelayOptions } from './relay.js';
import { ServerTransaction, type ServerHost } from './server.js';
import { planDestination, systemLocator, type TargetLocator, type TlsChoice } from './target.js';
import { errorText, warningValue } from './text.js';
import { ExpiryQueue, type Expiring } from './timers.js';

/** The transport as the transaction layer uses it (TransportLayer satisfies it). */
export interface TransportPort {
  send(target: SendTarget, data: Buffer): Promise<SentFrom>;
  localFor(proto: Proto, remoteAddress: string): Endpoint | undefined;
}

/** The stateless path (the router's StatelessCore satisfies it). */
export interface StatelessPort {
  /** Sends a response along the Via of the request that came in as `inbound`. */
  reply(inbound: Inbound, response: SipResponse): Promise<unknown>;
  /** Forwards a request without a transaction (ACK for a 2xx, unknown CANCEL). */
  forwardRequest(req: SipRequest, dest: string | undefined, tls?: TlsChoice): Promise<void>;
}

export interface TransactionLayerDeps {
  transport: TransportPort;
  stateless: StatelessPort;
  settings: TmSettings;
  /** Default port of TLS destinations written without one (tls_port). */
  tlsPort: number;
  log: Logger;
  /** RFC 3263 target selection per branch; default: the host looked up by the system resolver. */
  locate?: TargetLocator;
}

export interface RelayResult {
  /** At least one branch was handed to the transport. */
  sent: boolean;
  /** Why nothing was relayed statefully, when no branch was created. */
  reason?: string;
  branches: BranchResult[];
}

export interface TransactionCounts {
  server: number;
  client: number;
}

export class TransactionLayer {
  private readonly servers = new Map<string, ServerTransaction>();
  private readonly clients = new Map<string, ClientTransaction>();
  private readonly transport: TransportPort;
  private readonly stateless: StatelessPort;
  private readonly settings: TmSettings;
  private readonly tlsPort: number;
  private readonly log: Logger;
  private readonly udpTimers: TimerValues;
  private readonly reliableTimers: TimerValues;
  private readonly serverHost: ServerHost;
  private readonly clientHost: ClientHost;
  private readonly relayHost: RelayHost;
  /** Timers L and M, by duration (64*T1 for both, whatever the transport: one queue). */
  private readonly expiries = new Map<number, ExpiryQueue>();

  constructor(deps: TransactionLayerDeps) {
    this.transport = deps.transport;
    this.stateless = deps.stateless;
    this.settings = deps.settings;
    this.tlsPort = deps.tlsPort;
    this.log = deps.log;
    this.udpTimers = timerValues(this.settings, false);
    this.reliableTimers = timerValues(this.settings, true);
    this.serverHost = {
      sendResponse: (tx, response) => this.replyQuietly(tx.inbound, response),
      terminated: (tx) => {
        if (this.servers.get(tx.key) === tx) this.servers.delete(tx.key);
        tx.owner?.dispose();
      },
      expireAfter: (ms, tx) => this.expireAfter(ms, tx),
    };
    this.clientHost = {
      send: (target, data) => this.transport.send(target, data),
      terminated: (tx) => {
        if (this.clients.get(tx.key) === tx) this.clients.delete(tx.key);
      },
      expireAfter: (ms, tx) => this.expireAfter(ms, tx),
    };
    this.relayHost = {
      tlsPort: this.tlsPort,
      log: this.log,
      restartOnProvisional: this.settings.restartOnProvisional,
      timers: this.udpTimers,
      locate: deps.locate ?? systemLocator,
      localFor: (proto, address) => this.transport.localFor(proto, address),
      client: (branch, method, data, target, owner, buildAck) =>
        this.createClient(branch, method, data, target, owner, buildAck),
    };
  }

  /** Transactions in the tables now. */
  counts(): TransactionCounts {
    return { server: this.servers.size, client: this.clients.size };
  }

  /**
   * Call for every request before the script runs. True when the request was taken care of here
   * (a retransmission answered with the last response, an ACK of a non-2xx response absorbed, a
   * CANCEL of a known INVITE answered and applied); false when the script is to route it.
   */
  handleRequest(req: SipRequest, inbound: Inbound): boolean {
    if (req.method === 'CANCEL') return this.handleCancel(req, inbound);
    const tx = this.findServer(req, serverKey(req));
    if (!tx) return false;
    if (req.method !== 'ACK') {
      tx.receiveRetransmission();
      return true;
    }
    // The ACK of a 2xx is a transaction of its own, end to end (§17.1.1.3): the script routes it.
    if (tx.state === 'accepted') return false;
    tx.receiveAck();
    return true;
  }

  /** Call for every response (after the script's reply hook). True when a client transaction took it. */
  handleResponse(res: SipResponse): boolean {
    const key = clientKeyOfResponse(res);
    const tx = key === undefined ? undefined : this.clients.get(key);
    if (!tx) return false;
    tx.receive(res);
    return true;
  }

  /**
   * Relays a request statefully (OpenSIPS t_relay): to `destination` (`tls:host:port`, a SIP URI;
   * several for parallel forking) or to the top Route / Request-URI. The transaction owns the answer
   * from then on: the best response, a 408 on timeout, a 503 when the transport fails, each after the
   * failure hook (`options.onFailure`) had its say. An ACK and an unknown CANCEL are forwarded
   * statelessly. Throws when a destination cannot be parsed (a script mistake).
   */
  async relay(
    req: SipRequest,
    inbound: Inbound,
    destination?: string | readonly string[],
    options: RelayOptions = {},
  ): Promise<RelayResult> {
    const destinations =
      typeof destination === 'string' || destination === undefined ? [destination] : destination;
    if (destinations.length === 0) throw new Error('relay() needs at least one destination');
    if (req.method === 'ACK' || req.method === 'CANCEL')
      return this.forwardStateless(req, destinations, options);
    const plans = destinations.map((d) => planDestination(req, d, this.tlsPort));
    const key = serverKey(req);
    if (this.findServer(req, key)) {
      return {
        sent: false,
        reason: 'a transaction for this request exists (a retransmission)',
        branches: [],
      };
    }
    if (req.maxForwards() === 0) return this.refuse(req, inbound, 483, 'Too Many Hops', 'Max-Forwards is 0');
    if (this.servers.size >= this.settings.maxTransactions) {
      return this.refuse(
        req,
        inbound,
        503,
        'Service Unavailable',
        'transaction table full (tm_max_transactions)',
      );
    }
    const server = this.createServer(key, req, inbound);
    // §16.2: the upstream retransmits until it hears from us, and a relayed INVITE takes a while.
    if (server.invite && this.settings.auto100Trying) server.respond(createResponse(req, 100));
    const relay = new Relay(server, req, this.relayHost);
    if (plans.length === 1) {
      // The usual single destination: one branch, without Promise.all's arrays and promises.
      const branch = await relay.addBranch(destinations[0], options, plans[0]);
      return { sent: branch.sent, branches: [branch] };
    }
    const branches = await Promise.all(
      plans.map((plan, i) => relay.addBranch(destinations[i], options, plan)),
    );
    return { sent: branches.some((b) => b.sent), branches };
  }

  /** Ends every transaction and its timers (server shutdown). */
  stop(): void {
    for (const tx of [...this.servers.values()]) tx.terminate();
    for (const tx of [...this.clients.values()]) tx.terminate();
    for (const queue of this.expiries.values()) queue.clear();
  }

  private expireAfter(ms: number, tx: Expiring): void {
    let queue = this.expiries.get(ms);
    if (!queue) this.expiries.set(ms, (queue = new ExpiryQueue(ms)));
    queue.add(tx);
  }

  /** §9.2, §16.10: a CANCEL is answered by its own transaction and applied to its INVITE's. */
  private handleCancel(req: SipRequest, inbound: Inbound): boolean {
    const own = serverKey(req);
    const retransmitted = this.findServer(req, own);
    if (retransmitted) {
      retransmitted.receiveRetransmission();
      return true;
    }
    const invite = this.findServer(req, serverKey(req, 'INVITE'));
    // Unknown: the INVITE went statelessly, or is not ours; the script forwards the CANCEL.
    if (!invite) return false;
    const ok = createResponse(req, 200);
    if (this.servers.size < this.settings.maxTransactions) this.createServer(own, req, inbound).respond(ok);
    else this.replyQuietly(inbound, ok);
    // After the final response the CANCEL has no effect (§9.2) but is still answered 200.
    if (!invite.finalSent) invite.owner?.cancel();
    return true;
  }

  /** Responses are sent without waiting; a failure is only logged (§17.2.4 has no further remedy here). */
  private replyQuietly(inbound: Inbound, response: SipResponse): void {
    this.stateless
      .reply(inbound, response)
      .catch((err: unknown) =>
        this.log.info(
          { status: response.status, callId: response.callId, err: errorText(err) },
          'response not sent',
        ),
      );
  }

  private findServer(req: SipRequest, key: ServerKey): ServerTransaction | undefined {
    const tx = this.servers.get(key.key);
    return tx && tx.toTagMatches(req) ? tx : undefined;
  }

  private createServer(key: ServerKey, req: SipRequest, inbound: Inbound): ServerTransaction {
    const times = inbound.proto === 'udp' ? this.udpTimers : this.reliableTimers;
    const tx = new ServerTransaction(key.key, key.legacy, req, inbound, times, this.serverHost);
    this.servers.set(key.key, tx);
    return tx;
  }

  private createClient(
    branch: string,
    method: string,
    data: Buffer,
    target: SendTarget,
    owner: ClientOwner,
    buildAck?: (res: SipResponse) => Buffer,
  ): ClientTransaction {
    const key = clientKey(branch, method);
    const times = target.proto === 'udp' ? this.udpTimers : this.reliableTimers;
    const tx = new ClientTransaction(key, method, data, target, times, this.clientHost, owner, buildAck);
    this.clients.get(key)?.terminate();
    this.clients.set(key, tx);
    return tx;
  }

  private async forwardStateless(
    req: SipRequest,
    destinations: ReadonlyArray<string | undefined>,
    options: RelayOptions,
  ): Promise<RelayResult> {
    const branches: BranchResult[] = [];
    for (const [i, destination] of destinations.entries()) {
      const label = destination ?? req.uri;
      try {
        await this.stateless.forwardRequest(req, destination, options.tls ?? {});
        branches.push({ sent: true, branch: i, destination: label });
      } catch (err) {
        branches.push({ sent: false, branch: i, destination: label, reason: errorText(err) });
      }
    }
    return { sent: branches.some((b) => b.sent), reason: 'forwarded statelessly', branches };
  }

  /** Answers without relaying (no transaction is kept: a retransmission gets the same answer). */
  private async refuse(
    req: SipRequest,
    inbound: Inbound,
    status: number,
    reason: string,
    why: string,
  ): Promise<RelayResult> {
    this.log.info({ callId: req.callId, method: req.method, status, why }, 'not relayed');
    await this.stateless.reply(
      inbound,
      createResponse(req, status, reason, [['Warning', warningValue(why)]]),
    );
    return { sent: false, reason: why, branches: [] };
  }
}
