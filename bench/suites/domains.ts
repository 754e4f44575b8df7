// TLS domains at scale: N server domains on the ECDSA listener, each selected by its SNI name
// (ServerSpec.sniDomains: sipsd's YAML tls_domains, Kamailio's tls.cfg profiles with server_name).
// For each N and server, on a fresh server:
//   - startup: from spawning until a handshake for one of the names gets the domains' certificate;
//   - PSS of all the server's processes once loaded and settled;
//   - handshake rate and server CPU per handshake with one SNI name, then with SNI spread at
//     random over all N names (same client, same count);
//   - reload (sipsd tls_reload over its management interface, Kamailio kamcmd tls.reload) while
//     a client keeps handshaking: the reload's duration and how the traffic fared.
// All domains share one certificate/key pair (a wildcard for the names), from a CA of our own so
// that a handshake served by the listener's fallback domain (another certificate) is caught.
// sipsd is measured a second way, the hosting one: the same domains as rows of an SQLite tls_mgm
// table (db_url), filled before the server starts. Kamailio has no SQL source for TLS profiles.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultDbConfig } from '../../src/db/config.js';
import { openDb } from '../../src/db/db.js';
import { TlsMgmTable } from '../../src/db/tls-mgm.js';
import { createCertificateAuthority, issueCertificate } from '../../src/pki/index.js';
import { freePort } from '../../test/helpers/ports.js';
import { TestCa } from '../../test/helpers/domains.js';
import { runHandshakes, type HandshakeResult } from '../harness/handshake-client.js';
import { serverCpuDuring, pssBytes } from '../harness/proc.js';
import type { ResultTable } from '../harness/report.js';
import {
  allocatePorts,
  startServer,
  type BenchPorts,
  type BenchServer,
  type ServerName,
} from '../harness/servers.js';
import { formatNumber, formatRatio, formatSummary, summarize, type Summary } from '../harness/stats.js';
import { alternate, type Suite, type SuiteContext } from '../harness/suite.js';
import { run } from '../harness/tools.js';

const SUFFIX = 'sni.bench.test';
const RELOAD_LIMIT_MS = 120_000;
/** Time a started server gets to serve its first SNI handshake. */
const FIRST_HANDSHAKE_LIMIT_MS = 60_000;

interface Settings {
  settleMs: number;
  /** Handshakes per rate measurement (bounded by rateLimitMs too). */
  handshakes: number;
  rateLimitMs: number;
}

interface Rate {
  perSecond: number;
  cpuMsPerHandshake: number;
  wrong: number;
  failed: number;
}

