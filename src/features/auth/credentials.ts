// Where users and their secrets come from: the interface the authenticator reads, an in-memory
// store (tests, embedders, small setups) and a small time-limited cache in front of a slow one.

/** One user, as the subscriber table holds it. */
export interface Subscriber {
  username: string;
  domain: string;
  /**
   * The value of password_column: the plain-text password when calculate_ha1 is set, else the MD5
   * HA1. Null or empty when the row has none.
   */
  password: string | null;
  /** The SHA-256 HA1 (hash_column_sha256); read only without calculate_ha1. */
  ha1Sha256: string | null;
}

export interface CredentialStore {
  /**
   * The user of that name, in that domain when `domain` is given (use_domain), else the first of
   * that name. Rejects when the store cannot be read.
   */
  find(username: string, domain: string | undefined): Promise<Subscriber | undefined>;
}

export class MemoryCredentialStore implements CredentialStore {
  readonly #users: Subscriber[] = [];

  add(user: Subscriber): this {
    this.#users.push(user);
    return this;
  }

  async find(username: string, domain: string | undefined): Promise<Subscriber | undefined> {
    return this.#users.find((u) => u.username === username && (domain === undefined || u.domain === domain));
  }
}

interface CacheEntry {
  user: Subscriber | undefined;
  until: number;
}

/**
 * Keeps answers (also "no such user", which is what a password-guessing flood asks for) for
 * `ttlS` seconds, at most `capacity` of them, least recently used out first. Concurrent misses for
 * the same user share one read; failed reads are not kept.
 */
export class CachedCredentialStore implements CredentialStore {
  readonly #entries = new Map<string, CacheEntry>();
  readonly #pending = new Map<string, Promise<Subscriber | undefined>>();

  constructor(
    private readonly inner: CredentialStore,
    private readonly ttlS: number,
    private readonly now: () => number = Date.now,
    private readonly capacity = 10_000,
  ) {}

  async find(username: string, domain: string | undefined): Promise<Subscriber | undefined> {
    if (this.ttlS === 0) return this.inner.find(username, domain);
    const key = `${username}\0${domain ?? ''}`;
    const hit = this.#entries.get(key);
    if (hit && hit.until > this.now()) {
      this.#entries.delete(key);
      this.#entries.set(key, hit);
      return hit.user;
    }
    this.#entries.delete(key);
    let pending = this.#pending.get(key);
    if (!pending) {
      pending = this.inner.find(username, domain).finally(() => this.#pending.delete(key));
      this.#pending.set(key, pending);
    }
    const user = await pending;
    if (this.#entries.size >= this.capacity) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { user, until: this.now() + this.ttlS * 1000 });
    return user;
  }

  /** Forgets one user (any domain when `domain` is undefined), or everything. */
  invalidate(username?: string, domain?: string): void {
    if (username === undefined) {
      this.#entries.clear();
      return;
    }
    for (const key of this.#entries.keys()) {
      const [u, d] = key.split('\0');
      if (u === username && (domain === undefined || d === domain)) this.#entries.delete(key);
    }
  }
}
