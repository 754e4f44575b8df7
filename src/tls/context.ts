// Building one TLS domain, in two steps. `prepareDomain` reads and checks everything the operator
// can get wrong (files, PEM content, key against certificate, passphrase, CAs, CRLs, ciphers), so a
// reload that fails leaves the running snapshot alone and says exactly which setting of which
// domain is wrong. `createContext` then makes what the transport runs handshakes with (a
// never-listening tls.Server for server domains, tls.connect options for client domains): the
// costly OpenSSL part, done on first use and shared by domains whose contexts would be identical.
// Handshakes never fail on policy inside OpenSSL (rejectUnauthorized is off): the verdict is
// reached in `inspect`, so it is classified and explained the same way on both sides.
import { X509Certificate, constants, createPrivateKey } from 'node:crypto';
import tls, { type TLSSocket } from 'node:tls';
import type { Inspection } from './provider.js';
import { CrlIndex } from './crl-check.js';
import { children, INTEGER, readTlv, SEQUENCE } from './der.js';
import type { PemRef, TlsDomain } from './domain.js';
import { reporterFor, TlsDomainError, type DomainReporter } from './domain-error.js';
import { digestOf, LoadCache } from './load-cache.js';
import {
  CERTIFICATE,
  DH_PARAMETERS,
  PRIVATE_KEY,
  pemBlocks,
  readFolder,
  readSource,
  type Source,
} from './pem-files.js';
import { checkEngineKey, isEngineKey, redactEngineKey, type EngineKeyOptions } from './engine.js';
import { attachSessionCache, sessionIdContext, type SessionSettings } from './session-cache.js';
import { classifyPeer, refusalFor, type VerificationRules } from './verification.js';

export { TlsDomainError } from './domain-error.js';

/** Settings of the whole TLS layer that shape every domain's context. */
export interface BuildOptions {
  /** Server domains: session resumption; none when absent. */
  session?: SessionSettings;
}

export interface BuiltDomain {
  domain: TlsDomain;
  /** Server domains: runs the handshakes of accepted sockets (`acceptor.emit('connection', raw)`). */
  acceptor?: tls.Server;
  /** Client domains: options for tls.connect, to complete with host/port/socket/servername. */
  clientOptions?: tls.ConnectionOptions;
  /** The domain's own leaf certificate, for tls_list; undefined if it has none. */
  certificate?: X509Certificate;
  /**
   * Classifies the peer after a handshake on a socket of this domain and applies its policy.
   * `expectedHost`: client domains, the SIP domain or host the connection is for (default: the
   * peer's IP address), checked when verify_server_name is on.
   */
  inspect(socket: TLSSocket, expectedHost?: string): Inspection;
}

/** What one context is made of; shared by every domain whose files and settings are the same. */
interface Identity {
  chain: X509Certificate[];
  /** Secure-context options for the key: a PEM (with its passphrase) or a key held by the engine. */
  key: { key: string; passphrase: string | undefined } | EngineKeyOptions;
  /** Names chain and key (hashed, passphrase included) in context keys. */
  digest: string;
}

/** Trusted CAs without duplicates, interned by content so thousands of domains hold one list. */
class TrustedCas {
  private pemList: string[] | undefined;
  readonly bySubject = new Map<string, X509Certificate[]>();

  constructor(
    readonly certs: readonly X509Certificate[],
    readonly digest: string,
  ) {
    for (const ca of certs) this.bySubject.set(ca.subject, [...(this.bySubject.get(ca.subject) ?? []), ca]);
  }

  /** For OpenSSL, made when the first context needs them. */
  get pems(): string[] {
    return (this.pemList ??= this.certs.map((c) => c.toString()));
  }

  /**
   * A certificate file holding only the leaf, completed with its issuers from these CAs up to the
   * root, as OpenSSL would send it. OpenSSL builds that chain itself when a context has no extra
   * certificates, but again on every handshake (X509_verify_cert, a signature check per link: 4%
   * of a full handshake's CPU); built once here, the same certificates go out. A file that holds
   * its own chain is sent as it is, as OpenSSL does.
   */
  sentChain(chain: readonly X509Certificate[]): readonly X509Certificate[] {
    if (chain.length !== 1) return chain;
    const sent = [...chain];
    for (let cert = sent[0]!; cert.issuer !== cert.subject || !cert.checkIssued(cert);) {
      const issuer = this.bySubject
        .get(cert.issuer)
        ?.find((ca) => !sent.includes(ca) && cert.checkIssued(ca) && cert.verify(ca.publicKey));
      if (!issuer) break;
      sent.push(issuer);
      cert = issuer;
    }
    return sent;
  }
}

