// Which process of a multi-process sipsd this is (`workers` > 1), and the marks that let any worker
// tell which one owns a connection or a transaction: connection ids carry their worker in their
// remainder, branches sipsd creates carry it after their prefix, and UDP requests belong to the
// worker their Call-ID hashes to (so a retransmission, an ACK or a CANCEL finds the INVITE's
// transaction whichever worker the kernel handed the datagram to). A single process is worker 1 of 1.

/** Environment variables the primary sets for each worker it forks. */
export const WORKER_ENV = {
  index: 'SIPSD_WORKER_INDEX',
  count: 'SIPSD_WORKER_COUNT',
  /** Shared digest-nonce secret when auth_secret is not configured (nonces verify on any worker). */
  secret: 'SIPSD_CLUSTER_SECRET',
} as const;

/** Most workers a server may run. */
export const MAX_WORKERS = 63;
/** Connection ids of one worker are this far apart; the remainder names the worker. */
const ID_STRIDE = 64;

export interface WorkerIdentity {
  /** 1-based. */
  readonly index: number;
  readonly count: number;
}

function fromEnv(): WorkerIdentity {
  const index = Number(process.env[WORKER_ENV.index] ?? 1);
  const count = Number(process.env[WORKER_ENV.count] ?? 1);
  const valid =
    Number.isInteger(index) && Number.isInteger(count) && count >= 1 && count <= MAX_WORKERS && index >= 1;
  return valid && index <= count ? { index, count } : { index: 1, count: 1 };
}

/** This process: read once, at load (the primary sets the environment before forking). */
export const self: WorkerIdentity = fromEnv();

export const clustered = (): boolean => self.count > 1;

/**
 * A factory of connection ids unique over the whole server: one worker's ids are `index`,
 * `index + 64`, ... so the owner of any id is `id % 64`. A single process counts 1, 2, 3, ...
 */
export function connectionIds(identity: WorkerIdentity = self): () => number {
  const step = identity.count > 1 ? ID_STRIDE : 1;
  let next = identity.count > 1 ? identity.index : 1;
  return () => {
    const id = next;
    next += step;
    return id;
  };
}

/** The worker that owns connection `id` (undefined for a single process: always this one). */
export function ownerOfConnection(id: number, identity: WorkerIdentity = self): number | undefined {
  return identity.count > 1 ? id % ID_STRIDE : undefined;
}

/** Marks a branch token with this worker (`w3.` before the random part); nothing for one process. */
export function branchMark(identity: WorkerIdentity = self): string {
  return identity.count > 1 ? `w${identity.index}.` : '';
}

/** The worker a branch made by `branchMark` belongs to, given the text after sipsd's prefix. */
export function ownerOfBranchToken(token: string): number | undefined {
  if (token.charCodeAt(0) !== 119 /* w */) return undefined;
  const dot = token.indexOf('.', 1);
  if (dot < 2 || dot > 3) return undefined;
  const n = Number(token.slice(1, dot));
  return Number.isInteger(n) && n >= 1 && n <= MAX_WORKERS ? n : undefined;
}

/** The worker a UDP request with this Call-ID belongs to (FNV-1a over its characters). */
export function ownerOfCallId(callId: string, count: number = self.count): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < callId.length; i++) {
    h ^= callId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return ((h >>> 0) % count) + 1;
}
