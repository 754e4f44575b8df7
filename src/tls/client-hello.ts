// Reads the server name (SNI) from a TLS ClientHello before any TLS socket exists, so the whole
// domain (certificate, protocol range, ciphers, verification, CAs) can be chosen for the handshake,
// not only the certificate as Node's SNICallback allows.

export type ClientHelloRead =
  | { status: 'need-more' }
  | { status: 'not-tls'; reason: string }
  | { status: 'ok'; serverName: string | undefined };

const RECORD_HEADER = 5;
const CONTENT_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 0x01;
const EXT_SERVER_NAME = 0x0000;
const NAME_TYPE_HOST = 0x00;
/** A ClientHello larger than this is refused: it bounds what is buffered before the handshake. */
export const MAX_CLIENT_HELLO = 64 * 1024;

/**
 * Reassembles the ClientHello handshake message from as many TLS records as it spans (large key
 * shares can split it) and extracts the host_name entry of the server_name extension.
 */
export function readClientHello(buf: Buffer): ClientHelloRead {
  const body: Buffer[] = [];
  let bodyLength = 0;
  let needed = -1;
  let offset = 0;
  while (needed < 0 || bodyLength < needed) {
    if (buf.length < offset + RECORD_HEADER) return { status: 'need-more' };
    if (buf[offset] !== CONTENT_HANDSHAKE)
      return { status: 'not-tls', reason: 'first record is not a TLS handshake' };
    if (buf[offset + 1] !== 0x03) return { status: 'not-tls', reason: 'unknown TLS record version' };
    const length = buf.readUInt16BE(offset + 3);
    if (length === 0) return { status: 'not-tls', reason: 'empty TLS record' };
    if (buf.length < offset + RECORD_HEADER + length) return { status: 'need-more' };
    const fragment = buf.subarray(offset + RECORD_HEADER, offset + RECORD_HEADER + length);
    body.push(fragment);
    bodyLength += fragment.length;
    offset += RECORD_HEADER + length;
    if (needed < 0 && bodyLength >= 4) {
      const head = body.length === 1 ? fragment : Buffer.concat(body);
      if (head[0] !== HANDSHAKE_CLIENT_HELLO)
        return { status: 'not-tls', reason: 'first handshake message is not a ClientHello' };
      needed = 4 + head.readUIntBE(1, 3);
      if (needed > MAX_CLIENT_HELLO) return { status: 'not-tls', reason: 'ClientHello too large' };
    }
  }
  const hello = body.length === 1 ? body[0]! : Buffer.concat(body);
  return parseHello(hello.subarray(4, needed));
}

function parseHello(h: Buffer): ClientHelloRead {
  const bad = (what: string): ClientHelloRead => ({
    status: 'not-tls',
    reason: `malformed ClientHello (${what})`,
  });
  let p = 2 + 32; // client_version, random
  if (h.length < p + 1) return bad('short');
  p += 1 + h[p]!; // session_id
  if (h.length < p + 2) return bad('cipher suites');
  p += 2 + h.readUInt16BE(p);
  if (h.length < p + 1) return bad('compression methods');
  p += 1 + h[p]!;
  if (h.length === p) return { status: 'ok', serverName: undefined }; // no extensions at all
  if (h.length < p + 2) return bad('extensions');
  const end = p + 2 + h.readUInt16BE(p);
  if (end > h.length) return bad('extensions length');
  p += 2;
  while (p + 4 <= end) {
    const type = h.readUInt16BE(p);
    const len = h.readUInt16BE(p + 2);
    p += 4;
    if (p + len > end) return bad('extension length');
    if (type === EXT_SERVER_NAME) return readServerName(h.subarray(p, p + len), bad);
    p += len;
  }
  return { status: 'ok', serverName: undefined };
}

function readServerName(ext: Buffer, bad: (what: string) => ClientHelloRead): ClientHelloRead {
  if (ext.length < 2) return bad('server_name');
  const end = Math.min(ext.length, 2 + ext.readUInt16BE(0));
  let p = 2;
  while (p + 3 <= end) {
    const type = ext[p]!;
    const len = ext.readUInt16BE(p + 1);
    p += 3;
    if (p + len > end) return bad('server_name entry');
    if (type === NAME_TYPE_HOST) {
      const name = ext.toString('latin1', p, p + len);
      // RFC 6066: a host name, ASCII, no trailing dot; anything else is not a usable name.
      if (!/^[A-Za-z0-9._-]+$/.test(name)) return bad('server_name is not a host name');
      return { status: 'ok', serverName: name.toLowerCase() };
    }
    p += len;
  }
  return { status: 'ok', serverName: undefined };
}
