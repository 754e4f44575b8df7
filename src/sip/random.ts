// Random tokens for To tags and Via branches. One randomFillSync call per pool refill: a call into
// OpenSSL per token costs several microseconds, more than the rest of a stateless reply's work.
import { randomFillSync } from 'node:crypto';

const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let offset = POOL_SIZE;

/** `bytes` (at most the pool size) fresh cryptographically random bytes, as hex or base64url text. */
export function randomToken(bytes: number, encoding: 'hex' | 'base64url'): string {
  if (offset + bytes > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  const start = offset;
  offset += bytes;
  return pool.toString(encoding, start, offset);
}
