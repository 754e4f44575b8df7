// HEP tracing, as the server starts it: reads the trace_* settings, resolves the script's trace filter,
// and offers the OpenSIPS `tls_trace` management command.
import type { SipsdConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { MgmtError, namedParams, RpcCode, type CommandRegistry } from '../mgmt/index.js';
import type { Script } from '../router/script.js';
import { formatDestination, parseTraceDestination } from './destination.js';
import { createHepSender } from './sender.js';
import { TlsTracer, type Observable, type TraceFilter } from './tracer.js';

export { parseTraceDestination, formatDestination, type TraceDestination } from './destination.js';
export { encodeHep, HepChunk, HepProtoType, IpProto, type HepPacket } from './hep.js';

/** What the management command and the server see of tracing. */
export interface Tracing {
  /** `udp:host:port`, or undefined when no trace_destination is configured. */
  readonly destination: string | undefined;
  readonly on: boolean;
  /** Throws when there is no destination to trace to. */
  setOn(on: boolean): void;
  stop(): Promise<void>;
}

type TraceSettings = Pick<
  SipsdConfig,
  'trace_destination' | 'trace_on' | 'trace_filter_route' | 'trace_capture_id'
>;

/**
 * Starts tracing as configured (on only if trace_on); throws, before opening anything, when
 * trace_filter_route names no function of the script.
 */
export function startTracing(
  config: TraceSettings,
  script: Script,
  transport: Observable,
  log: Logger,
): Tracing {
  const filter = resolveTraceFilter(script, config.trace_filter_route);
  const parsed = config.trace_destination ? parseTraceDestination(config.trace_destination) : undefined;
  if (!parsed?.ok) {
    if (config.trace_on) log.warn('trace_on is set but trace_destination is not: nothing is traced');
    return {
      destination: undefined,
      on: false,
      setOn(on) {
        if (on) throw new Error('no trace_destination is configured');
      },
      stop: async () => undefined,
    };
  }
  const destination = formatDestination(parsed.destination);
  const tracer = new TlsTracer({
    transport,
    sender: createHepSender(parsed.destination, log),
    captureId: config.trace_capture_id,
    filter,
    log,
  });
  tracer.setOn(config.trace_on);
  log.info({ collector: destination, on: tracer.on }, 'HEP tracing of TLS connections ready');
  return {
    destination,
    get on() {
      return tracer.on;
    },
    setOn: (on) => tracer.setOn(on),
    stop: () => tracer.stop(),
  };
}

/** The script function named by trace_filter_route, else the script's `traceFilter`, if any. */
export function resolveTraceFilter(script: Script, name: string | undefined): TraceFilter | undefined {
  const key = name ?? 'traceFilter';
  const fn: unknown = (script as unknown as Record<string, unknown>)[key];
  if (fn === undefined && name === undefined) return undefined;
  if (typeof fn !== 'function') {
    throw new Error(
      fn === undefined
        ? `trace_filter_route: the routing script has no function "${key}"`
        : `trace_filter_route: "${key}" of the routing script is not a function`,
    );
  }
  return (conn) => (fn as TraceFilter).call(script, conn);
}

/** `tls_trace [on|off]` as in OpenSIPS proto_tls: no argument reports the state. */
export function registerTraceCommands(registry: CommandRegistry, tracing: Tracing): void {
  const state = () => ({
    'TLS tracing': tracing.on ? 'on' : 'off',
    destination: tracing.destination ?? null,
  });
  registry.register({
    name: 'tls_trace',
    summary: 'Show TLS HEP tracing (on/off and the collector), or turn it on or off',
    params: [{ name: 'trace_mode', summary: "'on' or 'off'; absent: show the state" }],
    cluster: { join: 'same' },
    handler: (params) => {
      const { trace_mode: mode } = namedParams(params);
      if (mode === undefined) return state();
      const wanted = typeof mode === 'string' ? mode.trim().toLowerCase() : mode;
      if (wanted !== 'on' && wanted !== 'off') {
        throw new MgmtError(RpcCode.InvalidParams, "tls_trace: trace_mode should be 'on' or 'off'");
      }
      try {
        tracing.setOn(wanted === 'on');
      } catch (err) {
        throw new MgmtError(RpcCode.CommandFailed, `tls_trace: ${(err as Error).message}`);
      }
      return state();
    },
  });
}
