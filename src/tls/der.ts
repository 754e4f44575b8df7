// Just enough DER reading to take encoded pieces out of certificates, CRLs and DH parameters as
// the bytes they are (names to compare, the signed part of a CRL), which parsers re-encode or hide.

/** One type-length-value: `start` of the header, `body` of the contents, `end` exclusive. */
export interface Tlv {
  tag: number;
  start: number;
  body: number;
  end: number;
}

export const SEQUENCE = 0x30;
export const INTEGER = 0x02;

export function readTlv(der: Buffer, at = 0): Tlv {
  const tag = der[at];
  let length = der[at + 1];
  let body = at + 2;
  if (tag === undefined || length === undefined) throw new Error('truncated DER');
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes === 0 || bytes > 4) throw new Error('unsupported DER length');
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + (der[body++] ?? NaN);
  }
  const end = body + length;
  if (!(end <= der.length)) throw new Error('truncated DER');
  return { tag, start: at, body, end };
}

export function children(der: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.body; at < parent.end;) {
    const child = readTlv(der, at);
    out.push(child);
    at = child.end;
  }
  return out;
}

/** The whole encoding of `t` (header included). */
export function bytesOf(der: Buffer, t: Tlv | undefined): Buffer {
  if (!t) throw new Error('unexpected DER structure');
  return der.subarray(t.start, t.end);
}
