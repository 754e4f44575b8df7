// Building one TLS domain: read and check its files, then make what the transport runs handshakes
// with (a never-listening tls.Server for server domains, tls.connect options for client domains)
// and the `inspect` that classifies and judges the peer afterwards. Everything is read and checked
// here, at build time, so a reload that fails leaves the running snapshot alone and says exactly
// which setting of which domain is wrong. Handshakes never fail on policy inside OpenSSL
// (rejectUnauthorized is off): the verdict is reached in `inspect`, so it is classified and
// explained the same way on both sides.
import { X509Certificate, constants, createPrivateKey, type KeyObject } from 'node:crypto';
import tls, { type TLSSocket } from 'node:tls';
import type { Inspection } from './provider.js';
import { CrlIndex } from './crl-check.js';
import { children, INTEGER, readTlv, SEQUENCE } from './der.js';
import type { TlsDomain } from './domain.js';
import { reporterFor, type DomainReporter } from './domain-error.js';
import {
  CERTIFICATE,
  DH_PARAMETERS,
  PRIVATE_KEY,
  pemBlocks,
  readFolder,
  readSource,
  type PemBlock,
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

interface Identity {
  chain: X509Certificate[];
  /** Secure-context options for the key: a PEM (with its passphrase) or a key held by the engine. */
  key: { key: string; passphrase: string | undefined } | EngineKeyOptions;
}

/** OpenSSL error strings end with the useful part: "error:0A0000B9:SSL routines::no cipher match". */
function opensslReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message
    .split('\n')[0]!
    .replace(/^.*::/, '')
    .replace(/^.*:([^:]+):[^:]*:\d+:$/, '$1')
    .trim();
}

function parseCertificate(
  block: PemBlock,
  field: string,
  origin: string,
  report: DomainReporter,
): X509Certificate {
  try {
    return new X509Certificate(block.der);
  } catch (err) {
    return report.fail(field, origin, `not a valid certificate (${opensslReason(err)})`);
  }
}

function certificatesIn(source: Source, field: string, report: DomainReporter): X509Certificate[] {
  return pemBlocks(source.data.toString('latin1'), CERTIFICATE).map((b) =>
    parseCertificate(b, field, source.origin, report),
  );
}

const NO_CERTIFICATE = 'no certificate (PEM "BEGIN CERTIFICATE" block) in file';

/**
 * The certificate chain and the key, checked against each other before OpenSSL sees them, so a
 * mismatch or a passphrase problem gets a precise message. The key may sit in the certificate file.
 */
async function loadIdentity(domain: TlsDomain, report: DomainReporter): Promise<Identity | undefined> {
  if (!domain.certificate) {
    if (domain.type === 'server') {
      report.fail('certificate', undefined, 'a server domain needs a certificate');
    }
    return undefined;
  }
  const certSource = await readSource(domain.certificate, 'certificate', report);
  if (!certSource) return undefined;
  const chain = certificatesIn(certSource, 'certificate', report);
  const leaf = chain[0];
  if (!leaf) return report.fail('certificate', certSource.origin, NO_CERTIFICATE);

  const spec = domain.privateKey && 'file' in domain.privateKey ? domain.privateKey.file : undefined;
  const key =
    spec !== undefined && isEngineKey(spec)
      ? await engineKey(chain, spec, report)
      : { key: await pemKey(domain, certSource, leaf, report), passphrase: domain.passphrase };

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
  return { chain, key };
}

/** A key in a PEM file (or the certificate file), checked against the leaf. Returns its PEM. */
async function pemKey(
  domain: TlsDomain,
  certSource: Source,
  leaf: X509Certificate,
  report: DomainReporter,
): Promise<string> {
  const keySource =
    (domain.privateKey ? await readSource(domain.privateKey, 'private_key', report) : undefined) ??
    certSource;
  const keyBlock = pemBlocks(keySource.data.toString('latin1'), PRIVATE_KEY)[0];
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
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: keyBlock.pem, passphrase: domain.passphrase });
  } catch (err) {
    if (encrypted) {
      report.fail('passphrase', keySource.origin, 'wrong passphrase: the private key cannot be decrypted');
    }
    return report.fail('private_key', keySource.origin, `not a valid private key (${opensslReason(err)})`);
  }
  if (!leaf.checkPrivateKey(key)) {
    report.fail('private_key', keySource.origin, 'the private key does not match the certificate');
  }

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
async function loadCas(domain: TlsDomain, report: DomainReporter): Promise<X509Certificate[]> {
  const found = new Map<string, X509Certificate>();
  const add = (certs: X509Certificate[]) => certs.forEach((c) => found.set(c.fingerprint256, c));
  const list = domain.caList && (await readSource(domain.caList, 'ca_list', report));
  if (list) {
    const certs = certificatesIn(list, 'ca_list', report);
    if (certs.length === 0) report.fail('ca_list', list.origin, NO_CERTIFICATE);
    add(certs);
  }
  if (domain.caDir) {
    // Files without certificates (READMEs, CRLs, keys) are not CAs and are passed over.
    for (const file of await readFolder(domain.caDir.dir, 'ca_dir', domain.caDir.optional, report)) {
      add(certificatesIn(file, 'ca_dir', report));
    }
  }
  return [...found.values()];
}

