// The named one-shot timers of one transaction or branch, and the queue that runs timers L and M
// of many transactions at once. Timers never keep the process alive on their own (the sockets do),
// and clearing a transaction's set stops all of them at once.
type Handles<Name extends string> = Partial<Record<Name, NodeJS.Timeout>>;

export class TimerSet<Name extends string> {
  /**
   * Created with the first timer: many sets (reliable transports, quick answers) never arm one. A
   * plain object: a set holds a few names, and a Map's table costs several times more memory in
   * the transactions that linger.
   */
  private handles: Handles<Name> | undefined;

  /** Arms `name` (replacing it if armed); a zero delay still runs after the current event. */
  set(name: Name, ms: number, fire: () => void): void {
    this.cancel(name);
    const handles: Handles<Name> = (this.handles ??= {});
    const handle = setTimeout(() => {
      handles[name] = undefined;
      fire();
    }, ms);
    handle.unref();
    handles[name] = handle;
  }

  has(name: Name): boolean {
    return this.handles?.[name] !== undefined;
  }

  cancel(name: Name): void {
    const handles = this.handles;
    const handle = handles?.[name];
    if (handle === undefined) return;
    clearTimeout(handle);
    handles![name] = undefined;
  }

  clear(): void {
    if (!this.handles) return;
    for (const handle of Object.values<NodeJS.Timeout | undefined>(this.handles)) clearTimeout(handle);
    this.handles = undefined;
  }
}

/** What an ExpiryQueue ends. */
export interface Expiring {
  terminate(): void;
}

/**
 * One-shot timers of a single duration, for the many transactions lingering after a 2xx (L, M):
 * they expire in the order they were armed, so one queue and one Node timer do, instead of a timer
 * and its closures per transaction. Terminating an item twice must be harmless.
 */
export class ExpiryQueue {
  private items: Expiring[] = [];
  private deadlines: number[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly ms: number) {}

  add(item: Expiring): void {
    this.items.push(item);
    this.deadlines.push(performance.now() + this.ms);
    this.timer ??= this.arm(this.ms);
  }

  /** Forgets every item, without terminating it. */
  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.items = [];
    this.deadlines = [];
    this.head = 0;
  }

  private arm(ms: number): NodeJS.Timeout {
    const timer = setTimeout(() => this.expire(), ms);
    timer.unref();
    return timer;
  }

  private expire(): void {
    const now = performance.now();
    const { items, deadlines } = this;
    let i = this.head;
    while (i < items.length && deadlines[i]! <= now) items[i++]!.terminate();
    if (i === items.length) {
      this.clear();
      return;
    }
    // Dropping the expired part now and then keeps both the arrays and the copying small.
    if (i > 1024 && i * 2 > items.length) {
      items.splice(0, i);
      deadlines.splice(0, i);
      i = 0;
    }
    this.head = i;
    // Node's timers may fire a little before performance.now() reaches the deadline.
    this.timer = this.arm(Math.max(1, Math.ceil(deadlines[i]! - now)));
  }
}

/** The next interval of a doubling retransmission timer (A: no cap; E and G: capped at T2). */
export function doubled(interval: number, cap = Infinity): number {
  return Math.min(interval * 2, cap);
}
