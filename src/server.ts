// The composition root: builds every layer from a validated configuration, wires them in the
// direction of the data flow (transport → router → transport), and tears them down in reverse.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname } from 'node:path';
import type { SipsdConfig } from './config/schema.js';
import type { Logger } from './log/logger.js';
import {
  CommandRegistry,
  registerBuiltinCommands,
  startMgmtServer,
  type MgmtServer,
  type MgmtServerOptions,
} from './mgmt/index.js';
import { defaultScript } from './router/default-script.js';
import { Router } from './router/router.js';
import { loadScript } from './router/script-loader.js';
import type { Script } from './router/script.js';
import type { SipLimits } from './sip/index.js';
import { TlsManager } from './tls/manager.js';
import { registerTlsCommands } from './tls/mgmt-commands.js';
import { tlsSources } from './tls/sources/index.js';
import { parseListen, type ListenSpec } from './transport/listen-spec.js';
import { TransportLayer, type BoundListener, type TransportSettings } from './transport/transport-layer.js';
import { memoryThresholds } from './transport/memory-guard.js';
import { SipResolver, dnsResolverOptions } from './dns/index.js';
import { openProxyFeatures, type ProxyFeatures } from './features/proxy-features.js';
import { tmSettings } from './tm/index.js';
import type { SessionSettings } from './tls/session-cache.js';
import { registerTransportCommands } from './transport/mgmt-commands.js';
import { registerTraceCommands, startTracing } from './trace/index.js';
import { createMetrics } from './metrics/index.js';
import { compatNotices, tlsDebugObserver, withTlsConfigAlias } from './tls/compat-params.js';
import { activateEngine } from './tls/engine.js';

export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** Node's own session lifetime; sessions beyond the cap push out the oldest. */
const SESSION_LIFETIME_SECONDS = 300;
const SESSION_CACHE_ENTRIES = 10_000;

export interface RunningServer {
  readonly transport: TransportLayer;
  readonly router: Router;
  readonly tls: TlsManager;
  readonly features: ProxyFeatures;
  /** The management commands (undefined with mi.enabled false), served by `mgmt` or by the primary. */
  readonly commands: CommandRegistry | undefined;
  readonly mgmt: MgmtServer | undefined;
  readonly listeners: readonly BoundListener[];
  readonly scriptName: string;
  stop(): Promise<void>;
}

export function sipLimits(config: SipsdConfig): SipLimits {
  return {
    maxMessageSize: config.max_message_size,
    maxHeaders: config.max_headers,
    maxLineLength: config.max_line_length,
  };
}

export function listenSpecs(config: SipsdConfig): ListenSpec[] {
  return config.listen.map((entry) => {
    const r = parseListen(entry, config.tls_port);
    if (!r.ok) throw new Error(r.reason); // validated with the schema already
    return r.spec;
  });
}