/** What a domain's files give, checked: everything its context needs but the context itself. */
interface Material {
  /** The domain's own leaf certificate, for tls_list; undefined if it has none. */
  certificate: X509Certificate | undefined;
  /**
   * Equal keys mean interchangeable OpenSSL contexts (same material and settings): one is built
   * and shared. With session resumption on, a server domain's key is its own, so no domain resumes
   * another's sessions.
   */
  contextKey: string;
  /** Also covers what `inspect` depends on beyond the domain's settings (CAs, CRLs). */
  materialKey: string;
  rules: VerificationRules;
  identity: Identity | undefined;
  cas: TrustedCas;
  crls: CrlIndex;
  dhparam: string | undefined;
  ciphers: string | undefined;
}

/** A domain read and checked, its context not built yet. */
export type PreparedDomain = Material & { domain: TlsDomain };

/** Server domains get an acceptor, client domains connection options. */
export type DomainContext = { acceptor: tls.Server } | { clientOptions: tls.ConnectionOptions };

/** OpenSSL error strings end with the useful part: "error:0A0000B9:SSL routines::no cipher match". */
function opensslReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message
    .split('\n')[0]!
    .replace(/^.*::/, '')
    .replace(/^.*:([^:]+):[^:]*:\d+:$/, '$1')
    .trim();
}

/**
 * Names a PEM setting's value within one load: the file, or the inline value by its label (unique
 * to a database row and column). Content is not hashed here: the parse caches below it are by
 * content.
 */
function refKey(ref: PemRef | undefined): string {
  if (!ref) return '-';
  return 'file' in ref ? `file:${ref.optional ? '?' : ''}${ref.file}` : `inline:${ref.label}`;
}

/** Certificates parsed from one PEM text, or why one of them does not parse. */
type ParsedCertificates = X509Certificate[] | { invalid: string };

function parseCertificates(source: Source): ParsedCertificates {
  const certs: X509Certificate[] = [];
  for (const block of pemBlocks(source.data.toString('latin1'), CERTIFICATE)) {
    try {
      certs.push(new X509Certificate(block.der));
    } catch (err) {
      return { invalid: opensslReason(err) };
    }
  }
  return certs;
}

/** The certificates of a source, each distinct content parsed once. */
function certificatesIn(
  source: Source,
  field: string,
  report: DomainReporter,
  cache: LoadCache,
): X509Certificate[] {
  const parsed = cache.parsed.get(`certificates|${digestOf(source.data)}`, () => parseCertificates(source));
  if (!Array.isArray(parsed)) {
    return report.fail(field, source.origin, `not a valid certificate (${parsed.invalid})`);
  }
  return parsed;
}

const NO_CERTIFICATE = 'no certificate (PEM "BEGIN CERTIFICATE" block) in file';

/**
 * The certificate chain and the key, checked against each other before OpenSSL sees them, so a
 * mismatch or a passphrase problem gets a precise message. The key may sit in the certificate file.
 */
async function loadIdentity(
  domain: TlsDomain,
  report: DomainReporter,
  cache: LoadCache,
): Promise<Identity | undefined> {
  if (!domain.certificate) {
    if (domain.type === 'server') {
      report.fail('certificate', undefined, 'a server domain needs a certificate');
    }
    return undefined;
  }
  const certSource = await readSource(domain.certificate, 'certificate', report, cache);
  if (!certSource) return undefined;
  const chain = certificatesIn(certSource, 'certificate', report, cache);
  const leaf = chain[0];
  if (!leaf) return report.fail('certificate', certSource.origin, NO_CERTIFICATE);

  const spec = domain.privateKey && 'file' in domain.privateKey ? domain.privateKey.file : undefined;
  const key =
    spec !== undefined && isEngineKey(spec)
      ? await engineKey(chain, spec, report)
      : {
          key: await pemKey(domain, certSource, leaf, report, cache),
          passphrase: domain.passphrase,
        };

  const now = Date.now();
  if (Date.parse(leaf.validTo) < now) {
    report.warn(`certificate (${certSource.origin}): expired on ${leaf.validTo}`);
  }
  if (Date.parse(leaf.validFrom) > now) {
    report.warn(`certificate (${certSource.origin}): not valid before ${leaf.validFrom}`);
  }
  // Peers build the chain from what is sent, in order: a misordered file fails only at their end.
  if (chain.some((c, i) => i > 0 && !chain[i - 1]!.checkIssued(c))) {
    report.warn(
      `certificate (${certSource.origin}): the chain is not in order (leaf first, then each issuer)`,
    );
  }
  const digest = digestOf(JSON.stringify([chain.map((c) => c.fingerprint256), key]));
  return { chain, key, digest };
}

