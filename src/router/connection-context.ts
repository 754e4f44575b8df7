// The script's view of a TLS connection in the connection hooks (Kamailio
// event_route[tls:connection-out], and its inbound twin): who is at either end, the $tls_*
// variables of the fresh session, and drop() to close it before it carries any data.
import type { Logger } from '../log/logger.js';
import { tlsVariables, type TlsVariableContext } from '../tls/variables.js';
import type { NewTlsConnection } from '../transport/transport-layer.js';
import type { Endpoint, TlsSessionInfo } from '../transport/types.js';
import { PvRegistry, type PvValue } from './pv.js';

const connectionPvs = new PvRegistry<TlsVariableContext>();
connectionPvs.register(...tlsVariables);

export class ConnectionContext implements TlsVariableContext {
  readonly proto = 'tls' as const;
  private dropped = false;

  constructor(
    private readonly conn: NewTlsConnection,
    readonly log: Logger,
  ) {}

  /** `in`: accepted by us; `out`: opened by us. */
  get direction(): 'in' | 'out' {
    return this.conn.direction;
  }

  get local(): Endpoint {
    return this.conn.local;
  }

  get remote(): Endpoint {
    return this.conn.remote;
  }

  get tls(): TlsSessionInfo {
    return this.conn.tls;
  }

  /** The connection's $tls_* variables: `ctx.pv('$tls_peer_subject_cn')`. */
  pv(expr: string): PvValue {
    return connectionPvs.get(this, expr);
  }

  expand(template: string): string {
    return connectionPvs.expand(this, template);
  }

  /** Closes the connection once the hook returns; nothing is sent on it. */
  drop(): void {
    this.dropped = true;
  }

  get isDropped(): boolean {
    return this.dropped;
  }
}
