// Waiting for something an event will bring: `wait` sleeps until the next `notify` or a time limit,
// so a test polls its condition only when something happened.
export class Signal {
  private waiters: Array<() => void> = [];

  notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves at the next notify(), or after `ms`, whichever comes first. */
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}
