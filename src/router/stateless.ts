// Stateless message handling (OpenSIPS `forward()` / `sl_send_reply()`): where replies go (RFC 3261
// §18.2.2 with RFC 3581 rport), Via insertion with a stateless branch (§16.11), and relaying replies
// back along the Via path. Transactions (stateful relay) build on top of this in the tm layer.
import { hash, randomBytes } from 'node:crypto';
import {
  BRANCH_MAGIC_COOKIE,
  formatVia,
  generateTag,
  serializeForwarded,
  serializeMessage,
  type SipRequest,
  type SipResponse,
  type Via,
} from '../sip/index.js';
import { hostPort, SIP_PORT, type Proto } from '../transport/listen-spec.js';
import type { TransportLayer } from '../transport/transport-layer.js';
import type { Inbound, SendTarget } from '../transport/types.js';
import { locateTargets, toTarget } from './destination.js';
import { SipResolver } from '../dns/index.js';
import { recordRouteValues } from '../features/routing/record-route.js';
import type { LocalSocket } from '../features/routing/myself.js';

/** The script's choice of TLS client domain for a forward (OpenSIPS client_*_avp, Kamailio server_id). */
export interface TlsSelection {
  /** Client domain name or server_id; an unknown name fails the send. */
  domain?: string;
  /** SIP domain to match client domains' match_sip_domain against. */
  sipDomain?: string;
}

export class StatelessCore {
  /**
   * Prefix of the To tags of our stateless replies (OpenSIPS sl's tag): the ACK a UAC sends for
   * such a non-2xx reply carries it and is absorbed here instead of being routed on.
   */
  readonly replyTagPrefix = `sl${randomBytes(4).toString('hex')}-`;

  constructor(
    private readonly transport: TransportLayer,
    private readonly tlsPort: number,
    /** RFC 3263 target selection (NAPTR, SRV, A/AAAA) for forwarded requests. */
    private readonly resolver: SipResolver = new SipResolver({ tlsPort }),
  ) {}

