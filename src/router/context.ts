// The script's view of one message: the message, where it came from, AVPs and flags, and the
// actions (reply, forward, drop). Pseudo-variables are read through the shared registry.
import type { Logger } from '../log/logger.js';
import { createResponse, parseUri, type SipRequest, type SipResponse, type Uri } from '../sip/index.js';
import type { Myself } from '../features/routing/myself.js';
import { looseRoute } from '../features/routing/loose-route.js';
import { checkMaxForwards, type MaxForwardsVerdict } from '../features/routing/max-forwards.js';
import type { Endpoint, Inbound, TlsSessionInfo } from '../transport/types.js';
import type { Proto } from '../transport/listen-spec.js';
import type { PvRegistry, PvValue } from './pv.js';
import type { StatelessCore, TlsSelection } from './stateless.js';

export type HeaderList = Record<string, string> | Array<[string, string]>;

export interface ContextServices {
  core: StatelessCore;
  pvs: PvRegistry<MessageContext>;
  log: Logger;
  /** Names of the AVPs that choose the TLS client domain (client_tls_domain_avp, client_sip_domain_avp). */
  tlsAvps: { domain?: string; sipDomain?: string };
  /** This server's names: listeners and aliases. */
  myself: () => Myself;
}

/** What request and reply contexts share. */
export abstract class MessageContext<M extends SipRequest | SipResponse = SipRequest | SipResponse> {
  /** Attribute-value pairs (OpenSIPS AVPs) that live as long as this message's processing. */
  readonly avp = new Map<string, unknown>();
  /** Message flags (setflag/isflagset). */
  readonly flags = new Set<string | number>();
  readonly log: Logger;
  protected done: 'replied' | 'forwarded' | 'dropped' | undefined;

  constructor(
    readonly msg: M,
    readonly inbound: Inbound,
    protected readonly services: ContextServices,
  ) {
    this.log = services.log;
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
  async reply(status: number, reason?: string, headers?: HeaderList): Promise<void> {
    const extra = headers ? (Array.isArray(headers) ? headers : Object.entries(headers)) : [];
    const response = createResponse(this.msg, status, reason, extra);
    this.done = 'replied';
    await this.services.core.reply(this.inbound, response);
  }

  /**
   * Stateless forward (OpenSIPS `forward()`): to `destination` (`tls:host:port`, `sip:...`) or, by
   * default, to the top Route / Request-URI. For a new TLS connection the client domain comes from
   * `tls` or, as in OpenSIPS, from the AVPs named by client_tls_domain_avp / client_sip_domain_avp.
   * Rejects with the reason if it cannot be sent.
   */
  async forward(destination?: string, tls: TlsSelection = {}): Promise<void> {
    const avps = this.services.tlsAvps;
    const fromAvp = (name: string | undefined) => {
      const v = name === undefined ? undefined : this.avp.get(name);
      return v === undefined || v === null ? undefined : String(v);
    };
    await this.services.core.forwardRequest(
      this.msg,
      destination,
      {
        domain: tls.domain ?? fromAvp(avps.domain),
        sipDomain: tls.sipDomain ?? fromAvp(avps.sipDomain),
      },
      this.recordRouted ? { proto: this.proto, ...this.destination } : undefined,
    );
    this.done = 'forwarded';
  }
}

export class ReplyContext extends MessageContext<SipResponse> {}
