// Digest authentication of SIP requests (RFC 3261 §22, RFC 2617, RFC 7616, RFC 8760): OpenSIPS's
// www_authorize / proxy_authorize, their challenges, and consume_credentials. The outcome is a
// value the script acts on; nothing is sent from here.
import { randomBytes } from 'node:crypto';
import type { SipRequest } from '../../sip/index.js';
import { formatAuthHeader, parseAuthHeader, type ChallengeParam } from './auth-header.js';
import type { AuthConfig } from './config.js';
import type { CredentialStore, Subscriber } from './credentials.js';
import {
  computeHa1,
  computeResponse,
  isHexDigest,
  parseAlgorithm,
  sameDigest,
  type DigestAlgorithm,
} from './digest.js';
import { NonceIssuer } from './nonce.js';
import { NonceCounts } from './replay.js';
import type { ReplySpec } from './reply.js';

/** `www`: a registrar or UAS (401, Authorization); `proxy`: a proxy (407, Proxy-Authorization). */
export type AuthKind = 'www' | 'proxy';

const KINDS = {
  www: { credentials: 'Authorization', challenge: 'WWW-Authenticate', status: 401 },
  proxy: { credentials: 'Proxy-Authorization', challenge: 'Proxy-Authenticate', status: 407 },
} as const;

/**
 * Why a request is not authenticated:
 * - `no-credentials`: no Digest credentials at all (the first request of every client);
 * - `malformed`: credentials that cannot be checked (missing parameter, unsupported algorithm or qop);
 * - `bad-realm`: credentials only for other realms;
 * - `stale`: the right password with a nonce that expired or that this server cannot vouch for
 *   (issued before a restart without auth_secret, or by another server): challenge again with
 *   stale=true, and the client retries with a fresh nonce without asking its user;
 * - `unknown-user`, `wrong-password`: as they say (the client may have no hash for the algorithm);
 * - `replay`: a nonce count already used;
 * - `error`: the subscriber table could not be read (answer 500, not a challenge).
 */
export type AuthFailureReason =
  | 'no-credentials'
  | 'malformed'
  | 'bad-realm'
  | 'stale'
  | 'unknown-user'
  | 'wrong-password'
  | 'replay'
  | 'error';

export interface AuthenticatedUser {
  /** The credentials' username ($au). */
  username: string;
  /** The subscriber's domain ($ad). */
  domain: string;
  realm: string;
  algorithm: DigestAlgorithm;
  /** Whether qop=auth was used (so the request was also protected against replay). */
  qop: boolean;
}

export type AuthResult =
  | {
      ok: true;
      kind: AuthKind;
      realm: string;
      user: AuthenticatedUser;
      /** The header value that authenticated, which consumeCredentials removes. */
      credentials: string;
    }
  | {
      ok: false;
      kind: AuthKind;
      /** The realm expected: the one to challenge with. */
      realm: string;
      reason: AuthFailureReason;
      /** For the log: what exactly was wrong. */
      detail: string;
      /** The username the client claimed, when it sent one. */
      username?: string;
    };

export interface ChallengeOptions {
  /** Offer qop=auth (default); false for old phones, as the seeds' `www_challenge(realm, "0")`. */
  qop?: boolean;
  /** Mark the nonce of the failed attempt stale (set it when the reason was `stale`). */
  stale?: boolean;
  /** Override auth_algorithms for this challenge. */
  algorithms?: readonly DigestAlgorithm[];
}

export type DigestAuthConfig = Pick<
  AuthConfig,
  'nonce_expire' | 'auth_secret' | 'auth_algorithms' | 'calculate_ha1' | 'use_domain'
>;

export interface DigestAuthOptions {
  /** Milliseconds since the epoch (tests move it). */
  now?: () => number;
  /** Nonces whose counts are remembered at most (replay protection). */
  replayCapacity?: number;
}

interface Credentials {
  header: string;
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  response: string;
  algorithm: DigestAlgorithm;
  qop: { nc: string; cnonce: string } | undefined;
}

const NC = /^[0-9a-fA-F]{8}$/;

export class DigestAuth {
  readonly #nonces: NonceIssuer;
  readonly #counts: NonceCounts;
  readonly #now: () => number;

  constructor(
    private readonly store: CredentialStore,
    private readonly config: DigestAuthConfig,
    options: DigestAuthOptions = {},
  ) {
    this.#now = options.now ?? Date.now;
    const secret = config.auth_secret === undefined ? randomBytes(32) : Buffer.from(config.auth_secret);
    this.#nonces = new NonceIssuer(secret, config.nonce_expire, this.#now);
    this.#counts = new NonceCounts(options.replayCapacity ?? 100_000, config.nonce_expire);
  }

