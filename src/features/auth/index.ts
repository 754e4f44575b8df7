// Digest authentication: OpenSIPS's auth + auth_db as a library the routing script calls.
export {
  authConfigSchema,
  authConfigShape,
  defaultAuthConfig,
  useDomainField,
  type AuthConfig,
} from './config.js';
export {
  DigestAuth,
  credentialsOf,
  defaultRealm,
  type AuthFailureReason,
  type AuthKind,
  type AuthResult,
  type AuthenticatedUser,
  type ChallengeOptions,
  type DigestAuthConfig,
  type DigestAuthOptions,
} from './authenticator.js';
export {
  CachedCredentialStore,
  MemoryCredentialStore,
  type CredentialStore,
  type Subscriber,
} from './credentials.js';
export {
  DIGEST_ALGORITHMS,
  computeHa1,
  computeResponse,
  digestHash,
  type DigestAlgorithm,
  type DigestInput,
} from './digest.js';
export { parseAuthHeader, type AuthHeader } from './auth-header.js';
export {
  SUBSCRIBER_VERSION,
  SubscriberTable,
  subscriberStore,
  type NewSubscriber,
  type SubscriberColumns,
} from './subscriber-table.js';
export { toResponse, type ReplySpec } from './reply.js';
