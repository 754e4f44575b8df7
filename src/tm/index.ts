// SIP transactions (RFC 3261 §17) and stateful relaying (§16): see docs/transactions.md.
export {
  defaultTmSettings,
  timerValues,
  tmConfigShape,
  tmSettings,
  type TimerValues,
  type TmConfig,
  type TmSettings,
} from './config.js';
export {
  TransactionLayer,
  type RelayResult,
  type StatelessPort,
  type TransactionCounts,
  type TransactionLayerDeps,
  type TransportPort,
} from './layer.js';
export {
  MAX_BRANCHES,
  MAX_TARGETS,
  bestResponseIndex,
  type BranchResult,
  type FailureHook,
  type OutboundSocket,
  type RelayFailure,
  type RelayOptions,
} from './relay.js';
export { SIPSD_BRANCH_PREFIX } from './keys.js';
export {
  dnsLocator,
  systemLocator,
  type TargetLocator,
  type TargetSource,
  type TlsChoice,
} from './target.js';
