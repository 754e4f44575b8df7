// tls_handshake_timeout as a bound on the peer, not on us. When phones reconnect by the thousand,
// a ClientHello can wait in our event loop's queue for longer than the timeout; counting that wait
// would cut off healthy clients exactly when it matters. So the deadline restarts once our reply to
// the ClientHello is out (the peer's turn again), and when it expires the verdict waits for the
// event loop to process the data that has already arrived.
import type { Socket } from 'node:net';

export class HandshakeDeadline {
  private timer: NodeJS.Timeout | undefined;
  private turn = 0;
  private done = false;
  /** Set when the deadline cut the connection off: the reason to report. */
  expired: string | undefined;

  constructor(
    private readonly raw: Socket,
    private readonly ms: number,
  ) {
    this.arm();
  }

  /** Our reply to the ClientHello is written: the peer has the full period again. */
  restart(): void {
    if (this.done) return;
    this.turn++;
    clearTimeout(this.timer);
    this.arm();
  }

  clear(): void {
    this.done = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    const turn = this.turn;
    this.timer = setTimeout(
      // Timers run before the poll phase: one more turn lets data already received move us on.
      () =>
        setImmediate(() => {
          if (this.done || turn !== this.turn) return;
          this.done = true;
          this.expired = `TLS handshake not complete within ${this.ms} ms (tls_handshake_timeout)`;
          this.raw.destroy(new Error(this.expired));
        }),
      this.ms,
    );
  }
}
