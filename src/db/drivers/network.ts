// Socket-level failures, worded the same for every networked driver.
import type { DbErrorKind } from '../db.js';

interface SocketError {
  code?: unknown;
  address?: unknown;
  port?: unknown;
  hostname?: unknown;
}

/** The kind and reason of a socket error, or undefined if `err` is not one. */
export function explainNetwork(err: unknown): { kind: DbErrorKind; reason: string } | undefined {
  const e = (err ?? {}) as SocketError;
  const where =
    typeof e.address === 'string'
      ? `${e.address}${typeof e.port === 'number' ? `:${e.port}` : ''}`
      : 'the server';
  switch (e.code) {
    case 'ECONNREFUSED':
      return {
        kind: 'connect',
        reason: `connection refused by ${where} (is the server running and listening there?)`,
      };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return {
        kind: 'connect',
        reason: `host ${typeof e.hostname === 'string' ? `"${e.hostname}" ` : ''}not found (${e.code})`,
      };
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return { kind: 'connect', reason: `${where} is unreachable (${e.code})` };
    case 'ETIMEDOUT':
      return { kind: 'timeout', reason: `${where} did not answer in time (${e.code})` };
    case 'ECONNRESET':
    case 'EPIPE':
      return { kind: 'connect', reason: `the connection was lost (${e.code})` };
    default:
      return undefined;
  }
}

/**
 * What every networked driver does first: a socket error, or a server error whose code the
 * driver's table knows. Undefined leaves the rest to the driver.
 */
export function explainByCode(
  err: unknown,
  kinds: Readonly<Record<string, DbErrorKind>>,
): { kind: DbErrorKind; reason: string } | undefined {
  const network = explainNetwork(err);
  if (network) return network;
  const code = (err as { code?: unknown } | null)?.code;
  const kind = typeof code === 'string' ? kinds[code] : undefined;
  return kind ? { kind, reason: errorMessage(err) } : undefined;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
