// Benchmark of TLS domains provisioned in SQL: N rows in an SQLite tls_mgm table (real EC
// certificates: a pool of distinct certificate/key pairs reused across rows, since issuing 10,000
// takes long), then the time, memory and longest event-loop stall of
//   - reading them (sqlDomainSource: paged SELECTs + normalizeDomain), and
//   - the snapshot (TlsSnapshot.build: certificate/key check per row; contexts come on first use),
//   - the snapshot of a reload with the same rows (unchanged rows are reused).
// Run: node --import tsx bench/db-domains.ts [N ...] [--pool K] [--page ROWS] [--no-build]
// (default: 1000 10000 rows, a pool of 200 pairs, the source's page size)
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { defaultDbConfig } from '../src/db/config.js';
import { openDb } from '../src/db/db.js';
import { TlsMgmTable } from '../src/db/tls-mgm.js';
import { createCertificateAuthority, issueCertificate } from '../src/pki/index.js';
import { DEFAULT_PAGE_SIZE, sqlDomainSource } from '../src/tls/sources/sql-domains.js';
import { TlsSnapshot } from '../src/tls/store.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

interface Phase {
  ms: number;
  /** Growth after a full GC, with the result still referenced. */
  heapMb: number;
  rssMb: number;
  /** Longest time the event loop could not run a timer, during the phase. */
  maxStallMs: number;
}

const mb = (bytes: number) => bytes / 1024 / 1024;

async function measure<T>(work: () => Promise<T>): Promise<{ result: T; phase: Phase }> {
  gc();
  const before = process.memoryUsage();
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const started = performance.now();
  const result = await work();
  const ms = performance.now() - started;
  delay.disable();
  gc();
  const after = process.memoryUsage();
  return {
    result,
    phase: {
      ms,
      heapMb: mb(after.heapUsed + after.external - before.heapUsed - before.external),
      rssMb: mb(after.rss - before.rss),
      maxStallMs: delay.max / 1e6,
    },
  };
}

async function certificatePool(
  size: number,
): Promise<{ ca: Buffer; pairs: Array<{ cert: Buffer; key: Buffer }> }> {
  const ca = await createCertificateAuthority({ subject: '/O=sipsd bench/CN=Bench CA' });
  const pairs = [];
  for (let i = 0; i < size; i++) {
    const leaf = await issueCertificate({
      ca,
      profile: 'server',
      subject: `/O=sipsd bench/CN=pool${i}.example.com`,
      subjectAltNames: { dns: [`pool${i}.example.com`] },
    });
    pairs.push({ cert: Buffer.from(leaf.certificatePem), key: Buffer.from(leaf.privateKeyPem) });
  }
  return { ca: Buffer.from(ca.certificatePem), pairs };
}

async function run(
  rows: number,
  pool: Awaited<ReturnType<typeof certificatePool>>,
  opts: { build: boolean; pageSize: number },
) {
  const dir = await mkdtemp(join(tmpdir(), 'sipsd-bench-db-'));
  try {
    const url = `sqlite://${join(dir, 'bench.db')}`;
    const config = defaultDbConfig(url);
    const writer = new TlsMgmTable(openDb(url, { baseDir: dir, create: true }), config);
    await writer.init();
    const filled = performance.now();
    // One transaction: the single connection of a Db makes BEGIN/COMMIT span the inserts.
    await writer.db.exec('BEGIN');
    for (let i = 0; i < rows; i++) {
      const pair = pool.pairs[i % pool.pairs.length]!;
      await writer.insert({
        domain: `d${i}`,
        type: 2,
        match_ip_address: `10.${(i >> 8) & 255}.${i & 255}.1:5061`,
        match_sip_domain: `d${i}.example.com`,
        certificate: pair.cert,
        private_key: pair.key,
        ca_list: pool.ca,
      });
    }
    await writer.db.exec('COMMIT');
    await writer.db.close();
    const fillMs = performance.now() - filled;

    const source = sqlDomainSource(openDb(url, { baseDir: dir }), config, {
      baseDir: dir,
      pageSize: opts.pageSize,
    });
    // The first read also loads the driver and opens the file; a reload (the second) does neither.
    const read = await measure(() => source.read());
    const reread = await measure(() => source.read());
    await source.close();
    if (read.result.domains.length !== rows || read.result.warnings.length > 0) {
      throw new Error(
        `read ${read.result.domains.length} of ${rows} rows: ${read.result.warnings.slice(0, 3).join('; ')}`,
      );
    }
    if (!opts.build) return { rows, fillMs, read: read.phase, reread: reread.phase };
    // Database rows are checked at load and their contexts built on first use; a reload with
    // unchanged rows reuses the previous snapshot's slots.
    const built = await measure(() => TlsSnapshot.build(read.result.domains, dir, { warnings: [] }));
    const rebuilt = await measure(() =>
      TlsSnapshot.build(reread.result.domains, dir, { warnings: [] }, built.result),
    );
    return {
      rows,
      fillMs,
      read: read.phase,
      reread: reread.phase,
      build: built.phase,
      rebuild: rebuilt.phase,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const { values, positionals } = parseArgs({
  options: {
    pool: { type: 'string', default: '200' },
    page: { type: 'string', default: String(DEFAULT_PAGE_SIZE) },
    'no-build': { type: 'boolean', default: false },
  },
  allowPositionals: true,
});
const sizes = positionals.length > 0 ? positionals.map(Number) : [1_000, 10_000];
const poolStarted = performance.now();
const pool = await certificatePool(Number(values.pool));
console.log(
  `${pool.pairs.length} EC P-256 certificate/key pairs issued in ${(performance.now() - poolStarted).toFixed(0)} ms`,
);
const fmt = (p: Phase | undefined) =>
  p
    ? `${p.ms.toFixed(0).padStart(7)} ms  heap+ext ${p.heapMb.toFixed(1).padStart(7)} MB  rss ${p.rssMb.toFixed(1).padStart(7)} MB  max stall ${p.maxStallMs.toFixed(1).padStart(7)} ms`
    : 'skipped';
for (const size of sizes) {
  const r = await run(size, pool, { build: !values['no-build'], pageSize: Number(values.page) });
  console.log(`${r.rows} rows (inserted in ${r.fillMs.toFixed(0)} ms)`);
  console.log(`  read+normalize: ${fmt(r.read)}`);
  console.log(`  again (reload): ${fmt(r.reread)}`);
  console.log(`  build snapshot: ${fmt(r.build)}`);
  console.log(`  rebuild (same): ${fmt(r.rebuild)}`);
}
