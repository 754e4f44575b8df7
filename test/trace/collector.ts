// Test side of HEP: a small independent decoder (chunk walk, no shared code with src/trace/hep.ts)
// and real collector sockets (UDP and TCP) that keep what they receive.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Datagram } from './pcap.js';
import { Signal } from '../helpers/signal.js';

export interface DecodedHep {
  family: number;
  ipProto: number;
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  timeSec: number;
  timeUsec: number;
  protoType: number;
  captureId: number;
  correlationId: string | undefined;
  payload: Buffer;
  /** Every chunk by type, for checks of what is (not) there. */
  types: number[];
}

const ip = (b: Buffer) =>
  b.length === 4
    ? [...b].join('.')
    : Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2).toString(16)).join(':');

export function decodeHep(buf: Buffer): DecodedHep {
  if (buf.toString('latin1', 0, 4) !== 'HEP3') throw new Error('not HEP3');
  const total = buf.readUInt16BE(4);
  if (total !== buf.length) throw new Error(`length field ${total} != packet ${buf.length}`);
  const chunks = new Map<number, Buffer>();
  const types: number[] = [];
  for (let at = 6; at < total;) {
    const vendor = buf.readUInt16BE(at);
    const type = buf.readUInt16BE(at + 2);
    const len = buf.readUInt16BE(at + 4);
    if (vendor !== 0) throw new Error(`vendor ${vendor}`);
    if (len < 6 || at + len > total) throw new Error(`chunk ${type} of length ${len} overruns`);
    chunks.set(type, buf.subarray(at + 6, at + len));
    types.push(type);
    at += len;
  }
  const need = (t: number) => chunks.get(t) ?? assertFail(`chunk ${t} missing`);
  return {
    family: need(1).readUInt8(0),
    ipProto: need(2).readUInt8(0),
    src: ip(chunks.get(3) ?? need(5)),
    dst: ip(chunks.get(4) ?? need(6)),
    srcPort: need(7).readUInt16BE(0),
    dstPort: need(8).readUInt16BE(0),
    timeSec: need(9).readUInt32BE(0),
    timeUsec: need(10).readUInt32BE(0),
    protoType: need(11).readUInt8(0),
    captureId: need(12).readUInt32BE(0),
    correlationId: chunks.get(0x11)?.toString('utf8'),
    payload: need(15),
    types,
  };
}

function assertFail(message: string): never {
  throw new Error(message);
}

/** A HEP packet with its payload read as JSON (connection events) or text (SIP). */
export interface Received {
  hep: DecodedHep;
  raw: Datagram;
  json: Record<string, string> | undefined;
  text: string;
}

abstract class Collector {
  readonly received: Received[] = [];
  private readonly signal = new Signal();

  protected keep(
    data: Buffer,
    src: { address: string; port: number },
    dst: { address: string; port: number },
  ) {
    const hep = decodeHep(data);
    const text = hep.payload.toString('utf8');
    const json = hep.protoType === 1 ? undefined : (JSON.parse(text) as Record<string, string>);
    this.received.push({ hep, raw: { time: Date.now(), src, dst, data }, json, text });
    this.signal.notify();
  }

  /** Waits until `pred` holds for what was received. */
  async until(
    pred: (all: Received[]) => boolean,
    timeoutMs = 3000,
    what = 'HEP packets',
  ): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.received)) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`timed out waiting for ${what}; got: ${JSON.stringify(this.summary(), null, 1)}`);
      }
      await this.signal.wait(left);
    }
    return this.received;
  }

  events(): Received[] {
    return this.received.filter((r) => r.json !== undefined);
  }

  sip(): Received[] {
    return this.received.filter((r) => r.hep.protoType === 1);
  }

  summary(): unknown[] {
    return this.received.map((r) => ({
      corr: r.hep.correlationId,
      type: r.hep.protoType,
      ...(r.json ? { Event: r.json.Event, Status: r.json.Status, Message: r.json.Message } : {}),
      ...(r.json ? {} : { first: r.text.split('\r\n')[0] }),
    }));
  }

  abstract readonly port: number;
  abstract close(): Promise<void>;
}

export class UdpCollector extends Collector {
  private constructor(private readonly socket: UdpSocket) {
    super();
    socket.on('message', (data, rinfo) =>
      this.keep(
        data,
        { address: rinfo.address, port: rinfo.port },
        { address: '127.0.0.1', port: this.port },
      ),
    );
  }

  static async start(port = 0, address = '127.0.0.1'): Promise<UdpCollector> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(port, address, resolve));
    return new UdpCollector(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/** HEP over TCP: packets back to back, each sized by its own length field. */
export class TcpCollector extends Collector {
  readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server) {
    super();
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      let pending = Buffer.alloc(0);
      s.on('data', (d: Buffer) => {
        pending = Buffer.concat([pending, d]);
        while (pending.length >= 6 && pending.length >= pending.readUInt16BE(4)) {
          const len = pending.readUInt16BE(4);
          const from = { address: s.remoteAddress ?? '', port: s.remotePort ?? 0 };
          this.keep(pending.subarray(0, len), from, { address: '127.0.0.1', port: this.port });
          pending = pending.subarray(len);
        }
      });
    });
  }

  static async start(port = 0): Promise<TcpCollector> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return new TcpCollector(server);
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
