// The named one-shot timers of one transaction or branch. Timers never keep the process alive on
// their own (the sockets do), and clearing a transaction's set stops all of them at once.
export class TimerSet<Name extends string> {
  /** Created with the first timer: many sets (reliable transports, quick answers) never arm one. */
  private handles: Map<Name, NodeJS.Timeout> | undefined;

  /** Arms `name` (replacing it if armed); a zero delay still runs after the current event. */
  set(name: Name, ms: number, fire: () => void): void {
    this.cancel(name);
    const handles = (this.handles ??= new Map());
    const handle = setTimeout(() => {
      handles.delete(name);
      fire();
    }, ms);
    handle.unref();
    handles.set(name, handle);
  }

  has(name: Name): boolean {
    return this.handles?.has(name) ?? false;
  }

  cancel(name: Name): void {
    const handle = this.handles?.get(name);
    if (handle === undefined) return;
    clearTimeout(handle);
    this.handles?.delete(name);
  }

  clear(): void {
    if (!this.handles) return;
    for (const handle of this.handles.values()) clearTimeout(handle);
    this.handles.clear();
  }
}

/** The next interval of a doubling retransmission timer (A: no cap; E and G: capped at T2). */
export function doubled(interval: number, cap = Infinity): number {
  return Math.min(interval * 2, cap);
}
