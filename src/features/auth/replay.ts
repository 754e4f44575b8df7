// Replay protection for qop=auth: each nonce's counts (nc) are remembered in a sliding window, so a
// count may arrive out of order (UDP) but never twice. Memory is bounded: entries go once their
// nonce has expired, and when the table is full the oldest goes, after which every nonce as old as
// the ones forgotten counts as stale (the client retries with a fresh one instead of replaying).

/** Counts this far below the highest one seen are still accepted once. */
const WINDOW = 32;

interface Entry {
  issuedAt: number;
  highest: number;
  /** Bit i: count `highest - i` was seen. */
  seen: number;
}

export type CountCheck = 'ok' | 'replay' | 'forgotten';

export class NonceCounts {
  readonly #entries = new Map<string, Entry>();
  /** Issue time (s) of the newest nonce dropped for room while still fresh. */
  #forgottenUpTo = -1;

  constructor(
    private readonly capacity: number,
    private readonly expireS: number,
  ) {}

  get size(): number {
    return this.#entries.size;
  }

  /**
   * Records count `nc` of `nonce` (issued at `issuedAt`, seconds): `replay` if it was seen or is
   * below the window, `forgotten` if the nonce may have been dropped for room.
   */
  accept(nonce: string, issuedAt: number, nc: number, nowS: number): CountCheck {
    this.#prune(nowS);
    let entry = this.#entries.get(nonce);
    if (!entry) {
      if (issuedAt <= this.#forgottenUpTo) return 'forgotten';
      if (this.#entries.size >= this.capacity) this.#evictOldest();
      entry = { issuedAt, highest: nc, seen: 1 };
      this.#entries.set(nonce, entry);
      return 'ok';
    }
    if (nc > entry.highest) {
      const shift = nc - entry.highest;
      entry.seen = shift >= WINDOW ? 1 : ((entry.seen << shift) | 1) >>> 0;
      entry.highest = nc;
      return 'ok';
    }
    const back = entry.highest - nc;
    if (back >= WINDOW) return 'replay';
    const bit = (1 << back) >>> 0;
    if ((entry.seen & bit) !== 0) return 'replay';
    entry.seen = (entry.seen | bit) >>> 0;
    return 'ok';
  }

  /** Entries are in first-use order, close to issue order: drop expired ones from the front. */
  #prune(nowS: number): void {
    for (const [nonce, entry] of this.#entries) {
      if (nowS - entry.issuedAt <= this.expireS) break;
      this.#entries.delete(nonce);
    }
  }

  #evictOldest(): void {
    const first = this.#entries.entries().next();
    if (first.done) return;
    const [nonce, entry] = first.value;
    this.#entries.delete(nonce);
    this.#forgottenUpTo = Math.max(this.#forgottenUpTo, entry.issuedAt);
  }
}
