// The request/reply pipeline: parse what the transport hands up, answer unparseable requests with
// 400, stamp received/rport, run the script, and relay replies. A throwing script or a bad message
// is logged and contained: it never reaches the transport or other messages.
import type { Logger } from '../log/logger.js';
import {
  createParseErrorResponse,
  formatVia,
  parseMessage,
  type SipLimits,
  type SipRequest,
  type SipResponse,
} from '../sip/index.js';
import { normalizeAddress } from '../transport/connection.js';
import type { ConnectionHooks, NewTlsConnection, TransportLayer } from '../transport/transport-layer.js';
import { ConnectionContext } from './connection-context.js';
import { SipResolver } from '../dns/index.js';
import { TransactionLayer, defaultTmSettings, dnsLocator, type TmSettings } from '../tm/index.js';
import type { ProxyFeatures } from '../features/proxy-features.js';
import { Myself, parseAlias } from '../features/routing/myself.js';
import type { Inbound } from '../transport/types.js';
import { MessageContext, ReplyContext, RequestContext, type ContextServices } from './context.js';
import { coreVariables } from './core-variables.js';
import { tlsVariables } from '../tls/variables.js';
import { PvRegistry } from './pv.js';
import type { Script } from './script.js';
import { StatelessCore } from './stateless.js';

export interface RouterOptions {
  limits: SipLimits;
  tlsPort: number;
  clientTlsDomainAvp?: string;
  clientSipDomainAvp?: string;
  /** `alias` entries: other names of this server. */
  aliases?: string[];
  /** RFC 3263 resolver for forwarded requests; the system's resolvers when absent. */
  resolver?: SipResolver;
  /** Transaction timers and limits (T1, fr_timeout, ...). */
  tm?: TmSettings;
  /** Digest authentication and registrar for the script; absent: ctx.authorize()/save() throw. */
  features?: ProxyFeatures;
}

export class Router {
  readonly pvs = new PvRegistry<MessageContext>();
  private readonly core: StatelessCore;
  /** Stateful relaying (ctx.relay): transactions see requests and replies before the script. */
  readonly tm: TransactionLayer;
  private readonly services: ContextServices;
  private myself: Myself | undefined;
  /** Decides, with several workers, whether a message belongs to another one (which takes it). */
  private divert: ((msg: SipRequest | SipResponse, inbound: Inbound) => boolean) | undefined;

  constructor(
    private readonly transport: TransportLayer,
    private script: Script,
    private readonly options: RouterOptions,
    private readonly log: Logger,
  ) {
    this.pvs.register(...coreVariables, ...tlsVariables);
    const resolver = options.resolver ?? new SipResolver({ tlsPort: options.tlsPort });
    this.core = new StatelessCore(transport, options.tlsPort, resolver);
    this.tm = new TransactionLayer({
      transport,
      stateless: this.core,
      settings: options.tm ?? defaultTmSettings(),
      tlsPort: options.tlsPort,
      log: log.child({ layer: 'tm' }),
      locate: dnsLocator(resolver, options.tlsPort),
    });
    this.services = {
      core: this.core,
      tm: this.tm,
      features: options.features,
      pvs: this.pvs,
      log,
      tlsAvps: { domain: options.clientTlsDomainAvp, sipDomain: options.clientSipDomainAvp },
      // The listeners' ports are known once the transport has started: built on first use.
      myself: () =>
        (this.myself ??= new Myself(
          transport.listeners(),
          (options.aliases ?? []).map(parseAlias),
          options.tlsPort,
        )),
    };
  }

  setScript(script: Script): void {
    this.script = script;
  }

  /**
   * With several workers: `divert` sees each parsed message first and returns true when it has
   * passed it to the worker that owns its transaction (a message passed on is not asked again).
   */
  setDivert(divert: (msg: SipRequest | SipResponse, inbound: Inbound) => boolean): void {
    this.divert = divert;
  }

  /** Ends the transactions' timers (the server is stopping). */
  stop(): void {
    this.tm.stop();
  }

  /** The script's TLS connection hooks, for the transport; a hook that throws drops the connection. */
  connectionHooks(): ConnectionHooks {
    const run = async (hook: 'tlsConnectionIn' | 'tlsConnectionOut', conn: NewTlsConnection) => {
      const fn = this.script[hook];
      if (!fn) return true;
      const ctx = new ConnectionContext(conn, this.log);
      await fn.call(this.script, ctx);
      return !ctx.isDropped;
    };
    return {
      tlsIn: (conn) => run('tlsConnectionIn', conn),
      tlsOut: (conn) => run('tlsConnectionOut', conn),
    };
  }

