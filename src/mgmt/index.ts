export { RpcCode, MgmtError } from './errors.js';
export {
  CommandRegistry,
  bindParams,
  namedParams,
  type MgmtCommand,
  type MgmtParamSpec,
  type MgmtParams,
  type ClusterJoin,
} from './registry.js';
export { startMgmtServer, isLoopbackHost, type MgmtServer, type MgmtServerOptions } from './server.js';
export {
  registerBuiltinCommands,
  registerHelpCommands,
  registerProcessList,
  type BuiltinInfo,
  type ProcessEntry,
} from './builtin-commands.js';
export { callMgmt, type CallMgmtOptions } from './client.js';