/** Why a key does not open or does not match the leaf; undefined when it does. */
type KeyProblem = { field: 'private_key' | 'passphrase'; reason: string } | undefined;

function keyProblem(
  pem: string,
  passphrase: string | undefined,
  encrypted: boolean,
  leaf: X509Certificate,
): KeyProblem {
  let key;
  try {
    key = createPrivateKey({ key: pem, passphrase });
  } catch (err) {
    if (encrypted) {
      return { field: 'passphrase', reason: 'wrong passphrase: the private key cannot be decrypted' };
    }
    return { field: 'private_key', reason: `not a valid private key (${opensslReason(err)})` };
  }
  if (!leaf.checkPrivateKey(key)) {
    return { field: 'private_key', reason: 'the private key does not match the certificate' };
  }
  return undefined;
}

/** A key in a PEM file (or the certificate file), checked against the leaf. Returns its PEM. */
async function pemKey(
  domain: TlsDomain,
  certSource: Source,
  leaf: X509Certificate,
  report: DomainReporter,
  cache: LoadCache,
): Promise<string> {
  const keySource =
    (domain.privateKey ? await readSource(domain.privateKey, 'private_key', report, cache) : undefined) ??
    certSource;
  const keyDigest = digestOf(keySource.data);
  const keyBlock = cache.parsed.get(
    `key-block|${keyDigest}`,
    () => pemBlocks(keySource.data.toString('latin1'), PRIVATE_KEY)[0],
  );
  if (!keyBlock) {
    report.fail(
      'private_key',
      keySource.origin,
      keySource === certSource
        ? 'no private key: set private_key or put the key in the certificate file'
        : 'no private key (PEM "BEGIN PRIVATE KEY" block) in file',
    );
  }
  const encrypted =
    keyBlock.label === 'ENCRYPTED PRIVATE KEY' || keyBlock.pem.includes('Proc-Type: 4,ENCRYPTED');
  if (encrypted && domain.passphrase === undefined) {
    report.fail('private_key', keySource.origin, 'the private key is encrypted: set passphrase');
  }
  // Opening a key is the costliest check: once per key, passphrase and certificate.
  const problem = cache.parsed.get(`key|${keyDigest}|${passphraseKey(domain)}|${leaf.fingerprint256}`, () =>
    keyProblem(keyBlock.pem, domain.passphrase, encrypted, leaf),
  );
  if (problem) report.fail(problem.field, keySource.origin, problem.reason);
  return keyBlock.pem;
}

/** A `/engine:` key, proven to match the chain by a signature; the PIN never reaches a message. */
async function engineKey(
  chain: X509Certificate[],
  spec: string,
  report: DomainReporter,
): Promise<EngineKeyOptions> {
  try {
    return await checkEngineKey(chain.map((c) => c.toString()).join(''), spec);
  } catch (err) {
    return report.fail('private_key', redactEngineKey(spec), (err as Error).message);
  }
}

/** Trusted CAs from ca_list and every PEM file of ca_dir (Node has no CApath), without duplicates. */
async function loadCas(domain: TlsDomain, report: DomainReporter, cache: LoadCache): Promise<TrustedCas> {
  const found = new Map<string, X509Certificate>();
  const add = (certs: X509Certificate[]) => certs.forEach((c) => found.set(c.fingerprint256, c));
  const list = domain.caList && (await readSource(domain.caList, 'ca_list', report, cache));
  if (list) {
    const certs = certificatesIn(list, 'ca_list', report, cache);
    if (certs.length === 0) report.fail('ca_list', list.origin, NO_CERTIFICATE);
    add(certs);
  }
  if (domain.caDir) {
    // Files without certificates (READMEs, CRLs, keys) are not CAs and are passed over.
    const { dir, optional } = domain.caDir;
    for (const file of await readFolder(dir, 'ca_dir', optional, report, cache)) {
      add(certificatesIn(file, 'ca_dir', report, cache));
    }
  }
  const digest = digestOf([...found.keys()].join());
  return cache.parsed.get(`cas|${digest}`, () => new TrustedCas([...found.values()], digest));
}

