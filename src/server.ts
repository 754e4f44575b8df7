// The composition root: builds every layer from a validated configuration, wires them in the
// direction of the data flow (transport → router → transport), and tears them down in reverse.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname } from 'node:path';
import type { SipsdConfig } from './config/schema.js';
import type { Logger } from './log/logger.js';
import { CommandRegistry, registerBuiltinCommands, startMgmtServer, type MgmtServer } from './mgmt/index.js';
import { defaultScript } from './router/default-script.js';
import { Router } from './router/router.js';
import { loadScript } from './router/script-loader.js';
import type { Script } from './router/script.js';
import type { SipLimits } from './sip/index.js';
import { TlsManager } from './tls/manager.js';
import { registerTlsCommands } from './tls/mgmt-commands.js';
import { tlsSources } from './tls/sources/index.js';
import { parseListen, type ListenSpec } from './transport/listen-spec.js';
import { TransportLayer, type BoundListener } from './transport/transport-layer.js';
import { registerTransportCommands } from './transport/mgmt-commands.js';

export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export interface RunningServer {
  readonly transport: TransportLayer;
  readonly router: Router;
  readonly tls: TlsManager;
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

/** The TLS manager for a configuration, loaded; throws with every broken domain named. */
export async function loadTls(config: SipsdConfig, configFile: string, log: Logger): Promise<TlsManager> {
  const tls = new TlsManager(
    tlsSources(config, configFile),
    dirname(configFile),
    log.child({ layer: 'tls' }),
  );
  await tls.load();
  return tls;
}

/** Starts every layer; `configFile` anchors relative paths and the built-in TLS defaults. */
export async function startServer(
  config: SipsdConfig,
  configFile: string,
  log: Logger,
): Promise<RunningServer> {
  const tls = await loadTls(config, configFile, log);
  const script: Script = config.script ? await loadScript(config.script) : defaultScript;
  const limits = sipLimits(config);
  const listen = listenSpecs(config);
  if (listen.some((l) => l.proto === 'tls') && !tls.snapshot.hasServerDomain) {
    throw new Error('a tls listen entry needs a TLS server domain: add one under tls_domains (type: server)');
  }
  const transport = new TransportLayer(
    {
      listen,
      limits,
      maxChunks: config.tls_max_msg_chunks,
      crlfPingPong: config.tls_crlf_pingpong,
      crlfDrop: config.tls_crlf_drop,
      idleTimeoutMs: config.connection_timeout < 0 ? undefined : config.connection_timeout * 1000,
      messageTimeoutMs: config.tcp_max_msg_time * 1000,
      sendTimeoutMs: config.tls_send_timeout,
      handshakeTimeoutMs: config.tls_handshake_timeout,
      connectTimeoutMs: config.tcp_connect_timeout,
    },
    tls,
    log.child({ layer: 'transport' }),
  );
  const router = new Router(
    transport,
    script,
    {
      limits,
      tlsPort: config.tls_port,
      clientTlsDomainAvp: config.client_tls_domain_avp,
      clientSipDomainAvp: config.client_sip_domain_avp,
    },
    log.child({ layer: 'router' }),
  );
  await transport.start((inbound) => router.handle(inbound));

  let mgmt: MgmtServer | undefined;
  try {
    if (config.mi.enabled) {
      const registry = new CommandRegistry();
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
      const { host, port } = splitHostPort(config.mi.listen);
      mgmt = await startMgmtServer({
        host,
        port,
        token: config.mi.token,
        allowRemote: config.mi.allow_remote,
        registry,
        log: log.child({ layer: 'mgmt' }),
      });
    }
  } catch (err) {
    await transport.stop();
    throw err;
  }

  return {
    transport,
    router,
    tls,
    mgmt,
    listeners: transport.listeners(),
    scriptName: config.script ?? defaultScript.name ?? 'default',
    async stop() {
      await mgmt?.close();
      await transport.stop();
      await tls.close();
    },
  };
}
