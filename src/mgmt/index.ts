export { RpcCode, MgmtError } from './errors.js';
export {
  CommandRegistry,
  bindParams,
  namedParams,
  type MgmtCommand,
  type MgmtParamSpec,
  type MgmtParams,
} from './registry.js';
export { startMgmtServer, isLoopbackHost, type MgmtServer, type MgmtServerOptions } from './server.js';
export { registerBuiltinCommands, type BuiltinInfo } from './builtin-commands.js';
export { callMgmt, type CallMgmtOptions } from './client.js';