async function loadCrls(
  domain: TlsDomain,
  report: DomainReporter,
  cache: LoadCache,
): Promise<{ crls: CrlIndex; digest: string }> {
  const file = domain.crl && (await readSource(domain.crl, 'crl', report, cache));
  const folder = domain.crlDir ? await readFolder(domain.crlDir, 'crl_dir', false, report, cache) : [];
  const crls = CrlIndex.parse(file || undefined, folder, report);
  return { crls, digest: digestOf(crls.pems.join('')) };
}

/** PKCS#3 DHParameter ::= SEQUENCE { prime INTEGER, base INTEGER, ... }; Node ignores anything else silently. */
async function loadDhParams(
  domain: TlsDomain,
  report: DomainReporter,
  cache: LoadCache,
): Promise<string | undefined> {
  const source = domain.dhParams && (await readSource(domain.dhParams, 'dh_params', report, cache));
  if (!source) return undefined;
  const block = pemBlocks(source.data.toString('latin1'), DH_PARAMETERS)[0];
  if (!block) {
    report.fail('dh_params', source.origin, 'no DH parameters (PEM "BEGIN DH PARAMETERS" block) in file');
  }
  let valid = false;
  try {
    const top = readTlv(block.der);
    const [prime, base] = children(block.der, top);
    valid = top.tag === SEQUENCE && prime?.tag === INTEGER && base?.tag === INTEGER;
  } catch {
    // Reported just below.
  }
  if (!valid) report.fail('dh_params', source.origin, 'not valid DH parameters');
  try {
    tls.createSecureContext({ dhparam: block.pem });
  } catch (err) {
    report.fail('dh_params', source.origin, opensslReason(err));
  }
  return block.pem;
}

/**
 * Node takes TLS 1.3 suites and the TLS <= 1.2 list in one string, telling them apart by the TLS_
 * prefix; what is not configured keeps Node's default. Legacy protocol versions need OpenSSL
 * security level 0, or OpenSSL 3 refuses TLS 1.0/1.1 handshakes ("no suitable signature algorithm").
 */
function cipherString(domain: TlsDomain, report: DomainReporter): string | undefined {
  const { cipherList, cipherSuites, method } = domain;
  if (cipherList === undefined && cipherSuites === undefined && !method.legacy) return undefined;
  const defaults = tls.DEFAULT_CIPHERS.split(':');
  let list = cipherList ?? defaults.filter((c) => !c.startsWith('TLS_')).join(':');
  if (method.legacy && !/@SECLEVEL=/i.test(list)) list += ':@SECLEVEL=0';
  const versions = { minVersion: method.min, maxVersion: method.max };
  try {
    tls.createSecureContext({ ...versions, ciphers: list });
  } catch (err) {
    report.fail('cipher_list', undefined, `"${list}": ${opensslReason(err)}`);
  }
  if (cipherSuites === undefined) return [...defaults.filter((c) => c.startsWith('TLS_')), list].join(':');

  const suites = cipherSuites
    .split(':')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const wrong = suites.find((s) => !s.startsWith('TLS_'));
  if (wrong !== undefined) {
    report.fail(
      'cipher_suites',
      undefined,
      `"${wrong}" is not a TLS 1.3 cipher suite (e.g. TLS_AES_128_GCM_SHA256)`,
    );
  }
  const ciphers = [...suites, list].join(':');
  try {
    tls.createSecureContext({ ...versions, ciphers });
  } catch (err) {
    report.fail('cipher_suites', undefined, `"${cipherSuites}": ${opensslReason(err)}`);
  }
  return ciphers;
}

function checkCurve(curve: string, report: DomainReporter): void {
  try {
    tls.createSecureContext({ ecdhCurve: curve });
  } catch (err) {
    report.fail(
      'ec_curve',
      undefined,
      `"${curve}": ${opensslReason(err)} (see openssl ecparam -list_curves)`,
    );
  }
}

/** Whether sessions of a server domain may resume at all (cache or tickets). */
const resumes = (build: BuildOptions) => !!(build.session?.cache || build.session?.tickets);

