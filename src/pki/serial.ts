// Certificate serial numbers. The API speaks decimal strings (what people compare and type); DER
// and @peculiar/x509 want hex.
import { randomBytes } from 'node:crypto';

/**
 * A random positive 128-bit serial. The top two bits are fixed to 01 so the value is never zero,
 * never needs a DER sign byte and always prints at the same length (RFC 5280 caps serials at 20 bytes).
 */
export function randomSerial(): bigint {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x3f) | 0x40;
  return BigInt(`0x${bytes.toString('hex')}`);
}

/** Hex digits of a positive serial, even length, as @peculiar/x509 expects. */
export function serialToHex(serial: bigint): string {
  const hex = serial.toString(16);
  return hex.length % 2 ? `0${hex}` : hex;
}

/** Decimal string of a hex serial such as Node's `X509Certificate.serialNumber` or `AB:CD:...`. */
export function hexToDecimal(hex: string): string {
  return BigInt(`0x${hex.replaceAll(':', '')}`).toString();
}

/** Serials and CRL numbers are at most 20 octets, the DER sign bit included (RFC 5280 4.1.2.2, 5.2.3). */
export const MAX_SERIAL_EXCLUSIVE = 1n << 159n;

export function isValidSerial(serial: bigint): boolean {
  return serial > 0n && serial < MAX_SERIAL_EXCLUSIVE;
}

/** Parses a serial typed by a person: decimal, `0x`-prefixed hex, or colon-separated hex bytes. */
export function parseSerial(text: string): bigint {
  const s = text.trim();
  let value: bigint | undefined;
  if (/^\d+$/.test(s)) value = BigInt(s);
  else if (/^0x[0-9a-f]+$/i.test(s)) value = BigInt(s);
  else if (/^[0-9a-f]{2}(:[0-9a-f]{2})+$/i.test(s)) value = BigInt(`0x${s.replaceAll(':', '')}`);
  if (value === undefined || !isValidSerial(value)) {
    throw new Error(
      `invalid serial number '${text}': use a positive decimal number, 0x-prefixed hex or AB:CD hex bytes (at most 20 bytes)`,
    );
  }
  return value;
}
