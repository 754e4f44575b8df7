// What one load or reload of the TLS domains has read and checked. Thousands of domains often share
// their files (one CA list, a wildcard certificate): each distinct file is read once, each distinct
// PEM parsed once, and a check whose result depends only on its inputs runs once and is replayed,
// with its notices and its error, into every domain that asks for it.
import { hash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { TlsDomainError, type DomainReporter } from './domain-error.js';

/** Files read at once: enough to keep the disk busy, few enough to stay far from the fd limit. */
const READ_CONCURRENCY = 32;

/** SHA-256 of PEM material, computed once per buffer. */
const digests = new WeakMap<Buffer, string>();

// One-shot hash(): a Hash object per PEM was a third of reading 100,000 SQL rows.
export function digestOf(data: Buffer | string): string {
  if (typeof data === 'string') return hash('sha256', data, 'base64');
  let digest = digests.get(data);
  if (digest === undefined) digests.set(data, (digest = hash('sha256', data, 'base64')));
  return digest;
}

/** A check's outcome as a domain would have seen it: its notices, then its value or its failure. */
interface Outcome<T> {
  warnings: string[];
  result: { value: T } | { failure: { field: string; file: string | undefined; reason: string } };
}

/** Collects what a check reports instead of binding it to one domain. */
function recorder(): { report: DomainReporter; warnings: string[] } {
  const warnings: string[] = [];
  return {
    warnings,
    report: {
      fail(field, file, reason) {
        throw new TlsDomainError('', field, file, reason);
      },
      warn(message) {
        if (!warnings.includes(message)) warnings.push(message);
      },
    },
  };
}

function replay<T>(outcome: Outcome<T>, report: DomainReporter): T {
  for (const w of outcome.warnings) report.warn(w);
  if ('value' in outcome.result) return outcome.result.value;
  const { field, file, reason } = outcome.result.failure;
  return report.fail(field, file, reason);
}

async function record<T>(run: (report: DomainReporter) => T | Promise<T>): Promise<Outcome<T>> {
  const { report, warnings } = recorder();
  try {
    return { warnings, result: { value: await run(report) } };
  } catch (err) {
    if (!(err instanceof TlsDomainError)) throw err;
    return { warnings, result: { failure: { field: err.field, file: err.file, reason: err.reason } } };
  }
}

/** Bounds concurrent work; callers queue in order. */
class Limiter {
  private active = 0;
  private readonly queue: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.queue.push(r));
    this.active++;
    try {
      return await work();
    } finally {
      this.active--;
      this.queue.shift()?.();
    }
  }
}

/**
 * Results that depend only on PEM content (parsed certificates, whether a key opens and matches),
 * never on time or file names: a reload may take them over from the previous load, so unchanged
 * material is not parsed again. Holds what the last load used, nothing older.
 */
export class ParsedMaterial {
  private readonly entries = new Map<string, unknown>();

  constructor(private previous?: ReadonlyMap<string, unknown>) {}

  get<T>(key: string, parse: () => T): T {
    if (this.entries.has(key)) return this.entries.get(key) as T;
    const value = this.previous?.has(key) ? (this.previous.get(key) as T) : parse();
    this.entries.set(key, value);
    return value;
  }

  /** For the next load; this one's own predecessor is not passed on. */
  get carried(): ReadonlyMap<string, unknown> {
    return this.entries;
  }

  /** Once the load is over: the previous load's entries are no longer needed (nor kept alive). */
  settle(): void {
    this.previous = undefined;
  }
}

export class LoadCache {
  private readonly files = new Map<string, Promise<Buffer>>();
  private readonly stats = new Map<string, Promise<boolean>>();
  private readonly listings = new Map<string, Promise<string[]>>();
  private readonly checks = new Map<string, Promise<Outcome<unknown>>>();
  private readonly reads = new Limiter(READ_CONCURRENCY);
  readonly parsed: ParsedMaterial;

  constructor(previous?: ParsedMaterial) {
    this.parsed = new ParsedMaterial(previous?.carried);
  }

  /** fs.readFile, once per path per load; rejects as it does. */
  readFile(path: string): Promise<Buffer> {
    return once(this.files, path, () => this.reads.run(() => readFile(path)));
  }

  /** Whether `path` is a regular file (symlinks followed); rejects as fs.stat does. */
  isFile(path: string): Promise<boolean> {
    return once(this.stats, path, () => this.reads.run(async () => (await stat(path)).isFile()));
  }

  readdir(dir: string): Promise<string[]> {
    return once(this.listings, dir, () => this.reads.run(() => readdir(dir)));
  }

  /**
   * Runs `check` once per key per load and gives every caller its result as if it had run it:
   * notices go to the caller's domain, a failure is thrown with the caller's domain name. The key
   * must name everything the check depends on.
   */
  async check<T>(
    key: string,
    report: DomainReporter,
    check: (r: DomainReporter) => T | Promise<T>,
  ): Promise<T> {
    const outcome = await once(this.checks, key, () => record(check));
    return replay(outcome as Outcome<T>, report);
  }
}

function once<T>(map: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  let p = map.get(key);
  if (!p) map.set(key, (p = make()));
  return p;
}