async function loadCrls(domain: TlsDomain, report: DomainReporter): Promise<CrlIndex> {
  const file = domain.crl && (await readSource(domain.crl, 'crl', report));
  const folder = domain.crlDir ? await readFolder(domain.crlDir, 'crl_dir', false, report) : [];
  const crls = CrlIndex.parse(file || undefined, folder, report);
  if (domain.crlCheckAll && crls.size === 0) {
    report.warn('crl_check_all has no effect without crl or crl_dir');
  }
  return crls;
}

/** PKCS#3 DHParameter ::= SEQUENCE { prime INTEGER, base INTEGER, ... }; Node ignores anything else silently. */
async function loadDhParams(domain: TlsDomain, report: DomainReporter): Promise<string | undefined> {
  const source = domain.dhParams && (await readSource(domain.dhParams, 'dh_params', report));
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

/** Builds the domain; throws TlsDomainError naming the setting, file and reason on any problem. */
/**
 * The checks of a domain that cost little (certificate and key readable and matching, cipher list
 * and curve valid), without building an OpenSSL context: how thousands of database rows are
 * validated at load time while their contexts are built on first use. Returns the leaf, if any.
 */
export async function checkDomain(domain: TlsDomain): Promise<X509Certificate | undefined> {
  const report = reporterFor(domain);
  const identity = await loadIdentity(domain, report);
  cipherString(domain, report);
  if (domain.ecCurve !== undefined) checkCurve(domain.ecCurve, report);
  return identity?.chain[0];
}

export async function buildDomain(domain: TlsDomain, build: BuildOptions = {}): Promise<BuiltDomain> {
  const report = reporterFor(domain);
  // One after the other, so that of several problems the first in field order is reported.
  const identity = await loadIdentity(domain, report);
  const cas = await loadCas(domain, report);
  const crls = await loadCrls(domain, report);
  const dhparam = await loadDhParams(domain, report);
  const ciphers = cipherString(domain, report);
  if (domain.ecCurve !== undefined) checkCurve(domain.ecCurve, report);

  if (domain.type === 'server' && domain.verify !== 'off' && cas.length === 0) {
    report.warn(`verify ${domain.verify} but no CA (ca_list, ca_dir): no client certificate can verify`);
  }
  const options: tls.SecureContextOptions = {
    minVersion: domain.method.min,
    maxVersion: domain.method.max,
    // Without `ca` Node trusts its public root store (plus NODE_EXTRA_CA_CERTS): right for client
    // domains without CAs, so public servers verify; server domains get an empty list instead.
    ca: cas.length > 0 ? cas.map((c) => c.toString()) : domain.type === 'client' ? undefined : [],
    ...(identity && {
      cert: identity.chain.map((c) => c.toString()).join(''),
      ...identity.key,
    }),
    // Node enables CRL_CHECK | CRL_CHECK_ALL whenever `crl` is set: every certificate of the chain
    // then needs a valid CRL from its issuer, which is exactly OpenSIPS's crl_check_all.
    ...(domain.crlCheckAll && crls.size > 0 && { crl: crls.pems }),
    ...(ciphers !== undefined && { ciphers }),
    ...(dhparam !== undefined && { dhparam }),
    ...(domain.ecCurve !== undefined && { ecdhCurve: domain.ecCurve }),
  };

  const caBySubject = new Map<string, X509Certificate[]>();
  for (const ca of cas) caBySubject.set(ca.subject, [...(caBySubject.get(ca.subject) ?? []), ca]);
  const rules: VerificationRules = {
    verifyDepth: domain.verifyDepth,
    leafCrls: domain.crlCheckAll ? undefined : crls,
    caBySubject,
    chainCrls: domain.crlCheckAll,
  };
  const built: BuiltDomain = {
    domain,
    ...(identity && { certificate: identity.chain[0] }),
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

  try {
    if (domain.type === 'server') {
      const session = build.session;
      built.acceptor = tls.createServer({
        ...options,
        requestCert: domain.verify !== 'off',
        rejectUnauthorized: false,
        // Without tickets and without the cache no session ever resumes (Kamailio's default).
        ...(!session?.tickets && { secureOptions: constants.SSL_OP_NO_TICKET }),
        ...(session && {
          sessionIdContext: sessionIdContext(session, domain.name),
          sessionTimeout: session.lifetimeSeconds,
        }),
      });
      if (session?.cache) attachSessionCache(built.acceptor, session);
    } else {
      built.clientOptions = {
        secureContext: tls.createSecureContext(options),
        rejectUnauthorized: false,
        // Node's own check (RFC 6125, with wildcards) would mark the socket unauthorized;
        // the SIP identity (RFC 5922) is checked in inspect instead.
        checkServerIdentity: () => undefined,
      };
    }
  } catch (err) {
    // Everything was checked one by one above; what is left is OpenSSL refusing the certificate
    // itself (e.g. a key too small for the security level).
    const file =
      domain.certificate &&
      ('file' in domain.certificate ? domain.certificate.file : domain.certificate.label);
    report.fail('certificate', file, opensslReason(err));
  }
  return built;
}