  /** OpenSIPS `www_authorize(realm, table)`: checks Authorization. */
  wwwAuthorize(req: SipRequest, realm?: string): Promise<AuthResult> {
    return this.authorize(req, 'www', realm);
  }

  /** OpenSIPS `proxy_authorize(realm, table)`: checks Proxy-Authorization. */
  proxyAuthorize(req: SipRequest, realm?: string): Promise<AuthResult> {
    return this.authorize(req, 'proxy', realm);
  }

  /** Checks the request's credentials for `realm` (default: from the request, see `defaultRealm`). */
  async authorize(req: SipRequest, kind: AuthKind, realm = defaultRealm(req, kind)): Promise<AuthResult> {
    const fail = (reason: AuthFailureReason, detail: string, username?: string): AuthResult => ({
      ok: false,
      kind,
      realm,
      reason,
      detail,
      ...(username === undefined ? {} : { username }),
    });
    const picked = pickCredentials(req.getHeaders(KINDS[kind].credentials), realm);
    if ('reason' in picked) return fail(picked.reason, picked.detail);
    const creds = checkCredentials(picked.header, picked.params, this.config.auth_algorithms);
    if ('reason' in creds) return fail('malformed', creds.reason, picked.params.get('username'));
    const { username } = creds;

    let subscriber: Subscriber | undefined;
    try {
      subscriber = await this.store.find(username, this.config.use_domain ? realm : undefined);
    } catch (err) {
      return fail('error', `subscriber lookup failed: ${(err as Error).message}`, username);
    }
    if (!subscriber) return fail('unknown-user', `no subscriber ${username} in ${realm}`, username);
    const ha1 = this.#ha1(subscriber, creds);
    if (ha1 === undefined)
      return fail(
        'wrong-password',
        `no ${creds.algorithm} password or hash stored for ${username}`,
        username,
      );
    const expected = computeResponse({
      algorithm: creds.algorithm,
      ha1,
      nonce: creds.nonce,
      method: req.method,
      uri: creds.uri,
      qop: creds.qop,
    });
    if (!sameDigest(expected, creds.response))
      return fail('wrong-password', 'response does not match', username);

    // Only now: RFC 7616 §3.3 sets stale for a valid response to a nonce that is no longer good.
    const nonce = this.#nonces.check(creds.nonce, realm.toLowerCase());
    if (!nonce.ok) return fail('stale', nonce.reason, username);
    if (nonce.expired) return fail('stale', 'nonce expired', username);
    if (creds.qop) {
      const nowS = Math.floor(this.#now() / 1000);
      const count = this.#counts.accept(creds.nonce, nonce.issuedAt, parseInt(creds.qop.nc, 16), nowS);
      if (count === 'replay') return fail('replay', `nonce count ${creds.qop.nc} already used`, username);
      if (count === 'forgotten') return fail('stale', 'nonce no longer tracked', username);
    }
    return {
      ok: true,
      kind,
      realm,
      credentials: creds.header,
      user: {
        username,
        domain: subscriber.domain || realm,
        realm: creds.realm,
        algorithm: creds.algorithm,
        qop: creds.qop !== undefined,
      },
    };
  }

  /**
   * The 401 (www) or 407 (proxy) with one challenge per algorithm (RFC 8760 §2.4), all with the
   * same fresh nonce: OpenSIPS `www_challenge` / `proxy_challenge`.
   */
  challenge(kind: AuthKind, realm: string, options: ChallengeOptions = {}): ReplySpec {
    const nonce = this.#nonces.issue(realm.toLowerCase());
    const headers: Array<[string, string]> = [];
    for (const algorithm of options.algorithms ?? this.config.auth_algorithms) {
      const params: ChallengeParam[] = [
        ['realm', realm, true],
        ['nonce', nonce, true],
        ['algorithm', algorithm, false],
      ];
      if (options.qop ?? true) params.push(['qop', 'auth', true]);
      if (options.stale) params.push(['stale', 'true', false]);
      headers.push([KINDS[kind].challenge, formatAuthHeader('Digest', params)]);
    }
    const status = KINDS[kind].status;
    return { status, reason: status === 401 ? 'Unauthorized' : 'Proxy Authentication Required', headers };
  }

  /**
   * The challenge that answers a failed result: stale=true when the nonce was stale. Undefined for
   * `error` (the server failed: answer 500 rather than make the client retry).
   */
  challengeFor(result: AuthResult, options: Omit<ChallengeOptions, 'stale'> = {}): ReplySpec | undefined {
    if (result.ok || result.reason === 'error') return undefined;
    return this.challenge(result.kind, result.realm, { ...options, stale: result.reason === 'stale' });
  }

  /**
   * OpenSIPS `consume_credentials`: removes the credentials that authenticated from the request,
   * keeping those for other realms (downstream proxies may need them). False if they are gone.
   */
  consumeCredentials(req: SipRequest, result: AuthResult): boolean {
    if (!result.ok) return false;
    const name = KINDS[result.kind].credentials;
    const values = req.getHeaders(name);
    const index = values.indexOf(result.credentials);
    if (index === -1) return false;
    values.splice(index, 1);
    req.removeHeader(name);
    for (const value of values) req.addHeader(name, value);
    return true;
  }

  #ha1(subscriber: Subscriber, creds: Credentials): string | undefined {
    if (this.config.calculate_ha1) {
      return subscriber.password
        ? computeHa1(creds.algorithm, creds.username, creds.realm, subscriber.password)
        : undefined;
    }
    const stored = creds.algorithm === 'MD5' ? subscriber.password : subscriber.ha1Sha256;
    return stored && isHexDigest(creds.algorithm, stored) ? stored : undefined;
  }
}

