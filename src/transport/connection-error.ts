// Why a connection could not be established, as a value: the stage it failed at (and, when the
// peer's certificate was refused, how it was classified), so observers such as the metrics never
// have to read it out of a message.
import type { PeerVerification } from './types.js';

export type FailureStage =
  /** The TCP connect (outbound) failed or timed out. */
  | 'connect'
  /** No TLS domain applies (or the one chosen cannot be built). */
  | 'domain'
  /** The TLS handshake failed, timed out, or the bytes were not TLS. */
  | 'handshake'
  /** The handshake completed but the domain's policy refused the peer's certificate. */
  | 'verification'
  /** The script's connection hook dropped it (or threw). */
  | 'hook'
  /** Refused under low_mem_threshold1. */
  | 'low_memory';

export class ConnectionError extends Error {
  constructor(
    message: string,
    readonly stage: FailureStage,
    /** The TLS domain chosen before the failure, when one was. */
    readonly domain?: string,
    /** For `verification`: the peer's certificate as classified. */
    readonly peer?: PeerVerification,
  ) {
    super(message);
  }
}

/** The stage of any error: ours carry it; anything else happened during the handshake. */
export function stageOf(err: unknown): FailureStage {
  return err instanceof ConnectionError ? err.stage : 'handshake';
}
