// `sipsd start` and `sipsd check`: resolve the configuration (creating the default one on first
// run), validate it, then either start the server with a banner or report that all is well.
import { parseArgs } from 'node:util';
import { dataDir, ensureDefaultConfig } from '../config/first-run.js';
import { formatProblem, loadConfigFile, type OnParsed } from '../config/load.js';
import type { SipsdConfig } from '../config/schema.js';
import { createLogger } from '../log/logger.js';
import { loadScript } from '../router/script-loader.js';
import { compatNotices } from '../tls/compat-params.js';
import { loadTls, startServer, VERSION, type RunningServer } from '../server.js';
import { silentLogger, type Logger } from '../log/logger.js';
import cluster from 'node:cluster';
import { MAX_WORKERS, self } from '../cluster/identity.js';
import { Primary, type RunningPrimary } from '../cluster/primary.js';
import { configFromPrimary, runWorker } from '../cluster/worker.js';
import type { CliIo } from './io.js';

async function resolveConfig(
  argv: string[],
  io: CliIo,
  onParsed?: OnParsed,
): Promise<{ config: SipsdConfig; file: string } | number> {
  let values: { config?: string };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { config: { type: 'string', short: 'c' } },
      strict: true,
    }));
  } catch (err) {
    io.stderr(`${(err as Error).message}\nusage: sipsd start|check [-c config.yaml]\n`);
    return 2;
  }
  let file = values.config;
  if (!file) {
    const first = await ensureDefaultConfig(dataDir());
    if (first.created) io.stdout(`first run: created ${first.configFile} and a test PKI beside it\n`);
    file = first.configFile;
  }
  const loaded = await loadConfigFile(file, onParsed);
  if (!loaded.ok) {
    for (const p of loaded.problems) io.stderr(`${formatProblem(p)}\n`);
    io.stderr(`configuration has ${loaded.problems.length} problem(s); nothing was started\n`);
    return 2;
  }
  return { config: loaded.config, file: loaded.file };
}

export async function checkCommand(argv: string[], io: CliIo): Promise<number> {
  const resolved = await resolveConfig(argv, io);
  if (typeof resolved === 'number') return resolved;
  try {
    const tls = await loadTls(resolved.config, resolved.file, silentLogger);
    if (resolved.config.script) await loadScript(resolved.config.script);
    const domains = domainList(tls.snapshot.domainNames()) || 'none';
    await tls.close();
    // Kamailio parameters accepted without an effect here are named, as at startup.
    for (const notice of compatNotices(resolved.config)) io.stdout(`notice: ${notice}\n`);
    io.stdout(`${resolved.file}: OK (${resolved.config.listen.length} listeners, TLS domains: ${domains})\n`);
    return 0;
  } catch (err) {
    io.stderr(`${resolved.file}: ${(err as Error).message}\n`);
    return 1;
  }
}

export async function startCommand(argv: string[], io: CliIo): Promise<number> {
  if (cluster.isWorker) {
    const { config, file } = await configFromPrimary();
    await runWorker(config, file, createLogger({ level: config.log_level }).child({ worker: self.index }));
    return WORKER_RUNS;
  }
  // With workers, they are forked as soon as the parsed file names their number: they boot while
  // the rest is checked (seconds, with 100,000 TLS domains).
  const early: { primary?: Primary } = {};
  const resolved = await resolveConfig(argv, io, (raw) => {
    const workers = declaredWorkers(raw);
    if (workers === undefined) return;
    early.primary = new Primary(workers);
    early.primary.forkAhead();
  });
  if (typeof resolved === 'number') {
    await early.primary?.abandon();
    return resolved;
  }
  const { config, file } = resolved;
  // The workers forked ahead are kept when the checked count is the one read ahead.
  const ahead = early.primary?.workers === config.workers ? early.primary : undefined;
  if (early.primary && !ahead) await early.primary.abandon();
  if (config.workers > 1) return startPrimary(config, file, io, ahead);
  const log = createLogger({ level: config.log_level });
  let server: RunningServer;
  try {
    server = await startServer(config, file, log);
  } catch (err) {
    io.stderr(`${file}: cannot start: ${(err as Error).message}\n`);
    return 1;
  }
  io.stdout(
    bannerLines({
      file,
      script: server.scriptName,
      listeners: server.listeners.map((l) => l.name),
      domains: server.tls.snapshot.domainNames(),
      mgmtUrl: server.mgmt?.url,
      workers: 1,
    }),
  );
  log.info({ listeners: server.listeners.map((l) => l.name) }, 'sipsd started');
  return untilSignal(log, io, () => server.stop());
}

