// `sipsd start` and `sipsd check`: resolve the configuration (creating the default one on first
// run), validate it, then either start the server with a banner or report that all is well.
import { parseArgs } from 'node:util';
import { dataDir, ensureDefaultConfig } from '../config/first-run.js';
import { formatProblem, loadConfigFile } from '../config/load.js';
import type { SipsdConfig } from '../config/schema.js';
import { createLogger } from '../log/logger.js';
import { loadScript } from '../router/script-loader.js';
import { compatNotices } from '../tls/compat-params.js';
import { loadTls, startServer, VERSION, type RunningServer } from '../server.js';
import { silentLogger } from '../log/logger.js';
import type { CliIo } from './io.js';

async function resolveConfig(
  argv: string[],
  io: CliIo,
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
  const loaded = await loadConfigFile(file);
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
  const resolved = await resolveConfig(argv, io);
  if (typeof resolved === 'number') return resolved;
  const { config, file } = resolved;
  const log = createLogger({ level: config.log_level });
  let server: RunningServer;
  try {
    server = await startServer(config, file, log);
  } catch (err) {
    io.stderr(`${file}: cannot start: ${(err as Error).message}\n`);
    return 1;
  }
  io.stdout(banner(server, file));
  log.info({ listeners: server.listeners.map((l) => l.name) }, 'sipsd started');
  return new Promise<number>((resolve) => {
    const shutdown = (signal: string) => {
      log.info({ signal }, 'shutting down: closing listeners and connections');
      server.stop().then(
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

const LISTED_DOMAINS = 8;

/** Domain names for one line: a host with thousands of them gets the first few and a count. */
function domainList(names: string[]): string {
  if (names.length <= LISTED_DOMAINS) return names.join(', ');
  return `${names.slice(0, LISTED_DOMAINS).join(', ')} and ${names.length - LISTED_DOMAINS} more (sipsd mi tls_list)`;
}

function banner(server: RunningServer, file: string): string {
  const lines = [
    `sipsd ${VERSION} (Node ${process.version}) is running`,
    `  config:     ${file}`,
    `  script:     ${server.scriptName}`,
    ...server.listeners.map((l, i) => `  ${i === 0 ? 'listening:' : '          '}  ${l.name}`),
    `  TLS:        ${domainList(server.tls.snapshot.domainNames()) || 'no domains'}`,
    server.mgmt
      ? `  management: ${server.mgmt.url}  (try: sipsd mi which)`
      : '  management: disabled (mi.enabled: false)',
    '  stop with Ctrl-C or SIGTERM',
    '',
  ];
  return lines.join('\n');
}
