// Open TCP/TLS connections, found by id, by peer (proto + address + port) and by RFC 5923 alias, so
// replies and new requests to a peer reuse the connection it already has with us.
import { connectionKey, type StreamConnection } from './connection.js';
import type { Endpoint } from './types.js';

export class ConnectionTable {
  private readonly byId = new Map<number, StreamConnection>();
  /** Several connections can share a key; the newest usable one wins. */
  private readonly byKey = new Map<string, StreamConnection[]>();

  get size(): number {
    return this.byId.size;
  }

  add(conn: StreamConnection): void {
    this.byId.set(conn.id, conn);
    this.index(conn.key, conn);
  }

  /** RFC 5923: the peer asked us to reach `alias` (its Via sent-by) over this connection. */
  addAlias(conn: StreamConnection, alias: Endpoint): void {
    const key = connectionKey(conn.proto, alias);
    if (key === conn.key || conn.aliases.has(key)) return;
    conn.aliases.add(key);
    this.index(key, conn);
  }

  remove(conn: StreamConnection): void {
    this.byId.delete(conn.id);
    for (const key of [conn.key, ...conn.aliases]) {
      const list = this.byKey.get(key);
      if (!list) continue;
      const rest = list.filter((c) => c !== conn);
      if (rest.length > 0) this.byKey.set(key, rest);
      else this.byKey.delete(key);
    }
  }

  get(id: number): StreamConnection | undefined {
    return this.byId.get(id);
  }

  /** The newest open connection to the peer that `usable` accepts. */
  find(
    proto: 'tcp' | 'tls',
    remote: Endpoint,
    usable: (c: StreamConnection) => boolean = () => true,
  ): StreamConnection | undefined {
    const list = this.byKey.get(connectionKey(proto, remote));
    if (!list) return undefined;
    for (let i = list.length - 1; i >= 0; i--) {
      const c = list[i]!;
      if (c.state !== 'closed' && usable(c)) return c;
    }
    return undefined;
  }

  all(): IterableIterator<StreamConnection> {
    return this.byId.values();
  }

  private index(key: string, conn: StreamConnection): void {
    const list = this.byKey.get(key);
    if (list) list.push(conn);
    else this.byKey.set(key, [conn]);
  }
}