  /**
   * Sends a locally generated response to the request that arrived as `inbound`; settles when the
   * transport has it (rejects with the reason it could not). Synchronous up to the transport when
   * the Via names an address, as it nearly always does: no promise of its own per reply.
   */
  reply(inbound: Inbound, response: SipResponse): Promise<unknown> {
    try {
      const via = response.topVia();
      if (!via) throw new Error('the request has no Via to answer to');
      const data = serializeMessage(response);
      const target = this.viaTargetNow(via, inbound);
      if (target) return this.transport.send(target, data);
      return this.viaTarget(via, inbound).then((t) => this.transport.send(t, data));
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  /**
   * Answers a request that could not be parsed: its Via cannot be trusted for routing, so the reply
   * goes straight back to the address (or connection) it came from.
   */
  async replyToSource(inbound: Inbound, response: SipResponse): Promise<void> {
    const target: SendTarget = {
      proto: inbound.proto,
      address: inbound.remote.address,
      port: inbound.remote.port,
    };
    if (inbound.connectionId !== undefined) target.connectionId = inbound.connectionId;
    await this.transport.send(target, serializeMessage(response));
  }

  /**
   * Forwards a request: to `dest` when given, else to the top Route (loose routing) or the
   * Request-URI; adds our Via on top with a branch derived from the incoming one.
   */
  async forwardRequest(
    req: SipRequest,
    dest: string | undefined,
    tls: TlsSelection = {},
    /** record_route(): the socket the request came in on, for our Record-Route entries. */
    recordRouteFrom?: LocalSocket,
  ): Promise<void> {
    // RFC 3263: the targets in order of preference; the next one is tried when a send fails
    // (connection refused, handshake failed), unless disable_dns_failover is set.
    const targets = locateTargets(this.resolver, req, dest, this.tlsPort, tls);
    let failed: Error | undefined;
    for (let target = await targets.next(); target; target = await targets.next()) {
      try {
        return await this.sendRequest(req, target, recordRouteFrom);
      } catch (err) {
        failed = err as Error;
      }
    }
    throw failed ?? new Error(targets.failure?.message ?? 'no target to forward to');
  }

  private async sendRequest(
    req: SipRequest,
    target: SendTarget,
    recordRouteFrom: LocalSocket | undefined,
  ): Promise<void> {
    const local = this.transport.localFor(target.proto, target.address);
    if (!local) throw new Error(`no ${target.proto} listener to send from`);
    const recordRoutes = recordRouteFrom
      ? recordRouteValues(recordRouteFrom, { proto: target.proto, ...local })
      : [];
    const via = `SIP/2.0/${target.proto.toUpperCase()} ${hostPort(local.address, local.port)};branch=${this.branchFor(req)};rport`;
    // The request object stays as the script saw it, so a retry to another destination is clean.
    await this.transport.send(target, serializeForwarded(req, via, recordRoutes));
  }

  /** A To tag for a stateless reply: ours, recognisable in the ACK that answers it. */
  replyTag(): string {
    return this.replyTagPrefix + generateTag();
  }

  /** An ACK for one of our stateless non-2xx replies (RFC 3261 §17.2.1: it ends there). */
  isAckForOurReply(req: SipRequest): boolean {
    return req.method === 'ACK' && (req.to().tag?.startsWith(this.replyTagPrefix) ?? false);
  }

  /**
   * Relays a reply whose top Via is ours to the next Via: returns the send (settled when the
   * transport has it), or false when the reply is not for us.
   */
  forwardResponse(res: SipResponse): Promise<unknown> | false {
    const vias = res.vias();
    if (vias.length < 2 || !this.isOurVia(vias[0]!)) return false;
    const next = vias[1]!;
    res.removeFirstHeaderValue('Via');
    const data = serializeMessage(res);
    const target = this.viaTargetNow(next, undefined);
    if (target) return this.transport.send(target, data);
    return this.viaTarget(next, undefined).then((t) => this.transport.send(t, data));
  }

  isOurVia(via: Via): boolean {
    if (!via.branch?.startsWith(BRANCH_MAGIC_COOKIE + '-sipsd-')) return false;
    const port = via.port ?? (via.transport.toLowerCase() === 'tls' ? this.tlsPort : SIP_PORT);
    return this.transport.listeners().some((l) => l.port === port && sameHost(l.address, via.host));
  }

  /**
   * RFC 3261 §16.11: the branch must be the same for retransmissions and for a CANCEL/ACK of the
   * same request, and differ per hop; a hash of the incoming branch (or the §8.1.1.7 fallback
   * fields for RFC 2543 peers) and the Request-URI gives that without state.
   */
  private branchFor(req: SipRequest): string {
    const top = req.topVia();
    const seed = top?.branch?.startsWith(BRANCH_MAGIC_COOKIE)
      ? top.branch
      : `${req.callId}|${req.cseq().seq}|${req.from().tag ?? ''}|${req.to().tag ?? ''}|${top ? formatVia(top) : ''}`;
    const method = req.method === 'ACK' || req.method === 'CANCEL' ? 'INVITE' : req.method;
    // One-shot hash(): a Hash object per forwarded request costs several times more.
    const digest = hash('sha1', `${seed}|${req.uri}|${method}`, 'base64url').slice(0, 22);
    return `${BRANCH_MAGIC_COOKIE}-sipsd-${digest}`;
  }

  /** RFC 3261 §18.2.2 + RFC 3581: where a response to this Via goes. */
  private async viaTarget(via: Via, inbound: Inbound | undefined): Promise<SendTarget> {
    const { proto, host, port } = this.viaDestination(via);
    const target = await toTarget({ proto, host, port });
    // Reliable transports answer on the connection the request came in on while it is open.
    if (inbound?.connectionId !== undefined) target.connectionId = inbound.connectionId;
    return target;
  }

  /** `viaTarget` without a promise when the Via names an address (no lookup); undefined otherwise. */
  private viaTargetNow(via: Via, inbound: Inbound | undefined): SendTarget | undefined {
    const { proto, host, port } = this.viaDestination(via);
    // `received` is an address (bracketed IPv6 aside, left to toTarget as before); sent-by is one
    // unless its kind says it is a name.
    const received = via.received;
    if (received === undefined ? via.hostKind === 'name' : received.charCodeAt(0) === 91) return undefined;
    const target: SendTarget = { proto, address: host, port, serverName: undefined };
    if (inbound?.connectionId !== undefined) target.connectionId = inbound.connectionId;
    return target;
  }

  private viaDestination(via: Via): { proto: Proto; host: string; port: number } {
    const proto = via.transport.toLowerCase() as Proto;
    if (proto !== 'udp' && proto !== 'tcp' && proto !== 'tls') {
      throw new Error(`cannot answer over Via transport ${via.transport}`);
    }
    const host = via.received ?? via.host;
    const rport = typeof via.rport === 'number' ? via.rport : undefined;
    const port = rport ?? via.port ?? (proto === 'tls' ? this.tlsPort : SIP_PORT);
    return { proto, host, port };
  }
}

function sameHost(a: string, b: string): boolean {
  const strip = (h: string) => h.replace(/^\[|\]$/g, '').toLowerCase();
  return strip(a) === strip(b);
}
