// Open TCP/TLS connections, found by id, by peer (proto + address + port) and by RFC 5923 alias, so
// replies and new requests to a peer reuse the connection it already has with us.
import { connectionKey, type StreamConnection } from './connection.js';
import type { Endpoint } from './types.js';

export class ConnectionTable {
  private readonly byId = new Map<number, StreamConnection>();
  /**
   * Several connections can share a key; the newest usable one wins. A key's only connection is
   * stored as it is, without an array around it (nearly every key has one).
   */
  private readonly byKey = new Map<string, StreamConnection | StreamConnection[]>();

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
    conn.addAliasKey(key);
    this.index(key, conn);
  }

  remove(conn: StreamConnection): void {
    this.byId.delete(conn.id);
    for (const key of [conn.key, ...conn.aliases]) {
      const entry = this.byKey.get(key);
      if (entry === undefined) continue;
      if (!Array.isArray(entry)) {
        if (entry === conn) this.byKey.delete(key);
        continue;
      }
      const rest = entry.filter((c) => c !== conn);
      if (rest.length > 1) this.byKey.set(key, rest);
      else if (rest.length === 1) this.byKey.set(key, rest[0]!);
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
    const entry = this.byKey.get(connectionKey(proto, remote));
    if (entry === undefined) return undefined;
    if (!Array.isArray(entry)) return entry.state !== 'closed' && usable(entry) ? entry : undefined;
    for (let i = entry.length - 1; i >= 0; i--) {
      const c = entry[i]!;
      if (c.state !== 'closed' && usable(c)) return c;
    }
    return undefined;
  }

  all(): IterableIterator<StreamConnection> {
    return this.byId.values();
  }

  private index(key: string, conn: StreamConnection): void {
    const entry = this.byKey.get(key);
    if (entry === undefined) this.byKey.set(key, conn);
    else if (Array.isArray(entry)) entry.push(conn);
    else this.byKey.set(key, [entry, conn]);
  }
}