interface Sample {
  startupSeconds: number;
  pssMb: number;
  reloadSeconds: number;
  one: Rate;
  spread: Rate;
  duringReload?: HandshakeResult;
  /** What went wrong, for the notes. */
  problems: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lastLines = (text: string, n = 4) => text.trim().split('\n').slice(-n).join(' ⏎ ').slice(-600);

interface Target {
  names: string[];
  /** The shared wildcard certificate and key (files), and the certificate's fingerprint. */
  cert: string;
  key: string;
  fingerprint: string;
  /** SQL only: a certificate of its own for each name (same order), instead of the shared one. */
  own?: { pairs: Array<{ cert: Buffer; key: Buffer }>; fingerprints: Map<string, string> };
}

/** The fingerprint the certificate served for `name` must have. */
const expected = (t: Target) => (t.own ? (name?: string) => t.own!.fingerprints.get(name!) : t.fingerprint);

/** A certificate (and key) of its own for each name, issued by a CA of the run's own. */
async function ownCertificates(names: readonly string[]): Promise<NonNullable<Target['own']>> {
  const ca = await createCertificateAuthority({ subject: '/O=sipsd bench/CN=Bench per-domain CA' });
  const pairs: Array<{ cert: Buffer; key: Buffer }> = [];
  const fingerprints = new Map<string, string>();
  for (const name of names) {
    const leaf = await issueCertificate({
      ca,
      profile: 'server',
      subject: `/O=sipsd bench/CN=${name}`,
      subjectAltNames: { dns: [name] },
    });
    pairs.push({ cert: Buffer.from(leaf.certificatePem), key: Buffer.from(leaf.privateKeyPem) });
    fingerprints.set(name, new X509Certificate(leaf.certificatePem).fingerprint256);
  }
  return { pairs, fingerprints };
}

async function rate(
  server: BenchServer,
  port: number,
  t: Target,
  names: string[],
  s: Settings,
): Promise<Rate> {
  const { result, cpuSeconds } = await serverCpuDuring(server.pid, () =>
    runHandshakes({
      port,
      names,
      count: s.handshakes,
      timeLimitMs: s.rateLimitMs,
      concurrency: 8,
      expectFingerprint: expected(t),
    }),
  );
  return {
    perSecond: result.ok / result.wallSeconds,
    cpuMsPerHandshake: result.ok > 0 ? (cpuSeconds * 1000) / result.ok : NaN,
    wrong: result.wrongCertificate,
    failed: result.failed,
  };
}

/** Asks the server to reload its TLS domains; resolves with an error text, or undefined when done. */
async function reload(name: ServerName, server: BenchServer, ports: BenchPorts): Promise<string | undefined> {
  if (name === 'kamailio') {
    const r = await run('kamcmd', ['-s', `unix:${server.dir}/kamailio_ctl`, 'tls.reload'], {
      timeoutMs: RELOAD_LIMIT_MS,
    });
    if (r.timedOut) return `kamcmd tls.reload gave no answer in ${RELOAD_LIMIT_MS / 1000} s`;
    return r.code === 0 ? undefined : `kamcmd tls.reload: ${lastLines(r.stdout + r.stderr)}`;
  }
  try {
    const res = await fetch(`http://127.0.0.1:${ports.mgmt}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', method: 'tls_reload', id: 1 }),
      signal: AbortSignal.timeout(RELOAD_LIMIT_MS),
    });
    const body = (await res.json()) as { result?: { ok?: boolean; errors?: string[] }; error?: unknown };
    return body.result?.ok === true ? undefined : `tls_reload: ${JSON.stringify(body.error ?? body.result)}`;
  } catch (err) {
    return `tls_reload: ${(err as Error).message}`;
  }
}

const failedRate: Rate = { perSecond: NaN, cpuMsPerHandshake: NaN, wrong: 0, failed: 0 };

/**
 * The target's domains as tls_mgm rows of a new SQLite file in `dir`, for the ECDSA listener of
 * each measurement's ports (see listenerOf); returns its db_url.
 */
async function fillTlsMgm(dir: string, t: Target): Promise<string> {
  const url = `sqlite://${join(dir, `domains-${t.names.length}${t.own ? '-own' : ''}.db`)}`;
  const table = new TlsMgmTable(openDb(url, { baseDir: dir, create: true }), defaultDbConfig(url));
  await table.init();
  const shared = { cert: readFileSync(t.cert), key: readFileSync(t.key) };
  // One transaction: the single connection of a Db makes BEGIN/COMMIT span the inserts.
  await table.db.exec('BEGIN');
  for (const [i, name] of t.names.entries()) {
    const { cert, key } = t.own?.pairs[i] ?? shared;
    await table.insert({
      domain: `sni${i}`,
      type: 2,
      match_ip_address: '127.0.0.1:1',
      match_sip_domain: name,
      // As the YAML domains (verify_client: off): no client certificates asked for.
      verify_cert: 0,
      require_cert: 0,
      certificate: cert,
      private_key: key,
    });
  }
  await table.db.exec('COMMIT');
  await table.db.close();
  return url;
}

/** Points the rows of `url` at this measurement's ECDSA listener (ports change per server). */
async function listenerOf(url: string, dir: string, ports: BenchPorts): Promise<string> {
  const db = openDb(url, { baseDir: dir });
  try {
    await db.exec('UPDATE tls_mgm SET match_ip_address = ?', [`127.0.0.1:${ports.tls.ecdsa}`]);
  } finally {
    await db.close();
  }
  return url;
}

/** How a server is measured: sipsd with its domains in the YAML or in SQL, or Kamailio. */
interface Variant {
  name: ServerName;
  /** sipsd only: the domains come from this database instead of the YAML. */
  db?: (ports: BenchPorts) => Promise<string>;
}

async function measure(ctx: SuiteContext, v: Variant, t: Target, s: Settings): Promise<Sample> {
  const { name } = v;
  const sample: Sample = {
    startupSeconds: NaN,
    pssMb: NaN,
    reloadSeconds: NaN,
    one: failedRate,
    spread: failedRate,
    problems: [],
  };
  const ports = await allocatePorts();
  const dbUrl = await v.db?.(ports);
  const started = performance.now();
  let server: BenchServer;
  try {
    server = await startServer(name, {
      pki: ctx.pki,
      ports,
      uasPort: await freePort(),
      workers: ctx.workers,
      sniDomains: { names: t.names, cert: t.cert, key: t.key },
      ...(dbUrl ? { dbUrl } : {}),
    });
  } catch (err) {
    sample.problems.push(
      `did not start after ${((performance.now() - started) / 1000).toFixed(0)} s: ${lastLines((err as Error).message)}`,
    );
    return sample;
  }
  try {
    const port = ports.tls.ecdsa;
    const probe = t.names[t.names.length - 1]!;
    const first = await runHandshakes({
      port,
      names: [probe],
      count: 1,
      timeLimitMs: FIRST_HANDSHAKE_LIMIT_MS,
      concurrency: 1,
      expectFingerprint: expected(t),
      handshakeTimeoutMs: FIRST_HANDSHAKE_LIMIT_MS,
    });
    if (first.ok !== 1) {
      sample.problems.push(
        `no handshake for ${probe} with the domains' certificate (${first.wrongCertificate} with another, errors: ${first.errors.join(' | ') || 'none'})`,
      );
      return sample;
    }
    sample.startupSeconds = (performance.now() - started) / 1000;
    await sleep(s.settleMs);
    sample.pssMb = pssBytes(server.pids()) / 1024 / 1024;
    sample.one = await rate(server, port, t, [t.names[0]!], s);
    sample.spread = await rate(server, port, t, t.names, s);

    // Background traffic (SNI spread) from before the reload until a second after it.
    const stop = new AbortController();
    const traffic = runHandshakes({
      port,
      names: t.names,
      count: 1_000_000,
      timeLimitMs: RELOAD_LIMIT_MS + 10_000,
      concurrency: 2,
      expectFingerprint: expected(t),
      signal: stop.signal,
    });
    await sleep(500);
    const reloadStarted = performance.now();
    const error = await reload(name, server, ports);
    const reloadSeconds = (performance.now() - reloadStarted) / 1000;
    await sleep(1000);
    stop.abort();
    sample.duringReload = await traffic;
    if (error) sample.problems.push(`reload failed after ${reloadSeconds.toFixed(1)} s: ${error}`);
    else sample.reloadSeconds = reloadSeconds;
    const { one, spread } = sample;
    for (const [what, r] of [
      ['one name', one],
      ['SNI spread', spread],
    ] as const) {
      if (r.wrong > 0 || r.failed > 0)
        sample.problems.push(`${what}: ${r.failed} handshakes failed, ${r.wrong} got another certificate`);
    }
    return sample;
  } finally {
    await server.stop();
  }
}

/** Median and spread of the values that were measured (a failed measurement is NaN). */
const summary = (values: number[]): Summary => summarize(values.filter(Number.isFinite));

function trafficCell(samples: Sample[]): string {
  const runs = samples.flatMap((s) => (s.duringReload ? [s.duringReload] : []));
  if (runs.length === 0) return 'n/a';
  const sum = (f: (r: HandshakeResult) => number) => runs.reduce((a, r) => a + f(r), 0);
  const wrong = sum((r) => r.wrongCertificate);
  return `${sum((r) => r.ok)} ok, ${sum((r) => r.failed)} failed${wrong ? `, ${wrong} wrong cert` : ''}; slowest ${formatNumber(Math.max(...runs.map((r) => r.maxLatencyMs)))} ms`;
}

/** Most domains measured with a certificate each (issuing them takes about 6 ms apiece). */
const OWN_CERTIFICATES_MAX = 10_000;

async function issued(ctx: SuiteContext, names: readonly string[]): Promise<NonNullable<Target['own']>> {
  ctx.progress(`  issuing ${formatNumber(names.length)} certificates, one per domain`);
  return ownCertificates(names);
}

/** sipsd with the target's domains as tls_mgm rows, ctx.rounds times (a fresh server each). */
async function measureSql(
  ctx: SuiteContext,
  dir: string,
  t: Target,
  s: Settings,
  what: string,
): Promise<Sample[]> {
  ctx.progress(`  sipsd, SQL (${what}): filling tls_mgm with ${formatNumber(t.names.length)} rows`);
  const url = await fillTlsMgm(dir, t);
  const samples: Sample[] = [];
  for (let round = 0; round < ctx.rounds; round++) {
    const db = (ports: BenchPorts) => listenerOf(url, dir, ports);
    const sample = await measure(ctx, { name: 'sipsd', db }, t, s);
    samples.push(sample);
    ctx.progress(`  sipsd, SQL (${what}): ${sampleLine(sample)}`);
  }
  return samples;
}

const sampleLine = (s: Sample) =>
  `startup ${formatNumber(s.startupSeconds)} s, PSS ${formatNumber(s.pssMb)} MB, ${formatNumber(s.one.perSecond)}/${formatNumber(s.spread.perSecond)} handshakes/s, reload ${formatNumber(s.reloadSeconds)} s${s.problems.length ? `; ${s.problems.join('; ')}` : ''}`;

const METRICS: Array<[string, (s: Sample) => number]> = [
  ['startup until an SNI handshake (s)', (s) => s.startupSeconds],
  ['PSS after load (MB)', (s) => s.pssMb],
  ['handshakes/s, one name', (s) => s.one.perSecond],
  ['handshakes/s, SNI spread over all', (s) => s.spread.perSecond],
  ['server CPU ms/handshake, one name', (s) => s.one.cpuMsPerHandshake],
  ['server CPU ms/handshake, SNI spread', (s) => s.spread.cpuMsPerHandshake],
  ['reload (s)', (s) => s.reloadSeconds],
];

export const suite: Suite = {
  name: 'domains',
  programs: ['kamailio', 'gcc'],
  async run(ctx) {
    const counts = ctx.quick ? [100, 1_000] : [1_000, 10_000, 100_000];
    const settings: Settings = ctx.quick
      ? { settleMs: 2000, handshakes: 200, rateLimitMs: 10_000 }
      : { settleMs: 15_000, handshakes: 2000, rateLimitMs: 30_000 };
    const ca = await TestCa.create('sipsd bench SNI CA');
    const rows: string[][] = [];
    const notes: string[] = [];
    try {
      const files = await ca.issue('sni-wildcard', `*.${SUFFIX}`, 'server', [`*.${SUFFIX}`], 'ec-p256');
      const fingerprint = new X509Certificate(readFileSync(files.cert)).fingerprint256;
      for (const count of counts) {
        ctx.progress(`domains: ${count} SNI domains`);
        const target: Target = {
          names: Array.from({ length: count }, (_, i) => `d${i}.${SUFFIX}`),
          ...files,
          fingerprint,
        };
        const samples: Record<ServerName, Sample[]> = { sipsd: [], kamailio: [] };
        await alternate(ctx.rounds, async (name) => {
          const s = await measure(ctx, { name }, target, settings);
          samples[name].push(s);
          ctx.progress(`  ${name}: ${sampleLine(s)}`);
          return s.startupSeconds;
        });
        const sql = await measureSql(ctx, ca.dir, target, settings, 'one shared certificate');
        // A certificate per domain, as in hosting: every domain's key and certificate are parsed
        // and checked, and each gets an OpenSSL context of its own on first use.
        const own =
          count <= OWN_CERTIFICATES_MAX
            ? await measureSql(
                ctx,
                ca.dir,
                { ...target, own: await issued(ctx, target.names) },
                settings,
                'a certificate each',
              )
            : [];
        for (const [metric, value] of METRICS) {
          const sums = {
            sipsd: summary(samples.sipsd.map(value)),
            kamailio: summary(samples.kamailio.map(value)),
          };
          rows.push([
            formatNumber(count),
            metric,
            formatSummary(sums.sipsd),
            formatSummary(summary(sql.map(value))),
            own.length > 0 ? formatSummary(summary(own.map(value))) : 'n/a',
            formatSummary(sums.kamailio),
            formatRatio(sums.sipsd, sums.kamailio),
          ]);
        }
        rows.push([
          formatNumber(count),
          'handshakes during reload',
          trafficCell(samples.sipsd),
          trafficCell(sql),
          trafficCell(own),
          trafficCell(samples.kamailio),
          '',
        ]);
        const problems: Array<[string, Sample[]]> = [
          ['sipsd', samples.sipsd],
          ['sipsd (SQL)', sql],
          ['sipsd (SQL, a certificate each)', own],
          ['kamailio', samples.kamailio],
        ];
        for (const [who, list] of problems) {
          for (const problem of new Set(list.flatMap((s) => s.problems))) {
            notes.push(`${who}, ${formatNumber(count)} domains: ${problem}`);
          }
        }
      }
    } finally {
      ca.remove();
    }
    notes.push(
      `Except in the "a certificate each" column, all domains share one ECDSA P-256 certificate and key (a *.sni.bench.test wildcard). Kamailio builds an SSL_CTX per profile and process; sipsd checks each distinct certificate and key once and shares one OpenSSL context between domains whose material and settings are the same. In the "a certificate each" column every row of the table has its own ECDSA P-256 certificate and key (issued before the server starts, up to ${formatNumber(OWN_CERTIFICATES_MAX)} domains: issuing 100,000 would take longer than the benchmark), so each is parsed and checked at load and gets its own OpenSSL context on first use.`,
    );
    return [
      {
        title: 'TLS domains at scale (SNI)',
        description: `N server domains selected by SNI on the ECDSA listener (sipsd: tls_domains in the YAML configuration; Kamailio: tls.cfg profiles with server_name), a fresh server per measurement; sipsd also with the domains as rows of an SQLite tls_mgm table (db_url), filled before it starts (Kamailio has no SQL source for TLS profiles), with the shared certificate and with a certificate each. Startup runs from spawning until a handshake for one of the names gets the domains' certificate; PSS (all processes) ${settings.settleMs / 1000} s later. Rates: ${formatNumber(settings.handshakes)} full TLS 1.3 handshakes (at most ${settings.rateLimitMs / 1000} s), 8 in flight, by our client, with one SNI name or a random one of the N each time. During the reload, 2 clients handshake back to back from 0.5 s before to 1 s after it. Ratio = sipsd / Kamailio.`,
        columns: [
          'Domains',
          'Measure',
          'sipsd (YAML)',
          'sipsd (SQL tls_mgm)',
          'sipsd (SQL, a certificate each)',
          'Kamailio',
          'Ratio (YAML)',
        ],
        rows,
        notes,
      } satisfies ResultTable,
    ];
  },
};
