// The script's view of one message: the message, where it came from, AVPs and flags, and the
// actions (reply, forward, drop). Pseudo-variables are read through the shared registry.
import type { Logger } from '../log/logger.js';
import { createResponse, parseUri, type SipRequest, type SipResponse, type Uri } from '../sip/index.js';
import type { LocalSocket, Myself } from '../features/routing/myself.js';
import { recordRouteValues } from '../features/routing/record-route.js';
import type { ProxyFeatures } from '../features/proxy-features.js';
import type { AuthKind, AuthResult } from '../features/auth/index.js';
import { applyBinding, type SaveResult } from '../features/registrar/index.js';
import type { FailureHook, OutboundSocket, RelayResult, TransactionLayer } from '../tm/index.js';
import { hostPort } from '../transport/listen-spec.js';
import { looseRoute } from '../features/routing/loose-route.js';
import { checkMaxForwards, type MaxForwardsVerdict } from '../features/routing/max-forwards.js';
import type { Endpoint, Inbound, TlsSessionInfo } from '../transport/types.js';
import type { Proto } from '../transport/listen-spec.js';
import type { PvRegistry, PvValue } from './pv.js';
import type { StatelessCore, TlsSelection } from './stateless.js';

const NO_HEADERS: ReadonlyArray<readonly [string, string]> = [];

export type HeaderList = Record<string, string> | Array<[string, string]>;

export interface ContextServices {
  core: StatelessCore;
  pvs: PvRegistry<MessageContext>;
  log: Logger;
  /** Names of the AVPs that choose the TLS client domain (client_tls_domain_avp, client_sip_domain_avp). */
  tlsAvps: { domain?: string; sipDomain?: string };
  /** This server's names: listeners and aliases. */
  myself: () => Myself;
  /** Stateful relaying. */
  tm: TransactionLayer;
  /** Digest authentication and the registrar, when the server was started with them. */
  features: ProxyFeatures | undefined;
}

/** What request and reply contexts share. */
export abstract class MessageContext<M extends SipRequest | SipResponse = SipRequest | SipResponse> {
  // Created on first use: most messages never touch AVPs or flags.
  #avp: Map<string, unknown> | undefined;
  #flags: Set<string | number> | undefined;
  readonly log: Logger;
  protected done: 'replied' | 'forwarded' | 'dropped' | undefined;

  constructor(
    readonly msg: M,
    readonly inbound: Inbound,
    protected readonly services: ContextServices,
  ) {
    this.log = services.log;
  }

