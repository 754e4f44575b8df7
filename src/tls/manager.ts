// Owns the current TLS snapshot and its sources. Reload is a transaction: every reloadable source
// is read again and every context rebuilt off to the side; only a complete snapshot replaces the
// running one, and on any error the running one stays with a precise answer.
import type { Logger } from '../log/logger.js';
import type { Endpoint } from '../transport/types.js';
import type { TlsDomain } from './domain.js';
import type { ClientChoice, ClientHints, ServerChoice, TlsProvider } from './provider.js';
import type { BuildOptions } from './context.js';
import { TlsSnapshot } from './store.js';

/** One place domains come from. `read` runs at start and on every reload. */
export interface DomainSourceReader {
  /** `config`, `tls.cfg`, `db`: shown in tls_list and errors. */
  readonly kind: TlsDomain['source']['kind'];
  /** Domains of a source read later lose name collisions with earlier ones. */
  read(): Promise<{ domains: TlsDomain[]; warnings: string[] }>;
  /** Releases what the source holds (a database connection); called when the server stops. */
  close?(): Promise<void>;
}

export interface ReloadResult {
  ok: boolean;
  /** Domains in force after the call (the old count when the reload failed). */
  domains: number;
  warnings: string[];
  errors: string[];
  durationMs: number;
}

/** A reload built and not yet in force (see TlsManager.prepare). */
export interface PreparedReload {
  result: ReloadResult;
  /** Undefined when the reload failed. */
  snapshot: TlsSnapshot | undefined;
}

export class TlsManager implements TlsProvider {
  private current: TlsSnapshot | undefined;
  private reloading: Promise<ReloadResult> | undefined;
  reloads = { ok: 0, failed: 0 };

  constructor(
    private readonly sources: readonly DomainSourceReader[],
    /** Folder of the main config: where the built-in defaults look for tls/cert.pem and tls/ckey.pem. */
    private readonly baseDir: string,
    private readonly log: Logger,
    /** Applied to every domain's context (session resumption). */
    private readonly buildOptions: BuildOptions = {},
  ) {}

  get snapshot(): TlsSnapshot {
    if (!this.current) throw new Error('TLS domains are not loaded yet');
    return this.current;
  }

  /** First load: like a reload, but failing is fatal for the caller. */
  async load(): Promise<ReloadResult> {
    const result = await this.reload();
    if (!result.ok) throw new Error(result.errors.join('\n'));
    return result;
  }

  /** Concurrent calls share one reload. */
  reload(): Promise<ReloadResult> {
    this.reloading ??= this.prepare()
      .then((prepared) => this.commit(prepared))
      .finally(() => (this.reloading = undefined));
    return this.reloading;
  }

  /**
   * The first half of a reload: reads every source and builds the snapshot off to the side, the
   * running one untouched. Several workers reload as one this way: all prepare, then all commit,
   * or all drop what they prepared when one of them failed.
   */
  async prepare(): Promise<PreparedReload> {
    const started = Date.now();
    const warnings: string[] = [];
    const built = await this.build(warnings);
    const durationMs = Date.now() - started;
    if (!built.ok) {
      return {
        result: {
          ok: false,
          domains: this.current?.domains.length ?? 0,
          warnings,
          errors: built.errors,
          durationMs,
        },
        snapshot: undefined,
      };
    }
    return {
      result: { ok: true, domains: built.snapshot.domains.length, warnings, errors: [], durationMs },
      snapshot: built.snapshot,
    };
  }

  /** Puts a prepared snapshot in force (a failed preparation is counted and logged instead). */
  commit({ result, snapshot }: PreparedReload): ReloadResult {
    if (!snapshot) {
      this.reloads.failed++;
      this.log.warn({ errors: result.errors }, 'TLS reload failed; the running domains stay in force');
      return result;
    }
    this.current = snapshot;
    this.reloads.ok++;
    for (const w of result.warnings) this.log.warn(w);
    this.log.info({ domains: snapshot.domains.length, durationMs: result.durationMs }, 'TLS domains loaded');
    return result;
  }

  async close(): Promise<void> {
    await Promise.all(this.sources.map((s) => s.close?.()));
  }

  serverFor(local: Endpoint, serverName: string | undefined): Promise<ServerChoice> {
    return this.snapshot.serverFor(local, serverName);
  }

  clientFor(remote: Endpoint, hints: ClientHints): Promise<ClientChoice> {
    return this.snapshot.clientFor(remote, hints);
  }

  private async build(
    warnings: string[],
  ): Promise<{ ok: true; snapshot: TlsSnapshot } | { ok: false; errors: string[] }> {
    const merged: TlsDomain[] = [];
    const seen = new Map<string, TlsDomain>();
    for (const source of this.sources) {
      let read: Awaited<ReturnType<DomainSourceReader['read']>>;
      try {
        read = await source.read();
      } catch (err) {
        return { ok: false, errors: [`${source.kind}: ${(err as Error).message}`] };
      }
      warnings.push(...read.warnings);
      for (const d of read.domains) {
        const key = `${d.type}:${d.name}`;
        const earlier = seen.get(key);
        if (earlier && earlier.source.kind !== d.source.kind) {
          warnings.push(
            `${d.type} domain "${d.name}" from ${where(d)} ignored: ${where(earlier)} defines it (the file wins)`,
          );
          continue;
        }
        if (earlier)
          return { ok: false, errors: [`${d.type} domain "${d.name}" is defined twice in ${where(d)}`] };
        seen.set(key, d);
        merged.push(d);
      }
    }
    try {
      const snapshot = await TlsSnapshot.build(
        merged,
        this.baseDir,
        {
          warnings,
          progress: (prepared, total) => this.log.info({ prepared, total }, 'TLS domains: checking'),
          contextFailed: (error) =>
            this.log.error({ error: error.message }, 'TLS domain refused by OpenSSL; its handshakes fail'),
        },
        this.current,
        this.buildOptions,
      );
      return { ok: true, snapshot };
    } catch (err) {
      const errors =
        err instanceof AggregateError ? err.errors.map((e: Error) => e.message) : [(err as Error).message];
      return { ok: false, errors };
    }
  }
}

function where(d: TlsDomain): string {
  return d.source.file ? `${d.source.kind} ${d.source.file}` : d.source.kind;
}
