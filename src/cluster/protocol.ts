// The messages of a multi-process sipsd, over Node's IPC channel between the primary and each
// worker (structured clone: Buffers travel as bytes). Workers never talk to each other directly:
// the primary relays what one worker addresses to another.
import type { Binding } from '../features/registrar/binding.js';
import type { LocationChange } from '../features/registrar/location.js';
import type { SentFrom } from '../transport/types.js';
import type { WireInbound } from './wire.js';

/** An inbound TCP/TLS connection of a worker, as the others find it: by its peer key and aliases. */
export interface PeerConnection {
  id: number;
  /** `proto|address|port` keys: the peer's own, then its RFC 5923 aliases. */
  keys: string[];
}

/** What one worker tells another (relayed by the primary). */
export type PeerMessage =
  /** A message this worker read that belongs to the addressee (its transaction, its Call-ID). */
  | { t: 'deliver'; inbound: WireInbound }
  /** Please write `data` on your connection `connection`; answer with `sent`. */
  | { t: 'send'; ref: number; connection: number; data: Buffer }
  | { t: 'sent'; ref: number; error?: string; from?: SentFrom }
  /** Changes to this worker's inbound connections since the last report, in order. */
  | { t: 'conns'; opened: PeerConnection[]; aliased: PeerConnection[]; closed: number[] }
  /** A change to the bindings of an address-of-record made on the sender (registrar replication). */
  | ({ t: 'location' } & LocationChange)
  /** A (re)started worker asks the others for their connections (and one of them for bindings). */
  | { t: 'hello'; wantLocation: boolean }
  | { t: 'location-dump'; entries: Array<[string, Binding[]]> };

/** What the primary asks a worker to run, and the answer. */
export interface CallRequest {
  t: 'call';
  ref: number;
  /** A management command, or one of the internal steps below. */
  method: string;
  params: unknown;
}

/** Internal steps of a cluster-wide tls_reload: every worker prepares, then all commit or abort. */
export const TLS_RELOAD_STEPS = {
  prepare: 'cluster:tls_reload_prepare',
  commit: 'cluster:tls_reload_commit',
  abort: 'cluster:tls_reload_abort',
} as const;

/** The management commands of a worker, described for the primary's registry. */
export const DESCRIBE = 'cluster:describe';

export interface CallResult {
  t: 'result';
  ref: number;
  ok: boolean;
  result?: unknown;
  /** MgmtError fields when not ok. */
  error?: { code: number; message: string; data?: unknown };
}

/** What a worker reports once it listens. */
export interface ReadyReport {
  t: 'ready';
  listeners: string[];
  domains: string[];
  script: string;
}

export type WorkerToPrimary =
  /** The worker's first words, once it listens on the channel: it wants its configuration. */
  | { t: 'configure' }
  | ReadyReport
  | { t: 'failed'; error: string }
  /** Relay `msg` to worker `to`, or to every other worker with 'others'. */
  | { t: 'relay'; to: number | 'others'; msg: PeerMessage }
  /** Relay `msg` to every other worker and answer `synced` once all have handled it. */
  | { t: 'sync'; ref: number; msg: PeerMessage }
  /** This worker has handled the relayed message `ref` of a `sync`. */
  | { t: 'handled'; ref: number }
  | CallResult;

export type PrimaryToWorker =
  /**
   * The configuration the primary validated, the answer to `configure`: the workers run exactly it, and
   * a large file (100,000 TLS domains) is parsed once instead of once per process. `config` is its
   * `v8.serialize` form, made once for the workers that start together (see `Primary.start`).
   */
  | { t: 'start'; config: Uint8Array; file: string }
  /** A message from another worker; with `ref`, answer `handled` once it is applied. */
  | { t: 'peer'; from: number; msg: PeerMessage; ref?: number }
  | { t: 'synced'; ref: number }
  | CallRequest
  /** Worker `worker` is gone: forget its connections. */
  | { t: 'worker-exit'; worker: number }
  | { t: 'stop' };

/** Messages of other libraries on the same channel (prom-client's cluster metrics) are not ours. */
export function isOurs(message: unknown): message is { t: string } {
  return (
    typeof message === 'object' && message !== null && typeof (message as { t?: unknown }).t === 'string'
  );
}