  /** Attribute-value pairs (OpenSIPS AVPs) that live as long as this message's processing. */
  get avp(): Map<string, unknown> {
    return (this.#avp ??= new Map());
  }

  /** Message flags (setflag/isflagset). */
  get flags(): Set<string | number> {
    return (this.#flags ??= new Set());
  }

  /** Protocol the message arrived over: `udp`, `tcp` or `tls`. */
  get proto(): Proto {
    return this.inbound.proto;
  }

  /** The peer's address ($si, $sp). */
  get source(): Endpoint {
    return this.inbound.remote;
  }

  /** Our socket that received the message ($Ri, $Rp). */
  get destination(): Endpoint {
    return this.inbound.local;
  }

  get tls(): TlsSessionInfo | undefined {
    return this.inbound.tls;
  }

  /** What the script did with the message, if anything. */
  get outcome(): 'replied' | 'forwarded' | 'dropped' | undefined {
    return this.done;
  }

  /** OpenSIPS `is_peer_verified()`: received over TLS from a peer whose certificate verified. */
  isPeerVerified(): boolean {
    return this.inbound.proto === 'tls' && this.inbound.tls?.peer.verified === true;
  }

  /** Reads a pseudo-variable by its operator name: `ctx.pv('$rd')`, `ctx.pv('$hdr(Via)')`. */
  pv(expr: string): PvValue {
    return this.services.pvs.get(this, expr);
  }

  /** Expands the pseudo-variables of a template: `ctx.expand('from $si over $pr')`. */
  expand(template: string): string {
    return this.services.pvs.expand(this, template);
  }

  /** Stops processing: nothing is sent. */
  drop(): void {
    this.done ??= 'dropped';
  }
}

export class RequestContext extends MessageContext<SipRequest> {
  private recordRouted = false;

  /** Whether a URI (text or parsed) or a host names this server (OpenSIPS/Kamailio `myself`). */
  isMyself(target: string | Uri): boolean {
    if (typeof target !== 'string') return this.services.myself().isMyself(target);
    const uri = parseUri(target);
    return uri.ok
      ? this.services.myself().isMyself(uri.value)
      : this.services.myself().isMyselfHost(target, undefined);
  }

  /**
   * record_route(): sipsd stays on the dialog's path; the entries are added when the request is
   * forwarded, two of them when it leaves by another transport or interface.
   */
  recordRoute(): void {
    this.recordRouted = true;
  }

  /** loose_route(): takes our own entries off the Route set; true when the request has a route to follow. */
  looseRoute(): boolean {
    return looseRoute(this.msg, this.services.myself()).routed;
  }

  /** Max-Forwards on receipt: `too-many-hops` calls for a 483 (mf_process_maxfwd_header). */
  checkMaxForwards(): MaxForwardsVerdict {
    return checkMaxForwards(this.msg);
  }

  /**
   * Sends a stateless reply (OpenSIPS `sl_send_reply`); extra headers are added in order.
   * A To tag is added to final replies so the peer can match them.
   */
  reply(status: number, reason?: string, headers?: HeaderList): Promise<void> {
    // Not an async function: the promise the transport returns is handed on as it is, rather than
    // wrapped in another one per reply (the resolved value carries no meaning for the script).
    try {
      const extra = headers ? (Array.isArray(headers) ? headers : Object.entries(headers)) : NO_HEADERS;
      const response = createResponse(this.msg, status, reason, extra, this.services.core.replyTag());
      this.done = 'replied';
      return this.services.core.reply(this.inbound, response) as Promise<void>;
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  /**
   * Stateless forward (OpenSIPS `forward()`): to `destination` (`tls:host:port`, `sip:...`) or, by
   * default, to the top Route / Request-URI. For a new TLS connection the client domain comes from
   * `tls` or, as in OpenSIPS, from the AVPs named by client_tls_domain_avp / client_sip_domain_avp.
   * Rejects with the reason if it cannot be sent.
   */
  async forward(destination?: string, tls: TlsSelection = {}): Promise<void> {
    await this.services.core.forwardRequest(
      this.msg,
      destination ?? this.dstUri,
      this.tlsChoice(tls),
      this.recordRouted ? this.inboundSocket : undefined,
    );
    this.done = 'forwarded';
  }

  /**
   * Stateful relay (OpenSIPS `t_relay`): to `destination` (several: parallel forking), else the
   * destination set by lookup() ($du), the top Route or the Request-URI. The transaction answers
   * upstream: the best response, 408 on timeout, 503 when the transport fails, after
   * `onFailure` (which may relay elsewhere) had its say.
   */
  async relay(
    destination?: string | readonly string[],
    options: { tls?: TlsSelection; onFailure?: FailureHook } = {},
  ): Promise<RelayResult> {
    const from = this.inboundSocket;
    const result = await this.services.tm.relay(this.msg, this.inbound, destination ?? this.dstUri, {
      tls: this.tlsChoice(options.tls ?? {}),
      ...(options.onFailure && { onFailure: options.onFailure }),
      ...(this.recordRouted && { recordRoute: (out: OutboundSocket) => recordRouteValues(from, out) }),
    });
    this.done = 'forwarded';
    return result;
  }

  /**
   * Checks the request's digest credentials (OpenSIPS www_authorize / proxy_authorize) against
   * the subscriber table; `kind` `www` for REGISTER (401), `proxy` for other requests (407).
   */
  authorize(
    kind: AuthKind = this.msg.method === 'REGISTER' ? 'www' : 'proxy',
    realm?: string,
  ): Promise<AuthResult> {
    return this.features.auth.authorize(this.msg, kind, realm);
  }

  /** Answers 401/407 with a fresh challenge (stale=true when the nonce had expired). */
  async challenge(result: AuthResult): Promise<void> {
    const spec = this.features.auth.challengeFor(result);
    if (!spec) return this.reply(500, 'Server Internal Error');
    await this.reply(spec.status, spec.reason, spec.headers);
  }

  /** consume_credentials(): removes the credentials that authenticated, before relaying. */
  consumeCredentials(result: AuthResult): boolean {
    return this.features.auth.consumeCredentials(this.msg, result);
  }

  /** save("location") for a REGISTER: updates the bindings and sends the answer (200, 423, ...). */
  async save(aor?: string): Promise<SaveResult> {
    const result = await this.features.registrar.save(this.msg, {
      source: { proto: this.proto, ...this.source },
      socket: `${this.proto}:${hostPort(this.destination.address, this.destination.port)}`,
      ...(aor !== undefined && { aor }),
    });
    await this.reply(result.status, result.reason, result.headers);
    return result;
  }

  /**
   * lookup("location"): the Request-URI becomes the best current contact of the AoR (default: the
   * Request-URI), its Path becomes Route headers, and its received address the destination ($du)
   * that forward() and relay() use. False when the AoR has no binding.
   */
  lookup(aor: string = this.msg.uri): boolean {
    const binding = this.features.registrar.lookup(aor)[0];
    if (!binding) return false;
    const received = applyBinding(this.msg, binding);
    this.dstUri = received;
    return true;
  }

  /** The destination set by lookup() (OpenSIPS $du); forward() and relay() use it when given none. */
  dstUri: string | undefined;

  private get features(): ProxyFeatures {
    const f = this.services.features;
    if (!f) throw new Error('authentication and the registrar are not available in this server');
    return f;
  }

  private get inboundSocket(): LocalSocket {
    return { proto: this.proto, ...this.destination };
  }

  /** The TLS client domain: the script's choice, else the AVPs named by client_*_avp (OpenSIPS). */
  private tlsChoice(tls: TlsSelection): TlsSelection {
    const avps = this.services.tlsAvps;
    const fromAvp = (name: string | undefined) => {
      const v = name === undefined ? undefined : this.avp.get(name);
      return v === undefined || v === null ? undefined : String(v);
    };
    return {
      domain: tls.domain ?? fromAvp(avps.domain),
      sipDomain: tls.sipDomain ?? fromAvp(avps.sipDomain),
    };
  }
}

export class ReplyContext extends MessageContext<SipResponse> {}