/** Runs until SIGTERM or SIGINT, then stops; resolves to the exit code. */
function untilSignal(log: Logger, io: CliIo, stop: () => Promise<void>): Promise<number> {
  return new Promise<number>((resolve) => {
    const shutdown = (signal: string) => {
      log.info({ signal }, 'shutting down: closing listeners and connections');
      stop().then(
        () => resolve(0),
        (err: unknown) => {
          io.stderr(`shutdown: ${(err as Error).message}\n`);
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
}

/** What a worker's start returns: the process lives on, ended by its primary (see runWorker). */
export const WORKER_RUNS = -1;

/** `workers` as written, when it asks for several processes; the schema checks it afterwards. */
function declaredWorkers(raw: unknown): number | undefined {
  const workers =
    typeof raw === 'object' && raw !== null ? (raw as { workers?: unknown }).workers : undefined;
  return typeof workers === 'number' && Number.isInteger(workers) && workers > 1 && workers <= MAX_WORKERS
    ? workers
    : undefined;
}

async function startPrimary(
  config: SipsdConfig,
  file: string,
  io: CliIo,
  /** Its workers forked ahead of the validation, if they were. */
  ahead: Primary | undefined,
): Promise<number> {
  const log = createLogger({ level: config.log_level }).child({ worker: 0 });
  let running: RunningPrimary;
  try {
    running = await (ahead ?? new Primary(config.workers)).start(config, file, log);
  } catch (err) {
    io.stderr(`${file}: cannot start: ${(err as Error).message}\n`);
    return 1;
  }
  const first = running.workers[0]!;
  io.stdout(
    bannerLines({
      file,
      script: first.script,
      listeners: first.listeners,
      domains: first.domains,
      mgmtUrl: running.mgmt?.url,
      workers: running.workers.length,
    }),
  );
  log.info({ listeners: first.listeners, workers: running.workers.length }, 'sipsd started');
  return untilSignal(log, io, () => running.stop());
}

const LISTED_DOMAINS = 8;

/** Domain names for one line: a host with thousands of them gets the first few and a count. */
function domainList(names: string[]): string {
  if (names.length <= LISTED_DOMAINS) return names.join(', ');
  return `${names.slice(0, LISTED_DOMAINS).join(', ')} and ${names.length - LISTED_DOMAINS} more (sipsd mi tls_list)`;
}

interface BannerFacts {
  file: string;
  script: string;
  listeners: readonly string[];
  domains: string[];
  mgmtUrl: string | undefined;
  workers: number;
}

function bannerLines(f: BannerFacts): string {
  const lines = [
    `sipsd ${VERSION} (Node ${process.version}) is running`,
    `  config:     ${f.file}`,
    `  script:     ${f.script}`,
    ...f.listeners.map((l, i) => `  ${i === 0 ? 'listening:' : '          '}  ${l}`),
    `  TLS:        ${domainList(f.domains) || 'no domains'}`,
    ...(f.workers > 1
      ? [`  workers:    ${f.workers} (connections handed out at accept; sipsd mi ps lists them)`]
      : []),
    f.mgmtUrl
      ? `  management: ${f.mgmtUrl}  (try: sipsd mi which)`
      : '  management: disabled (mi.enabled: false)',
    '  stop with Ctrl-C or SIGTERM',
    '',
  ];
  return lines.join('\n');
}