/**
 * The realm when the script gives none (OpenSIPS's empty realm): the To domain of a REGISTER
 * checked with www_authorize (the user being registered), else the From domain.
 */
export function defaultRealm(req: SipRequest, kind: AuthKind): string {
  const addr = kind === 'www' && req.method === 'REGISTER' ? req.to() : req.from();
  if (addr.uri.kind === 'sip') return addr.uri.host;
  const ruri = req.requestUri;
  return ruri.kind === 'sip' ? ruri.host : '';
}

/** The first Digest credentials of a request, for `$au`, `$ar`, `$adu`: not checked, only read. */
export function credentialsOf(
  req: SipRequest,
): { username: string; realm: string; uri: string | undefined } | undefined {
  for (const name of [KINDS.proxy.credentials, KINDS.www.credentials]) {
    for (const value of req.getHeaders(name)) {
      const parsed = parseAuthHeader(value);
      if (!parsed.ok || parsed.value.scheme.toLowerCase() !== 'digest') continue;
      const p = parsed.value.params;
      const username = p.get('username');
      if (username !== undefined) return { username, realm: p.get('realm') ?? '', uri: p.get('uri') };
    }
  }
  return undefined;
}

type Picked =
  | { header: string; params: Map<string, string> }
  | { reason: 'no-credentials' | 'malformed' | 'bad-realm'; detail: string };

/**
 * The Digest credentials for `realm` among the header values (RFC 3261 §22.4: a request may carry
 * credentials for several realms; the one for ours counts).
 */
function pickCredentials(values: string[], realm: string): Picked {
  let malformed: string | undefined;
  const others: string[] = [];
  for (const header of values) {
    const parsed = parseAuthHeader(header);
    if (!parsed.ok) {
      malformed ??= parsed.reason;
      continue;
    }
    if (parsed.value.scheme.toLowerCase() !== 'digest') continue;
    const theirs = parsed.value.params.get('realm');
    if (theirs !== undefined && theirs.toLowerCase() === realm.toLowerCase())
      return { header, params: parsed.value.params };
    others.push(theirs ?? '(none)');
  }
  if (malformed !== undefined) return { reason: 'malformed', detail: malformed };
  if (others.length > 0)
    return { reason: 'bad-realm', detail: `credentials for realm ${others.join(', ')}, not ${realm}` };
  return { reason: 'no-credentials', detail: 'no Digest credentials' };
}

function checkCredentials(
  header: string,
  p: Map<string, string>,
  enabled: readonly DigestAlgorithm[],
): Credentials | { reason: string } {
  for (const name of ['username', 'realm', 'nonce', 'uri', 'response']) {
    if (!p.get(name)) return { reason: `missing ${name}` };
  }
  const algorithm = parseAlgorithm(p.get('algorithm'));
  if (algorithm === undefined || !enabled.includes(algorithm))
    return { reason: `algorithm ${p.get('algorithm')} is not offered` };
  const response = p.get('response')!;
  if (!isHexDigest(algorithm, response)) return { reason: `response is not a ${algorithm} digest` };
  let qop: Credentials['qop'];
  const qopName = p.get('qop');
  if (qopName !== undefined) {
    if (qopName.toLowerCase() !== 'auth') return { reason: `qop ${qopName} is not supported` };
    const nc = p.get('nc');
    const cnonce = p.get('cnonce');
    if (nc === undefined || !NC.test(nc)) return { reason: 'qop=auth without a valid nc' };
    if (!cnonce) return { reason: 'qop=auth without cnonce' };
    qop = { nc, cnonce };
  }
  return {
    header,
    username: p.get('username')!,
    realm: p.get('realm')!,
    nonce: p.get('nonce')!,
    uri: p.get('uri')!,
    response,
    algorithm,
    qop,
  };
}
