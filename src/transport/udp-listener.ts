// A UDP socket: every datagram is one SIP message; replies and requests leave from it too.
import { createSocket, type Socket as DgramSocket } from 'node:dgram';
import { isIP } from 'node:net';
import type { Logger } from '../log/logger.js';
import type { ListenSpec } from './listen-spec.js';
import type { Endpoint, Inbound } from './types.js';

/** Datagrams made only of whitespace are NAT keepalives (RFC 5626 §3.5.1 style), not messages. */
function isKeepalive(msg: Buffer): boolean {
  for (const b of msg) if (b !== 0x0d && b !== 0x0a && b !== 0x20 && b !== 0x09 && b !== 0x00) return false;
  return true;
}

export class UdpListener {
  private socket: DgramSocket | undefined;
  local: Endpoint;

  constructor(
    readonly spec: ListenSpec,
    private readonly log: Logger,
    private readonly onInbound: (m: Inbound) => void,
  ) {
    this.local = { address: spec.host, port: spec.port };
  }

  get family(): 4 | 6 {
    return isIP(this.spec.host) === 6 ? 6 : 4;
  }

  start(): Promise<void> {
    const socket = createSocket({ type: this.family === 6 ? 'udp6' : 'udp4', ipv6Only: this.family === 6 });
    this.socket = socket;
    socket.on('message', (data, rinfo) => {
      if (isKeepalive(data)) return;
      this.onInbound({
        data,
        proto: 'udp',
        local: this.local,
        remote: { address: rinfo.address, port: rinfo.port },
      });
    });
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.spec.port, this.spec.host, () => {
        socket.off('error', reject);
        socket.on('error', (err) =>
          this.log.warn({ err: err.message, listen: this.local }, 'UDP socket error'),
        );
        this.local = { address: this.spec.host, port: socket.address().port };
        resolve();
      });
    });
  }

  send(data: Buffer, to: Endpoint, done: (err: Error | null) => void): void {
    if (!this.socket) return process.nextTick(done, new Error('UDP listener is not started'));
    this.socket.send(data, to.port, to.address, done);
  }

  stop(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    return new Promise((resolve) => (socket ? socket.close(() => resolve()) : resolve()));
  }
}