/**
 * Reads and checks what a domain's context and verdicts are made of. Each step that depends only on
 * files and settings other domains may share runs once per load (see LoadCache.check); their keys
 * name every input.
 */
async function loadMaterial(
  d: TlsDomain,
  report: DomainReporter,
  cache: LoadCache,
  build: BuildOptions,
): Promise<Material> {
  // One after the other, so that of several problems the first in field order is reported.
  const identity = await cache.check(
    `identity|${d.type}|${refKey(d.certificate)}|${refKey(d.privateKey)}|${passphraseKey(d)}`,
    report,
    (r) => loadIdentity(d, r, cache),
  );
  const cas = await cache.check(`cas|${refKey(d.caList)}|${caDirKey(d)}`, report, (r) =>
    loadCas(d, r, cache),
  );
  const crlFiles = `${refKey(d.crl)}|${d.crlDir ?? '-'}`;
  const crls = await cache.check(`crls|${crlFiles}`, report, (r) => loadCrls(d, r, cache));
  if (d.crlCheckAll && crls.crls.size === 0) {
    report.warn('crl_check_all has no effect without crl or crl_dir');
  }
  const dhparam = await cache.check(`dh|${refKey(d.dhParams)}`, report, (r) => loadDhParams(d, r, cache));
  const { cipherList, cipherSuites, method } = d;
  const cipherSettings = JSON.stringify([cipherList, cipherSuites, method.min, method.max, method.legacy]);
  const ciphers = await cache.check(`ciphers|${cipherSettings}`, report, (r) => cipherString(d, r));
  const curve = d.ecCurve;
  if (curve !== undefined) await cache.check(`curve|${curve}`, report, (r) => checkCurve(curve, r));

  if (d.type === 'server' && d.verify !== 'off' && cas.certs.length === 0) {
    report.warn(`verify ${d.verify} but no CA (ca_list, ca_dir): no client certificate can verify`);
  }
  const inOpenSsl = d.crlCheckAll && crls.crls.size > 0;
  const contextKey = digestOf(
    JSON.stringify([
      d.type,
      method.min,
      method.max,
      d.type === 'server' && d.verify !== 'off',
      identity?.digest,
      cas.digest,
      inOpenSsl ? crls.digest : undefined,
      cipherSettings,
      dhparam === undefined ? undefined : digestOf(dhparam),
      curve,
      d.type === 'server' ? build.session : undefined,
      d.type === 'server' && resumes(build) ? d.name : undefined,
    ]),
  );
  return {
    certificate: identity?.chain[0],
    contextKey,
    materialKey: `${contextKey}|${cas.digest}|${crls.digest}`,
    rules: {
      verifyDepth: d.verifyDepth,
      leafCrls: d.crlCheckAll ? undefined : crls.crls,
      caBySubject: cas.bySubject,
      chainCrls: d.crlCheckAll,
    },
    identity,
    cas,
    crls: crls.crls,
    dhparam,
    ciphers,
  };
}

/** Hashed: a passphrase never sits in a key in clear. */
const passphraseKey = (d: TlsDomain) => (d.passphrase === undefined ? '-' : digestOf(`+${d.passphrase}`));
const caDirKey = (d: TlsDomain) => (d.caDir ? `${d.caDir.optional ? '?' : ''}${d.caDir.dir}` : '-');

/**
 * Reads and checks a domain; throws TlsDomainError naming the setting, file and reason on any
 * problem. Domains that agree on every setting loadMaterial reads share its result, checked once:
 * thousands of domains differing only in names and addresses cost little more than one.
 */
export async function prepareDomain(
  domain: TlsDomain,
  cache: LoadCache,
  build: BuildOptions = {},
): Promise<PreparedDomain> {
  const d = domain;
  const settings = JSON.stringify([
    d.type,
    refKey(d.certificate),
    refKey(d.privateKey),
    passphraseKey(d),
    refKey(d.caList),
    caDirKey(d),
    refKey(d.crl),
    d.crlDir,
    d.crlCheckAll,
    refKey(d.dhParams),
    d.cipherList,
    d.cipherSuites,
    d.method.min,
    d.method.max,
    d.method.legacy,
    d.ecCurve,
    d.verify,
    d.verifyDepth,
    d.type === 'server' && resumes(build) ? d.name : undefined,
  ]);
  const material = await cache.check(`domain|${settings}`, reporterFor(d), (r) =>
    loadMaterial(d, r, cache, build),
  );
  return { domain, ...material };
}

