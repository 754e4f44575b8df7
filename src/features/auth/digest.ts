// The digest computations of RFC 2617 and RFC 7616 (MD5 and SHA-256, qop=auth, and RFC 2069's
// form without qop that old phones still send). Pure functions over strings.
import { createHash, timingSafeEqual } from 'node:crypto';

/** Supported algorithms, strongest first: the order challenges are offered in by default. */
export const DIGEST_ALGORITHMS = ['SHA-256', 'MD5'] as const;
export type DigestAlgorithm = (typeof DIGEST_ALGORITHMS)[number];

const NODE_HASH: Record<DigestAlgorithm, string> = { 'SHA-256': 'sha256', MD5: 'md5' };

/** Length of a hash in lower-case hex. */
export const HEX_LENGTH: Record<DigestAlgorithm, number> = { 'SHA-256': 64, MD5: 32 };

/** The algorithm named by a credentials' `algorithm` parameter; absent means MD5 (RFC 2617 §3.2.1). */
export function parseAlgorithm(name: string | undefined): DigestAlgorithm | undefined {
  if (name === undefined) return 'MD5';
  const upper = name.toUpperCase();
  return DIGEST_ALGORITHMS.find((a) => a === upper);
}

/** H(data) in lower-case hex; strings are hashed as UTF-8. */
export function digestHash(algorithm: DigestAlgorithm, data: string): string {
  return createHash(NODE_HASH[algorithm]).update(data, 'utf8').digest('hex');
}

/** HA1 = H(username ":" realm ":" password), what a subscriber table stores instead of the password. */
export function computeHa1(
  algorithm: DigestAlgorithm,
  username: string,
  realm: string,
  password: string,
): string {
  return digestHash(algorithm, `${username}:${realm}:${password}`);
}

export interface DigestInput {
  algorithm: DigestAlgorithm;
  ha1: string;
  nonce: string;
  method: string;
  /** The `uri` parameter as sent (the Request-URI for SIP). */
  uri: string;
  /** With qop=auth, the nonce count (8 hex digits) and client nonce are part of the hash. */
  qop?: { nc: string; cnonce: string };
}

/**
 * The `response` value: H(HA1:nonce:nc:cnonce:auth:HA2) with qop=auth, H(HA1:nonce:HA2) without,
 * where HA2 = H(method:uri).
 */
export function computeResponse(input: DigestInput): string {
  const ha2 = digestHash(input.algorithm, `${input.method}:${input.uri}`);
  const middle = input.qop ? `${input.nonce}:${input.qop.nc}:${input.qop.cnonce}:auth` : input.nonce;
  return digestHash(input.algorithm, `${input.ha1.toLowerCase()}:${middle}:${ha2}`);
}

/** Compares two hex digests without leaking where they differ; case-insensitive. */
export function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a.toLowerCase(), 'latin1');
  const y = Buffer.from(b.toLowerCase(), 'latin1');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A well-formed hex hash for the algorithm (a stored HA1, a received response). */
export function isHexDigest(algorithm: DigestAlgorithm, text: string): boolean {
  return text.length === HEX_LENGTH[algorithm] && /^[0-9a-fA-F]+$/.test(text);
}
