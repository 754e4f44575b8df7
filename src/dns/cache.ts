// A bounded cache whose entries expire: when it is full the least recently used entry makes room,
// so a flood of distinct names cannot grow memory. An expired entry is dropped when it is read or
// when it is the least recently used; no timer runs.

/** Milliseconds from an arbitrary origin; monotonic, so wall-clock jumps do not age entries. */
export type Clock = () => number;

export const monotonicClock: Clock = () => performance.now();

export class TtlCache<V> {
  readonly #entries = new Map<string, { value: V; expiresAt: number }>();

  constructor(
    readonly maxEntries: number,
    private readonly now: Clock = monotonicClock,
  ) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1)
      throw new RangeError(`maxEntries must be a whole number from 1, not ${maxEntries}`);
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    this.#entries.delete(key);
    if (entry.expiresAt <= this.now()) return undefined;
    this.#entries.set(key, entry); // now the most recently used
    return entry.value;
  }

  /** Keeps `value` for `ttlSeconds`; a TTL of 0 or less is not stored (RFC 1035: use once only). */
  set(key: string, value: V, ttlSeconds: number): void {
    this.#entries.delete(key);
    if (!(ttlSeconds > 0)) return;
    this.#entries.set(key, { value, expiresAt: this.now() + ttlSeconds * 1000 });
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size <= this.maxEntries) break;
      this.#entries.delete(oldest);
    }
  }

  delete(key: string): boolean {
    return this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }
}
