// The location store (OpenSIPS usrloc): bindings by address-of-record in memory, where lookups are
// answered, optionally written through to SQL and read back at start. Memory is the truth while
// running: a failed write is logged and the address-of-record rewritten whole at the next sweep,
// so a database outage costs persistence for a while, never registrations.
import type { Logger } from '../../log/logger.js';
import { aorKey, type Aor } from './aor.js';
import { orderBindings, type Binding } from './binding.js';
import { rowToBinding, type LocationTable } from './location-table.js';

export interface LocationOptions {
  useDomain: boolean;
  /** Write-through persistence (usrloc_db_mode 1); none: memory only. */
  table?: LocationTable;
  /** Seconds between sweeps (usrloc_timer_interval). */
  timerIntervalS?: number;
  /** Milliseconds since the epoch (tests move it). */
  now?: () => number;
  log?: Pick<Logger, 'info' | 'warn'>;
}

/** A change to one address-of-record's bindings, as other workers apply it (cluster/worker.ts). */
export interface LocationChange {
  key: string;
  /** New or refreshed bindings (matched by id). */
  written: Binding[];
  /** Ids of bindings that went. */
  removed: string[];
}

export interface LoadResult {
  loaded: number;
  /** Rows that could not be used, each with why. */
  skipped: string[];
}

const PAGE = 500;

export class Location {
  readonly #aors = new Map<string, Binding[]>();
  /** AoRs whose rows may differ from memory after a failed write, with how to find their rows. */
  readonly #dirty = new Map<string, { username: string; domain: string | undefined }>();
  /** Every write, in order: a binding's UPDATE never overtakes its earlier INSERT or a DELETE. */
  #writes: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  readonly #now: () => number;
  /**
   * Told of every change a REGISTER (or unregister) makes here, so other workers can apply it;
   * `replace` resolves once the returned promise has (the others have applied it).
   * Changes travel as differences: two workers changing different bindings of one AoR at once
   * both keep their change.
   */
  onChange: ((change: LocationChange) => void | Promise<void>) | undefined;

  constructor(private readonly options: LocationOptions) {
    this.#now = options.now ?? Date.now;
  }

  get nowS(): number {
    return Math.floor(this.#now() / 1000);
  }

  /** Reads the table (dropping its expired rows first). Rejects when the table cannot be read. */
  async load(): Promise<LoadResult> {
    const table = this.options.table;
    const result: LoadResult = { loaded: 0, skipped: [] };
    if (!table) return result;
    const nowS = this.nowS;
    await table.removeExpired(nowS);
    for (let after = 0; ;) {
      const page = await table.page(after, PAGE);
      for (const { rowId, row } of page) {
        after = rowId;
        const binding = rowToBinding(row);
        if (typeof binding === 'string') result.skipped.push(`${table.label}: ${binding}`);
        else if (binding.expires > nowS) {
          const key = aorKey(binding.username, binding.domain, this.options.useDomain);
          const list = this.#aors.get(key) ?? [];
          list.push(binding);
          this.#aors.set(key, list);
          result.loaded++;
        }
      }
      if (page.length < PAGE) break;
    }
    return result;
  }

  /** Starts the sweep timer; it does not keep the process alive. */
  start(): void {
    if (this.#timer) return;
    const ms = (this.options.timerIntervalS ?? 60) * 1000;
    this.#timer = setInterval(() => void this.sweep(), ms);
    this.#timer.unref();
  }

  /** Stops the timer and waits for the writes under way. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#writes;
  }

  /** Every binding stored for the key, expired ones too (what a REGISTER is judged against). */
  bindings(key: string): readonly Binding[] {
    return this.#aors.get(key) ?? [];
  }

  /** The live bindings of the key, best first (OpenSIPS lookup order). */
  lookup(key: string): Binding[] {
    const nowS = this.nowS;
    return orderBindings(this.bindings(key).filter((b) => b.expires > nowS));
  }

  /** Live bindings by key, for dumps (OpenSIPS ul_dump). */
  *entries(): IterableIterator<[string, Binding[]]> {
    for (const key of this.#aors.keys()) {
      const live = this.lookup(key);
      if (live.length > 0) yield [key, live];
    }
  }

  /**
   * Makes `next` the bindings of `aor` at once, then writes the difference through; resolves to
   * whether the database has it (always true without one).
   */
  async replace(aor: Aor, next: Binding[]): Promise<boolean> {
    const before = this.#aors.get(aor.key) ?? [];
    if (next.length > 0) this.#aors.set(aor.key, next);
    else this.#aors.delete(aor.key);
    const kept = new Set(next.map((b) => b.id));
    const unchanged = new Set(before);
    const removed = before.filter((b) => !kept.has(b.id));
    const written = next.filter((b) => !unchanged.has(b));
    if (removed.length === 0 && written.length === 0) return true;
    // Other workers apply it before the REGISTER is answered: a call right after finds the binding.
    await this.onChange?.({ key: aor.key, written, removed: removed.map((b) => b.id) });
    if (!this.options.table) return true;
    try {
      await this.#serialize(async (table) => {
        for (const b of written) await table.upsert(b);
        for (const b of removed) await table.remove(b.id);
      });
      return true;
    } catch (err) {
      this.#dirty.set(aor.key, {
        username: aor.username,
        domain: this.options.useDomain ? aor.domain : undefined,
      });
      this.options.log?.warn(
        { aor: aor.key, err: (err as Error).message },
        'location: write failed; the bindings stay in memory and are rewritten at the next sweep',
      );
      return false;
    }
  }

  /** Applies another worker's change (its database write is that worker's). */
  apply(change: LocationChange): void {
    const gone = new Set(change.removed);
    const replaced = new Set(change.written.map((b) => b.id));
    const list = (this.#aors.get(change.key) ?? []).filter((b) => !gone.has(b.id) && !replaced.has(b.id));
    list.push(...change.written);
    if (list.length > 0) this.#aors.set(change.key, list);
    else this.#aors.delete(change.key);
  }

  /**
   * Drops expired bindings from memory and the table, and rewrites the AoRs a failed write left
   * behind. Resolves to the number of bindings dropped from memory; never rejects.
   */
  async sweep(): Promise<number> {
    const nowS = this.nowS;
    let dropped = 0;
    for (const [key, list] of this.#aors) {
      const live = list.filter((b) => b.expires > nowS);
      if (live.length === list.length) continue;
      dropped += list.length - live.length;
      if (live.length > 0) this.#aors.set(key, live);
      else this.#aors.delete(key);
    }
    if (this.options.table) {
      await this.#serialize(async (table) => {
        await table.removeExpired(nowS);
        for (const [key, who] of this.#dirty) {
          await table.removeUser(who.username, who.domain);
          for (const b of this.#aors.get(key) ?? []) await table.insert(b);
          this.#dirty.delete(key);
        }
      }).catch((err: unknown) =>
        this.options.log?.warn({ err: (err as Error).message }, 'location: sweep of the table failed'),
      );
    }
    return dropped;
  }

  #serialize(work: (table: LocationTable) => Promise<void>): Promise<void> {
    const table = this.options.table!;
    const run = this.#writes.then(() => work(table));
    this.#writes = run.catch(() => undefined);
    return run;
  }
}