  /**
   * Entry point for every framed message; never throws. The work is synchronous as far as it can
   * be: a promise (and its handlers) is made only when a step really waits, such as a script that
   * awaits, or a send whose outcome must be logged.
   */
  handle(inbound: Inbound): void {
    try {
      const pending = this.process(inbound);
      if (pending) pending.catch((err: unknown) => this.processingFailed(err, inbound));
    } catch (err) {
      this.processingFailed(err, inbound);
    }
  }

  private processingFailed(err: unknown, inbound: Inbound): void {
    this.log.error(
      { err: errorText(err), remote: inbound.remote, proto: inbound.proto },
      'message processing failed',
    );
  }

  private process(inbound: Inbound): Promise<unknown> | undefined {
    const parsed = parseMessage(inbound.data, this.options.limits, {
      stream: inbound.proto !== 'udp',
      bodyStart: inbound.bodyStart,
    });
    if (!parsed.ok) {
      const peer = { remote: inbound.remote, proto: inbound.proto, reason: parsed.error.reason };
      if (parsed.replyable) {
        this.log.info(peer, 'malformed request answered with 400');
        return this.core.replyToSource(inbound, createParseErrorResponse(parsed.replyable, parsed.error));
      }
      this.log.info(peer, 'malformed message dropped');
      return undefined;
    }
    const msg = parsed.message;
    if (this.divert && inbound.forwardedBy === undefined && this.divert(msg, inbound)) return undefined;
    return msg.isRequest ? this.onRequest(msg, inbound) : this.onReply(msg, inbound);
  }

  private onRequest(req: SipRequest, inbound: Inbound): Promise<unknown> | undefined {
    this.stampVia(req, inbound);
    // Retransmissions, ACKs for our non-2xx answers and CANCELs of relayed INVITEs end here.
    if (this.tm.handleRequest(req, inbound) || this.core.isAckForOurReply(req)) return undefined;
    const ctx = new RequestContext(req, inbound, this.services);
    let result: void | Promise<unknown>;
    try {
      result = this.script.request(ctx);
    } catch (err) {
      return this.scriptFailed(err, req, ctx);
    }
    return isPromise(result) ? result.catch((err: unknown) => this.scriptFailed(err, req, ctx)) : undefined;
  }

  private scriptFailed(err: unknown, req: SipRequest, ctx: RequestContext): Promise<void> | undefined {
    this.log.error({ err: errorText(err), method: req.method, callId: req.callId }, 'routing script failed');
    if (ctx.outcome === undefined && req.method !== 'ACK') return ctx.reply(500, 'Server Internal Error');
    return undefined;
  }

  private onReply(res: SipResponse, inbound: Inbound): Promise<unknown> | undefined {
    if (!this.script.reply) return this.relayReply(res);
    const ctx = new ReplyContext(res, inbound, this.services);
    const result = this.script.reply(ctx);
    if (isPromise(result)) {
      return result.then(() => (ctx.outcome === 'dropped' ? undefined : this.relayReply(res)));
    }
    return ctx.outcome === 'dropped' ? undefined : this.relayReply(res);
  }

  /** Replies of our transactions stay in the tm layer; the others go on along their Via. */
  private relayReply(res: SipResponse): Promise<unknown> | undefined {
    if (this.tm.handleResponse(res)) return undefined;
    const sending = this.core.forwardResponse(res);
    if (sending) return sending;
    this.log.debug(
      { status: res.status, callId: res.callId },
      'reply not for us (top Via is not ours); dropped',
    );
    return undefined;
  }

  /**
   * RFC 3261 §18.2.1 and RFC 3581: record where the request really came from in the top Via, so
   * replies find the way back through NAT; RFC 5923: a Via alias makes the connection reusable.
   */
  private stampVia(req: SipRequest, inbound: Inbound): void {
    const via = req.topVia();
    if (!via) return;
    const source = normalizeAddress(inbound.remote.address);
    let changed = false;
    // Usually the Via host is the source address as is: no need to normalise it.
    if (via.host !== source && normalizeAddress(via.host.replace(/^\[|\]$/g, '')) !== source) {
      via.received = source;
      changed = true;
    }
    if (via.rport !== undefined) {
      via.rport = inbound.remote.port;
      changed = true;
    }
    if (changed) {
      req.removeFirstHeaderValue('Via');
      req.addHeader('Via', formatVia(via), { first: true });
    }
    // RFC 5923 §5: over TLS an alias is honoured only for a peer that proved its identity.
    const trusted =
      inbound.proto === 'tcp' || (inbound.proto === 'tls' && inbound.tls?.peer.verified === true);
    if (via.alias && trusted && inbound.connectionId !== undefined && via.port !== undefined) {
      this.transport.addAlias(inbound.connectionId, {
        address: via.host.replace(/^\[|\]$/g, ''),
        port: via.port,
      });
    }
  }
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as Promise<T> | undefined)?.then === 'function';
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
