// The routing script contract: a TypeScript module whose default export is a Script.
import type { ConnectionContext } from './connection-context.js';
import type { RequestContext, ReplyContext } from './context.js';
import type { Endpoint } from '../transport/types.js';

export interface Script {
  /** Shown in logs and the startup banner. */
  name?: string;
  /**
   * Runs for every request received (OpenSIPS/Kamailio `route {}`). May return the promise of an
   * action (`return ctx.relay()`): a rejection counts as the script failing, its value is ignored.
   */
  request(ctx: RequestContext): void | Promise<unknown>;
  /** Runs for every reply received before it is relayed (`onreply_route`); ctx.drop() stops it. */
  reply?(ctx: ReplyContext): void | Promise<unknown>;
  /**
   * Runs when an outbound TLS connection is up, before any message is written on it (Kamailio
   * event_route[tls:connection-out]); ctx.drop() closes it and the sends waiting for it fail.
   */
  tlsConnectionOut?(ctx: ConnectionContext): void | Promise<void>;
  /** Runs when an inbound TLS connection is accepted, before its first message is read. */
  tlsConnectionIn?(ctx: ConnectionContext): void | Promise<void>;
  /**
   * HEP tracing's veto (OpenSIPS `trace_filter_route`): runs once per TLS connection while tracing is
   * on; returning false leaves that connection untraced. Synchronous. `trace_filter_route` may name
   * another function of the script instead. See docs/tracing.md.
   */
  traceFilter?(conn: TraceFilterInfo): boolean | void;
}

/** A connection as the trace filter sees it: OpenSIPS's $si/$sp (remote) and $socket_in (local). */
export interface TraceFilterInfo {
  proto: 'tcp' | 'tls';
  /** `in`: the peer connected to sipsd; `out`: sipsd connected to the peer. */
  direction: 'in' | 'out';
  /** The peer's address and port, whichever side opened the connection. */
  remote: Endpoint;
  /** sipsd's end; port 0 for an outbound connection that failed before it had one. */
  local: Endpoint;
}

/** Identity helper that gives a script object its type without a cast. */
export function defineScript(script: Script): Script {
  return script;
}
