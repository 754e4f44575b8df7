// Commands every sipsd answers, named as operators know them from OpenSIPS MI and Kamailio RPC.
import { MgmtError, RpcCode } from './errors.js';
import { namedParams, type CommandRegistry } from './registry.js';

export interface BuiltinInfo {
  version: string;
  startedAt: Date;
  getLogLevel(): string;
  setLogLevel(level: string): void;
}

/** One process of the server, as `ps` lists it (OpenSIPS `ps`, Kamailio `core.psx`). */
export interface ProcessEntry {
  id: number;
  pid: number;
  type: string;
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export function registerBuiltinCommands(registry: CommandRegistry, info: BuiltinInfo): void {
  registerHelpCommands(registry);
  registerProcessList(registry, () => [{ id: 0, pid: process.pid, type: 'sipsd: SIP, TLS and management' }]);

  registry.register({
    name: 'version',
    aliases: ['core.version'],
    summary: 'Show the sipsd and Node.js versions',
    params: [],
    handler: () => ({ server: 'sipsd', version: info.version, node: process.version }),
  });

  registry.register({
    name: 'uptime',
    aliases: ['core.uptime'],
    summary: 'Show the current time, the start time and the uptime in seconds',
    params: [],
    handler: () => {
      const now = new Date();
      return {
        now: now.toISOString(),
        up_since: info.startedAt.toISOString(),
        up_time: Math.floor((now.getTime() - info.startedAt.getTime()) / 1000),
      };
    },
  });

  registry.register({
    name: 'log_level',
    summary: 'Show the log level, or change it',
    params: [{ name: 'level', summary: `New level: ${LOG_LEVELS.join(', ')}` }],
    cluster: { join: 'same' },
    handler: (params) => {
      const { level } = namedParams(params);
      const current = info.getLogLevel();
      if (level === undefined) return { level: current };
      if (typeof level !== 'string' || !LOG_LEVELS.includes(level)) {
        throw new MgmtError(
          RpcCode.InvalidParams,
          `log_level: invalid level ${JSON.stringify(level)} (expected one of: ${LOG_LEVELS.join(', ')})`,
        );
      }
      info.setLogLevel(level);
      return { level, previous: current };
    },
  });
}

/** `which` and `help`: what the registry holds (the primary of several workers has its own). */
export function registerHelpCommands(registry: CommandRegistry): void {
  registry.register({
    name: 'which',
    aliases: ['system.listMethods'],
    summary: 'List the available commands',
    params: [],
    handler: () =>
      registry.list().map((cmd) => ({ name: cmd.name, aliases: cmd.aliases ?? [], summary: cmd.summary })),
  });

  registry.register({
    name: 'help',
    summary: 'Describe a command and its params',
    params: [{ name: 'command', required: true, summary: 'Command name or alias' }],
    handler: (params) => {
      const { command } = namedParams(params);
      const cmd = typeof command === 'string' ? registry.get(command) : undefined;
      if (!cmd) {
        throw new MgmtError(
          RpcCode.InvalidParams,
          `help: unknown command ${JSON.stringify(command)} (try 'which')`,
        );
      }
      // params stays absent (dropped by JSON) for commands that validate their own.
      return { name: cmd.name, aliases: cmd.aliases ?? [], summary: cmd.summary, params: cmd.params };
    },
  });
}

/** `ps`: the server's processes. */
export function registerProcessList(registry: CommandRegistry, list: () => ProcessEntry[]): void {
  registry.register({
    name: 'ps',
    aliases: ['core.psx'],
    summary: 'List the processes of the server (the primary and its workers when there are several)',
    params: [],
    handler: list,
  });
}