/**
 * The OpenSSL context of a prepared domain: the costly part (OpenSSL parses every PEM again).
 * Throws what OpenSSL throws; see contextError.
 */
export function createContext(p: PreparedDomain, build: BuildOptions = {}): DomainContext {
  const { domain, identity, cas } = p;
  const options: tls.SecureContextOptions = {
    minVersion: domain.method.min,
    maxVersion: domain.method.max,
    // Without `ca` Node trusts its public root store (plus NODE_EXTRA_CA_CERTS): right for client
    // domains without CAs, so public servers verify; server domains get an empty list instead.
    ca: cas.certs.length > 0 ? cas.pems : domain.type === 'client' ? undefined : [],
    ...(identity && {
      cert: cas
        .sentChain(identity.chain)
        .map((c) => c.toString())
        .join(''),
      ...identity.key,
    }),
    // Node enables CRL_CHECK | CRL_CHECK_ALL whenever `crl` is set: every certificate of the chain
    // then needs a valid CRL from its issuer, which is exactly OpenSIPS's crl_check_all.
    ...(domain.crlCheckAll && p.crls.size > 0 && { crl: p.crls.pems }),
    ...(p.ciphers !== undefined && { ciphers: p.ciphers }),
    ...(p.dhparam !== undefined && { dhparam: p.dhparam }),
    ...(domain.ecCurve !== undefined && { ecdhCurve: domain.ecCurve }),
  };
  if (domain.type === 'client') {
    return {
      clientOptions: {
        secureContext: tls.createSecureContext(options),
        rejectUnauthorized: false,
        // Node's own check (RFC 6125, with wildcards) would mark the socket unauthorized;
        // the SIP identity (RFC 5922) is checked in inspect instead.
        checkServerIdentity: () => undefined,
      },
    };
  }
  const session = build.session;
  const acceptor = tls.createServer({
    ...options,
    requestCert: domain.verify !== 'off',
    rejectUnauthorized: false,
    // Without tickets and without the cache no session ever resumes (Kamailio's default).
    ...(!session?.tickets && { secureOptions: constants.SSL_OP_NO_TICKET }),
    ...(session && { sessionTimeout: session.lifetimeSeconds }),
    // Only then is the acceptor the domain's own (see PreparedDomain.contextKey).
    ...(session && resumes(build) && { sessionIdContext: sessionIdContext(session, domain.name) }),
  });
  if (session?.cache) attachSessionCache(acceptor, session);
  return { acceptor };
}

/**
 * What createContext threw, for a domain. Everything was checked one by one when the domain was
 * prepared; what is left is OpenSSL refusing the certificate itself (e.g. a key too small for the
 * security level).
 */
export function contextError(domain: TlsDomain, err: unknown): TlsDomainError {
  const file =
    domain.certificate && ('file' in domain.certificate ? domain.certificate.file : domain.certificate.label);
  return new TlsDomainError(domain.name, 'certificate', file, opensslReason(err), domain.type);
}

/** The domain as the transport uses it: its (possibly shared) context and its own `inspect`. */
export function builtDomain(p: PreparedDomain, context: DomainContext): BuiltDomain {
  const { domain, rules } = p;
  return {
    domain,
    ...context,
    ...(p.certificate && { certificate: p.certificate }),
    inspect(socket, expectedHost) {
      // Fail closed: without a name to check, the empty string matches no certificate.
      const identityToCheck =
        domain.type === 'client' && domain.verifyServerName
          ? (expectedHost ?? socket.remoteAddress ?? '')
          : undefined;
      const { peer, certificate } = classifyPeer(socket, rules, identityToCheck);
      const refusal = refusalFor(domain.type, domain.verify, peer);
      return refusal === undefined ? { peer, certificate } : { peer, certificate, refusal };
    },
  };
}

/** Prepares and builds one domain on its own; throws TlsDomainError on any problem. */
export async function buildDomain(domain: TlsDomain, build: BuildOptions = {}): Promise<BuiltDomain> {
  const prepared = await prepareDomain(domain, new LoadCache(), build);
  let context: DomainContext;
  try {
    context = createContext(prepared, build);
  } catch (err) {
    throw contextError(domain, err);
  }
  return builtDomain(prepared, context);
}
