// A minimal pcap writer for the real-decoder tests: each captured HEP datagram becomes an Ethernet +
// IPv4 + UDP frame, as a capture on the collector's interface would show it.
import { writeFileSync } from 'node:fs';

export interface Datagram {
  /** Milliseconds since the epoch. */
  time: number;
  src: { address: string; port: number };
  dst: { address: string; port: number };
  data: Buffer;
}

const LINKTYPE_ETHERNET = 1;

export function writePcap(file: string, datagrams: readonly Datagram[]): void {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(0xffff, 16); // snaplen
  header.writeUInt32LE(LINKTYPE_ETHERNET, 20);
  const records = datagrams.map((d) => {
    const frame = Buffer.concat([ethernet(), ipv4(d, 8 + d.data.length), udp(d), d.data]);
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(Math.floor(d.time / 1000), 0);
    rec.writeUInt32LE(Math.round((d.time % 1000) * 1000), 4);
    rec.writeUInt32LE(frame.length, 8);
    rec.writeUInt32LE(frame.length, 12);
    return Buffer.concat([rec, frame]);
  });
  writeFileSync(file, Buffer.concat([header, ...records]));
}

function ethernet(): Buffer {
  const b = Buffer.alloc(14); // zero MAC addresses: loopback has none
  b.writeUInt16BE(0x0800, 12);
  return b;
}

function ipv4(d: Datagram, payloadLength: number): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt8(0x45, 0);
  b.writeUInt16BE(20 + payloadLength, 2);
  b.writeUInt8(64, 8); // TTL
  b.writeUInt8(17, 9); // UDP
  Buffer.from(d.src.address.split('.').map(Number)).copy(b, 12);
  Buffer.from(d.dst.address.split('.').map(Number)).copy(b, 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += b.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  b.writeUInt16BE(~sum & 0xffff, 10);
  return b;
}

function udp(d: Datagram): Buffer {
  const b = Buffer.alloc(8); // checksum 0: none, allowed over IPv4
  b.writeUInt16BE(d.src.port, 0);
  b.writeUInt16BE(d.dst.port, 2);
  b.writeUInt16BE(8 + d.data.length, 4);
  return b;
}
