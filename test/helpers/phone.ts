// A UDP phone on loopback for end-to-end call tests: sends what the test writes, keeps everything
// it receives, and waits for a message by predicate.
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { Signal } from './signal.js';

/** A UDP phone on loopback that keeps what it receives. */
export class Phone {
  readonly received: string[] = [];
  private readonly signal = new Signal();
  private constructor(readonly socket: Socket) {
    socket.on('message', (m) => {
      this.received.push(m.toString('latin1'));
      this.signal.notify();
    });
  }
  /** On `port` (default: a free one). */
  static async open(port = 0): Promise<Phone> {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(port, '127.0.0.1', r));
    return new Phone(s);
  }
  get port(): number {
    return (this.socket.address() as AddressInfo).port;
  }
  send(text: string | Buffer, port: number): void {
    this.socket.send(text, port, '127.0.0.1');
  }
  async next(pred: (m: string) => boolean, what: string, timeoutMs = 3000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received.find(pred);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) assert.fail(`${what}: nothing; got ${JSON.stringify(this.received)}`);
      await this.signal.wait(left);
    }
  }
  close(): void {
    this.socket.close();
  }
}
