// HEP version 3 encoding (the HOMER encapsulation protocol): "HEP3", a 16-bit total length, then chunks
// of vendor id (16 bits), type (16), length including this 6-byte header (16) and value, all big-endian.
//
// Written here rather than taken from npm: the one HEP library there, sipcapture's hep-js, is untyped
// CommonJS, writes IPv4 addresses only and sizes the payload chunk by string length instead of bytes
// (multi-byte UTF-8 would be cut), and is GPL while sipsd is MIT. The format is a few chunks.
import { isIP } from 'node:net';
import type { Endpoint } from '../transport/types.js';

/** Generic chunk types (vendor 0) of HEP3. */
export const HepChunk = {
  IpFamily: 0x01,
  IpProto: 0x02,
  Ipv4Src: 0x03,
  Ipv4Dst: 0x04,
  Ipv6Src: 0x05,
  Ipv6Dst: 0x06,
  SrcPort: 0x07,
  DstPort: 0x08,
  TimeSec: 0x09,
  TimeUsec: 0x0a,
  ProtoType: 0x0b,
  CaptureId: 0x0c,
  Payload: 0x0f,
  CorrelationId: 0x11,
} as const;

/** Payload types (chunk 0x0b) sipsd sends. */
export const HepProtoType = {
  Sip: 0x01,
  /**
   * OpenSIPS proto_hep's id for transport events (its "net" traces of proto_tls/proto_tcp), whose
   * payload is a JSON object; sipsd's connection events use it so collectors file them alike.
   */
  NetEvent: 0x59,
} as const;

/** IP protocol ids (chunk 0x02); TLS has none, and HEP senders (OpenSIPS, Kamailio) mark it with 22. */
export const IpProto = { Tcp: 6, Udp: 17, Tls: 22 } as const;

const AF_INET = 2;
const AF_INET6 = 10;
const HEADER = 6;
/** The total length is a 16-bit field. */
export const HEP_MAX_LENGTH = 0xffff;

export interface HepPacket {
  ipProto: number;
  src: Endpoint;
  dst: Endpoint;
  /** Microseconds since the epoch. */
  timeUs: number;
  protoType: number;
  captureId: number;
  correlationId?: string;
  payload: Buffer;
}

/** Encodes one packet; throws a RangeError when it would exceed the 64 KiB HEP3 length field. */
export function encodeHep(p: HepPacket): Buffer {
  let src = ipBytes(p.src.address);
  let dst = ipBytes(p.dst.address);
  // Both addresses share one family chunk: a lone IPv4 side is written IPv4-mapped.
  if (src.length !== dst.length) [src, dst] = [toV6(src), toV6(dst)];
  const v6 = src.length === 16;
  const correlation = p.correlationId === undefined ? undefined : Buffer.from(p.correlationId, 'utf8');
  const length =
    HEADER +
    (HEADER + 1) * 3 + // family, ip proto, proto type
    (HEADER + src.length) * 2 +
    (HEADER + 2) * 2 + // ports
    (HEADER + 4) * 3 + // seconds, microseconds, capture id
    (correlation ? HEADER + correlation.length : 0) +
    HEADER +
    p.payload.length;
  if (length > HEP_MAX_LENGTH) {
    throw new RangeError(`HEP packet of ${length} bytes exceeds the ${HEP_MAX_LENGTH}-byte HEP3 limit`);
  }
  const buf = Buffer.allocUnsafe(length);
  buf.write('HEP3', 0, 'latin1');
  buf.writeUInt16BE(length, 4);
  let at = HEADER;
  const chunk = (type: number, size: number): number => {
    buf.writeUInt16BE(0, at);
    buf.writeUInt16BE(type, at + 2);
    buf.writeUInt16BE(HEADER + size, at + 4);
    const value = at + HEADER;
    at = value + size;
    return value;
  };
  buf.writeUInt8(v6 ? AF_INET6 : AF_INET, chunk(HepChunk.IpFamily, 1));
  buf.writeUInt8(p.ipProto, chunk(HepChunk.IpProto, 1));
  src.copy(buf, chunk(v6 ? HepChunk.Ipv6Src : HepChunk.Ipv4Src, src.length));
  dst.copy(buf, chunk(v6 ? HepChunk.Ipv6Dst : HepChunk.Ipv4Dst, dst.length));
  buf.writeUInt16BE(p.src.port, chunk(HepChunk.SrcPort, 2));
  buf.writeUInt16BE(p.dst.port, chunk(HepChunk.DstPort, 2));
  const seconds = Math.floor(p.timeUs / 1e6);
  buf.writeUInt32BE(seconds >>> 0, chunk(HepChunk.TimeSec, 4));
  buf.writeUInt32BE(Math.floor(p.timeUs - seconds * 1e6), chunk(HepChunk.TimeUsec, 4));
  buf.writeUInt8(p.protoType, chunk(HepChunk.ProtoType, 1));
  buf.writeUInt32BE(p.captureId >>> 0, chunk(HepChunk.CaptureId, 4));
  if (correlation) correlation.copy(buf, chunk(HepChunk.CorrelationId, correlation.length));
  p.payload.copy(buf, chunk(HepChunk.Payload, p.payload.length));
  return buf;
}

/** The 4 or 16 bytes of an IP literal; anything else (an unknown address) as 0.0.0.0. */
export function ipBytes(address: string): Buffer {
  const host = address.replace(/%.*$/, ''); // an IPv6 zone id is local to this host
  const family = isIP(host);
  if (family === 4) return Buffer.from(host.split('.').map(Number));
  if (family !== 6) return Buffer.alloc(4);
  const out = Buffer.alloc(16);
  let text = host;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    // An embedded IPv4 tail (::ffff:192.0.2.1) fills the last two groups.
    ipBytes(v4[1]!).copy(out, 12);
    text = text.slice(0, -v4[1]!.length) + '0:0';
  }
  const [head = '', tail] = text.split('::');
  const groups = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const front = groups(head);
  const back = tail === undefined ? [] : groups(tail);
  const all = [...front, ...Array<number>(8 - front.length - back.length).fill(0), ...back];
  all.forEach((g, i) => {
    if (!(v4 && i >= 6)) out.writeUInt16BE(g, i * 2);
  });
  return out;
}

function toV6(ip: Buffer): Buffer {
  if (ip.length === 16) return ip;
  const out = Buffer.alloc(16);
  out.writeUInt16BE(0xffff, 10);
  ip.copy(out, 12);
  return out;
}
