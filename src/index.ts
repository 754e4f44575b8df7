// The public API for routing scripts and embedding: `import { defineScript } from 'sipsd'`.
export { defineScript, type Script } from './router/script.js';
export { RequestContext, ReplyContext, MessageContext, type HeaderList } from './router/context.js';
export type { PvValue } from './router/pv.js';
export type { FailureHook, RelayFailure, RelayOptions, RelayResult } from './tm/index.js';
export type { AuthResult } from './features/auth/index.js';
export type { SaveResult } from './features/registrar/index.js';
export type { Endpoint, TlsSessionInfo, Inbound } from './transport/types.js';
export type { Proto } from './transport/listen-spec.js';
export * from './sip/index.js';
export { startServer, type RunningServer } from './server.js';
export type { SipsdConfig } from './config/schema.js';
