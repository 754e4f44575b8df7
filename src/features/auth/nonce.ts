// Stateless nonces: the server keeps nothing per challenge. A nonce carries the time it was made
// and random bytes, signed with an HMAC keyed by the server secret and bound to the realm, so a
// returned nonce proves it is ours, for this realm, and how old it is.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const TIME_BYTES = 4;
const RANDOM_BYTES = 8;
const MAC_BYTES = 12;
const NONCE_BYTES = TIME_BYTES + RANDOM_BYTES + MAC_BYTES;
/** Nonces dated this far in the future are still accepted: servers sharing a secret drift. */
const CLOCK_SKEW_S = 5;

export type NonceCheck = { ok: true; issuedAt: number; expired: boolean } | { ok: false; reason: string };

export class NonceIssuer {
  /**
   * `expireS`: seconds a nonce stays fresh (nonce_expire); `now` in milliseconds.
   */
  constructor(
    private readonly secret: Buffer,
    private readonly expireS: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** A fresh nonce for `realm`: base64url, 32 characters. */
  issue(realm: string): string {
    const body = Buffer.alloc(TIME_BYTES + RANDOM_BYTES);
    body.writeUInt32BE(this.seconds(), 0);
    randomBytes(RANDOM_BYTES).copy(body, TIME_BYTES);
    return Buffer.concat([body, this.mac(body, realm)]).toString('base64url');
  }

  /** Whether `nonce` is one we issued for `realm`, when, and whether it is past nonce_expire. */
  check(nonce: string, realm: string): NonceCheck {
    const raw = Buffer.from(nonce, 'base64url');
    if (raw.length !== NONCE_BYTES || raw.toString('base64url') !== nonce)
      return { ok: false, reason: 'not a nonce of this server' };
    const body = raw.subarray(0, TIME_BYTES + RANDOM_BYTES);
    if (!timingSafeEqual(raw.subarray(TIME_BYTES + RANDOM_BYTES), this.mac(body, realm)))
      return { ok: false, reason: 'nonce signature does not verify (another server, secret or realm)' };
    const issuedAt = body.readUInt32BE(0);
    const now = this.seconds();
    if (issuedAt > now + CLOCK_SKEW_S) return { ok: false, reason: 'nonce dated in the future' };
    return { ok: true, issuedAt, expired: now - issuedAt > this.expireS };
  }

  private seconds(): number {
    return Math.floor(this.now() / 1000);
  }

  private mac(body: Buffer, realm: string): Buffer {
    return createHmac('sha256', this.secret)
      .update(body)
      .update(realm, 'utf8')
      .digest()
      .subarray(0, MAC_BYTES);
  }
}