function splitHostPort(text: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(text.trim());
  if (!m || isIP(m[1]!.replace(/^\[|\]$/g, '')) === 0) {
    throw new Error(`mi.listen: "${text}" must be ip:port, e.g. 127.0.0.1:8888`);
  }
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

/** Where and how the management interface listens (its token and remote flag included). */
export function mgmtListen(
  config: SipsdConfig,
): Pick<MgmtServerOptions, 'host' | 'port' | 'token' | 'allowRemote'> {
  const { host, port } = splitHostPort(config.mi.listen);
  return { host, port, token: config.mi.token, allowRemote: config.mi.allow_remote };
}

export function transportSettings(config: SipsdConfig): TransportSettings {
  return {
    listen: listenSpecs(config),
    limits: sipLimits(config),
    maxChunks: config.tls_max_msg_chunks,
    crlfPingPong: config.tls_crlf_pingpong,
    crlfDrop: config.tls_crlf_drop,
    idleTimeoutMs: config.connection_timeout < 0 ? undefined : config.connection_timeout * 1000,
    messageTimeoutMs: config.tcp_max_msg_time * 1000,
    sendTimeoutMs: config.tls_send_timeout,
    handshakeTimeoutMs: config.tls_handshake_timeout,
    connectTimeoutMs: config.tcp_connect_timeout,
    tlsConnectTimeoutMs: config.tls_async_local_connect_timeout,
    maxPostponedMessages: config.tls_async_max_postponed_chunks,
    connectionQueueMaxBytes: config.con_ct_wq_max,
    totalQueueMaxBytes: config.ct_wq_max,
    closeNotify: config.send_close_notify,
    reuseOnlySameDomain: config.cert_check_on_conn_reusage || config.tls_connection_match_domain,
    renegotiation: config.renegotiation,
    maxSendFragment: config.ssl_max_send_fragment === -1 ? undefined : config.ssl_max_send_fragment,
    memory: memoryThresholds(config.low_mem_threshold1, config.low_mem_threshold2),
    tlsLogLevel: config.tls_log,
    disableTls: config.disable_tls,
  };
}

/** Session resumption settings every server domain's context is built with. */
export function sessionSettings(config: SipsdConfig): SessionSettings {
  return {
    cache: config.session_cache,
    idContext: config.session_id,
    tickets: config.session_tickets,
    lifetimeSeconds: SESSION_LIFETIME_SECONDS,
    maxEntries: SESSION_CACHE_ENTRIES,
  };
}

/** The TLS manager for a configuration, loaded; throws with every broken domain named. */
export async function loadTls(config: SipsdConfig, configFile: string, log: Logger): Promise<TlsManager> {
  const tlsLog = log.child({ layer: 'tls' });
  // Kamailio's global tls parameters: the engine must be up before a domain with an engine key is
  // built, and parameters without a meaning here are named, never silently ignored.
  for (const note of await activateEngine(config, { baseDir: dirname(configFile) })) tlsLog.info(note);
  for (const notice of compatNotices(config)) tlsLog.warn(notice);
  const tls = new TlsManager(
    tlsSources(withTlsConfigAlias(config, configFile), configFile),
    dirname(configFile),
    tlsLog,
    { session: sessionSettings(config) },
  );
  await tls.load();
  return tls;
}

export interface StartOptions {
  /**
   * Serve the management interface from this process (default). A worker of several builds the
   * commands and leaves serving them, and /metrics, to the primary (cluster/primary.ts).
   */
  serveMgmt?: boolean;
}

/** Starts every layer; `configFile` anchors relative paths and the built-in TLS defaults. */
export async function startServer(
  config: SipsdConfig,
  configFile: string,
  log: Logger,
  options: StartOptions = {},
): Promise<RunningServer> {
  config = withTlsConfigAlias(config, configFile);
  // The script compiles (tsx) on a worker thread while the TLS domains load on this one; with many
  // domains that overlap is a second off the startup. TLS problems are still reported first.
  const scriptLoad: Promise<Script> = config.script
    ? loadScript(config.script)
    : Promise.resolve(defaultScript);
  scriptLoad.catch(() => {});
  const tls = await loadTls(config, configFile, log);
  const script = await scriptLoad;
  const limits = sipLimits(config);
  const listen = listenSpecs(config);
  if (!config.disable_tls && listen.some((l) => l.proto === 'tls') && !tls.snapshot.hasServerDomain) {
    throw new Error('a tls listen entry needs a TLS server domain: add one under tls_domains (type: server)');
  }
  const transport = new TransportLayer(transportSettings(config), tls, log.child({ layer: 'transport' }));
  if (config.tls_debug !== undefined) {
    transport.observe(tlsDebugObserver(log.child({ layer: 'tls' }), config.tls_debug));
  }
  // Observing from before the first connection, served by the management interface.
  const metrics = config.mi.enabled ? createMetrics({ transport, tls }) : undefined;
  const resolver = new SipResolver(dnsResolverOptions(config, config.tls_port));
  const features = await openProxyFeatures(config, dirname(configFile), log);
  const router = new Router(
    transport,
    script,
    {
      limits,
      tlsPort: config.tls_port,
      clientTlsDomainAvp: config.client_tls_domain_avp,
      clientSipDomainAvp: config.client_sip_domain_avp,
      aliases: config.alias,
      resolver,
      tm: tmSettings(config),
      features,
    },
    log.child({ layer: 'router' }),
  );
  transport.setConnectionHooks(router.connectionHooks());
  const tracing = startTracing(config, script, transport, log.child({ layer: 'trace' }));
  await transport.start((inbound) => router.handle(inbound));

  let mgmt: MgmtServer | undefined;
  let registry: CommandRegistry | undefined;
  try {
    if (config.mi.enabled) {
      registry = new CommandRegistry();
      registerBuiltinCommands(registry, {
        version: VERSION,
        startedAt: new Date(),
        getLogLevel: () => log.level,
        setLogLevel: (level) => {
          log.level = level;
        },
      });
      registerTransportCommands(registry, transport);
      registerTlsCommands(registry, tls, transport, config);
      registerTraceCommands(registry, tracing);
      if (options.serveMgmt !== false) {
        mgmt = await startMgmtServer({
          ...mgmtListen(config),
          registry,
          log: log.child({ layer: 'mgmt' }),
          ...(metrics && { metrics: () => metrics.text() }),
        });
      }
    }
  } catch (err) {
    router.stop();
    await transport.stop();
    await features.close();
    throw err;
  }

  return {
    transport,
    router,
    tls,
    features,
    commands: registry,
    mgmt,
    listeners: transport.listeners(),
    scriptName: config.script ?? defaultScript.name ?? 'default',
    async stop() {
      await mgmt?.close();
      metrics?.close();
      router.stop();
      await transport.stop();
      await features.close();
      await tracing.stop();
      resolver.close();
      await tls.close();
    },
  };
}
