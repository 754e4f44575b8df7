// Configuration keys of the transaction layer, named as the OpenSIPS tm module names its parameters
// (T1_timer, T2_timer, fr_timeout, fr_inv_timeout, restart_fr_on_each_reply, auto_100trying), with
// T4_timer and tm_max_transactions added in the same style. `tmConfigShape` is meant to be merged
// into the main schema (src/config/schema.ts); `tmSettings` turns the keys into milliseconds.
import { z } from 'zod';
import { flag, int } from '../config/fields.js';

export const tmConfigShape = {
  /** RFC 3261 T1, the round-trip estimate (ms): first retransmission interval, 64*T1 timeouts. */
  T1_timer: int(1, 60_000).default(500),
  /** RFC 3261 T2 (ms): the longest retransmission interval of non-INVITE requests and INVITE responses. */
  T2_timer: int(1, 600_000).default(4000),
  /** RFC 3261 T4 (ms): how long a message may stay in the network (timers I and K). */
  T4_timer: int(1, 600_000).default(5000),
  /**
   * Seconds to wait for a final response (timer F), or for any response to an INVITE (timer B),
   * before the branch ends with 408; unset: 64*T1, as RFC 3261 says.
   */
  fr_timeout: int(1, 3600).optional(),
  /** Seconds an INVITE branch may ring (timer C, from its first provisional response) before it is cancelled. */
  fr_inv_timeout: int(1, 86_400).default(180),
  /** Restart timer C on every provisional response 101-199 (RFC 3261 §16.7 step 2). */
  restart_fr_on_each_reply: flag.default(true),
  /** Answer a relayed INVITE with `100 Trying` at once (RFC 3261 §16.2, §17.2.1). */
  auto_100trying: flag.default(true),
  /** Most server transactions kept at once; a request beyond it is answered 503. */
  tm_max_transactions: int(1, 10_000_000).default(100_000),
};

const tmConfigSchema = z.strictObject(tmConfigShape);
export type TmConfig = z.output<typeof tmConfigSchema>;

/** What the transaction layer runs with, in milliseconds. */
export interface TmSettings {
  t1: number;
  t2: number;
  t4: number;
  /** Timers B and F; undefined means 64*T1. */
  finalTimeout: number | undefined;
  /** Timer C. */
  inviteTimeout: number;
  restartOnProvisional: boolean;
  auto100Trying: boolean;
  maxTransactions: number;
}

export function tmSettings(config: TmConfig): TmSettings {
  return {
    t1: config.T1_timer,
    t2: config.T2_timer,
    t4: config.T4_timer,
    finalTimeout: config.fr_timeout === undefined ? undefined : config.fr_timeout * 1000,
    inviteTimeout: config.fr_inv_timeout * 1000,
    restartOnProvisional: config.restart_fr_on_each_reply,
    auto100Trying: config.auto_100trying,
    maxTransactions: config.tm_max_transactions,
  };
}

/** The defaults of every key, as settings. */
export function defaultTmSettings(): TmSettings {
  return tmSettings(tmConfigSchema.parse({}));
}

/**
 * The RFC 3261 §17 timers (table 4 of RFC 3261, plus L and M of RFC 6026) for one transport: the
 * wait states collapse to zero on reliable transports, where nothing is retransmitted.
 */
export interface TimerValues {
  /** First retransmission interval (timers A, E and G start here). */
  t1: number;
  /** Cap of the E and G intervals. */
  t2: number;
  /** B: INVITE client without any response; F: non-INVITE client without final response. */
  b: number;
  f: number;
  /** C: an INVITE branch after its first provisional response. */
  c: number;
  /** D: INVITE client absorbing retransmitted final responses. */
  d: number;
  /** H: INVITE server waiting for the ACK of its non-2xx final response. */
  h: number;
  /** I: INVITE server absorbing retransmitted ACKs. */
  i: number;
  /** J: non-INVITE server absorbing retransmitted requests. */
  j: number;
  /** K: non-INVITE client absorbing retransmitted responses. */
  k: number;
  /** L and M (RFC 6026): INVITE server and client after a 2xx, absorbing retransmissions. */
  l: number;
  m: number;
  /** How long a cancelled branch may take to send its final response (RFC 3261 §9.1: 64*T1). */
  cancelWait: number;
}

export function timerValues(s: TmSettings, reliable: boolean): TimerValues {
  const long = 64 * s.t1;
  const final = s.finalTimeout ?? long;
  return {
    t1: s.t1,
    t2: s.t2,
    b: final,
    f: final,
    c: s.inviteTimeout,
    // RFC 3261 asks for at least 32 s; 64*T1 is that with the default T1 and scales with it.
    d: reliable ? 0 : long,
    h: long,
    i: reliable ? 0 : s.t4,
    j: reliable ? 0 : long,
    k: reliable ? 0 : s.t4,
    l: long,
    m: long,
    cancelWait: long,
  };
}
