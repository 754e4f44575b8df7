// Leaf-only revocation checking (OpenSIPS crl_check_all = 0, the default). OpenSSL, fed CRLs
// through Node's `crl` option, always checks the whole chain (CRL_CHECK | CRL_CHECK_ALL), so for
// the leaf-only mode the CRLs stay out of OpenSSL and the peer's certificate is checked here after
// the handshake. CRLs are parsed once, when the domain is built, and indexed by issuer name.
//
// Choices, made to agree with what OpenSSL reports in crl_check_all mode:
// - names are compared as DER bytes (as Go's crypto/x509 does), which holds for a CA that encodes
//   its name the same way in its certificates and CRLs;
// - a CRL counts only if it is signed by the key of the certificate that issued the leaf;
// - of several CRLs from one issuer, the newest usable one (by thisUpdate) decides;
// - a CRL past its nextUpdate still proves a revocation it lists, but cannot vouch for a
//   certificate it does not list (CRL_HAS_EXPIRED), since a newer CRL may list it;
// - once any CRL is configured, a leaf whose issuer has none is not verified (UNABLE_TO_GET_CRL).
import { constants, verify, type KeyObject, type X509Certificate } from 'node:crypto';
import { x509 } from '../pki/x509.js';
import { bytesOf, children, INTEGER, readTlv } from './der.js';
import type { DomainReporter } from './domain-error.js';
import { CRL, pemBlocks, type Source } from './pem-files.js';

/** The encoded issuer Name of a certificate: tbsCertificate is [version] serial signature issuer. */
function certificateIssuer(der: Buffer): string {
  const tbs = children(der, readTlv(der))[0];
  if (!tbs) throw new Error('unexpected DER structure');
  const fields = children(der, tbs);
  const skip = fields[0]?.tag === 0xa0 ? 1 : 0; // [0] EXPLICIT version
  return bytesOf(der, fields[skip + 2]).toString('hex');
}

/** Serial numbers as lower-case hex without leading zeros, whichever library printed them. */
function normalSerial(hex: string): string {
  return hex.toLowerCase().replace(/^0+(?=.)/, '');
}

interface Revocation {
  date: Date;
  reason: string | undefined;
}

/** How to check a signature with Node's crypto, from the CRL's signature algorithm. */
interface SignatureCheck {
  hash: string | null;
  pssSaltLength?: number;
}

interface ParsedCrl {
  origin: string;
  issuerName: string;
  issuer: string;
  pem: string;
  tbs: Buffer;
  signature: Buffer;
  check: SignatureCheck;
  thisUpdate: Date;
  nextUpdate: Date | undefined;
  revoked: Map<string, Revocation>;
  /**
   * Issuer certificates whose key verified this CRL, by fingerprint256; successes only, so it stays
   * as small as the set of genuine issuers. They also stand in for the peer's chain on resumed
   * sessions, where OpenSSL keeps only the leaf.
   */
  signers: Map<string, X509Certificate>;
}

export type LeafCrlStatus =
  | { status: 'good' }
  | { status: 'revoked'; serial: string; date: Date; reason: string | undefined; stale: boolean }
  | { status: 'expired'; nextUpdate: Date }
  /** No CRL from the leaf's issuer; no certificate to check one with; none verifies; none valid yet. */
  | { status: 'no-crl' | 'no-issuer' | 'bad-signature' | 'not-yet-valid' };

type WebAlgorithm = { name: string; hash?: { name: string }; saltLength?: number };

function signatureCheck(algorithm: WebAlgorithm): SignatureCheck {
  const hash = algorithm.hash ? algorithm.hash.name.replace('-', '').toLowerCase() : null;
  switch (algorithm.name) {
    case 'ECDSA':
    case 'RSASSA-PKCS1-v1_5':
    case 'Ed25519':
    case 'Ed448':
    case 'EdDSA':
      return { hash };
    case 'RSA-PSS':
      return { hash, pssSaltLength: algorithm.saltLength ?? 32 };
    default:
      throw new Error(`unsupported signature algorithm ${algorithm.name}`);
  }
}

function toPem(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  // OpenSSL, and so Node's `crl` option, reads only the 'X509 CRL' label.
  return `-----BEGIN X509 CRL-----\n${lines.join('\n')}\n-----END X509 CRL-----\n`;
}

function parseOne(der: Buffer, origin: string): ParsedCrl {
  const crl = new x509.X509Crl(der);
  const [tbsTlv, , signatureTlv] = children(der, readTlv(der));
  if (!tbsTlv || !signatureTlv) throw new Error('not a CRL');
  const tbs = children(der, tbsTlv);
  // tbsCertList is [version] signature issuer ...; the BIT STRING starts with its unused-bits byte.
  const issuer = bytesOf(der, tbs[(tbs[0]?.tag === INTEGER ? 1 : 0) + 1]).toString('hex');
  const revoked = new Map<string, Revocation>();
  for (const entry of crl.entries) {
    revoked.set(normalSerial(entry.serialNumber), {
      date: entry.revocationDate,
      reason: entry.reason === undefined ? undefined : x509.X509CrlReason[entry.reason],
    });
  }
  return {
    origin,
    issuerName: crl.issuer,
    issuer,
    pem: toPem(der),
    tbs: bytesOf(der, tbsTlv),
    signature: der.subarray(signatureTlv.body + 1, signatureTlv.end),
    // The WebCrypto form, e.g. { name: 'ECDSA', hash: { name: 'SHA-256' } }; the library's type
    // names none of these fields without the DOM typings.
    check: signatureCheck(crl.signatureAlgorithm as unknown as WebAlgorithm),
    thisUpdate: crl.thisUpdate,
    nextUpdate: crl.nextUpdate,
    revoked,
    signers: new Map(),
  };
}

/**
 * The CRLs in one file: PEM blocks (`X509 CRL`), or a DER file. With `lenient` (files of a
 * crl_dir), a file that is neither is skipped with a warning; a PEM CRL that does not parse is
 * always an error.
 */
function parseSource(source: Source, field: string, lenient: boolean, report: DomainReporter): ParsedCrl[] {
  const text = source.data.toString('latin1');
  const isPem = text.includes('-----BEGIN');
  const ders = isPem ? pemBlocks(text, CRL).map((b) => b.der) : [source.data];
  const crls: ParsedCrl[] = [];
  for (const der of ders) {
    try {
      crls.push(parseOne(der, source.origin));
    } catch (err) {
      if (isPem) report.fail(field, source.origin, `not a valid CRL (${(err as Error).message})`);
      if (lenient) report.warn(`${field}: ${source.origin} is not a CRL, skipped`);
    }
  }
  if (crls.length === 0 && !lenient) {
    report.fail(field, source.origin, 'no CRL (PEM "X509 CRL" block, or DER) in file');
  }
  return crls;
}

export class CrlIndex {
  private readonly byIssuer = new Map<string, ParsedCrl[]>();

  private constructor(private readonly crls: ParsedCrl[]) {
    const newestFirst = [...crls].sort((a, b) => b.thisUpdate.getTime() - a.thisUpdate.getTime());
    for (const crl of newestFirst)
      this.byIssuer.set(crl.issuer, [...(this.byIssuer.get(crl.issuer) ?? []), crl]);
  }

  /** Parses the `crl` file and the files of `crl_dir`; warns about CRLs already past nextUpdate. */
  static parse(
    file: Source | undefined,
    folder: readonly Source[],
    report: DomainReporter,
    now = new Date(),
  ): CrlIndex {
    const crls = [
      ...(file ? parseSource(file, 'crl', false, report) : []),
      ...folder.flatMap((f) => parseSource(f, 'crl_dir', true, report)),
    ];
    for (const crl of crls) {
      if (crl.nextUpdate && crl.nextUpdate < now) {
        report.warn(
          `CRL of "${crl.issuerName}" (${crl.origin}) is past its nextUpdate ${crl.nextUpdate.toISOString()}: ` +
            'certificates of that issuer it does not list fail verification (CRL_HAS_EXPIRED) until it is refreshed',
        );
      }
    }
    return new CrlIndex(crls);
  }

  get size(): number {
    return this.crls.length;
  }

  /** PEM of every CRL, for OpenSSL (crl_check_all). */
  get pems(): string[] {
    return this.crls.map((c) => c.pem);
  }

  /**
   * The revocation status of `leaf` per the newest valid CRL of its issuer. `issuers` are the
   * candidate issuer certificates (the peer's chain, then trusted CAs), tried in order.
   */
  check(leaf: X509Certificate, issuers: readonly X509Certificate[], now = new Date()): LeafCrlStatus {
    const crls = this.byIssuer.get(certificateIssuer(leaf.raw));
    if (!crls) return { status: 'no-crl' };
    const known = crls.flatMap((crl) => [...crl.signers.values()]);
    // The issuer is the certificate whose key signed the leaf, not just one with the right name.
    const keys = [...issuers, ...known].filter((c) => leaf.checkIssued(c) && leaf.verify(c.publicKey));
    if (keys.length === 0) return { status: 'no-issuer' };
    let future = false;
    for (const crl of crls) {
      if (!keys.some((issuer) => signedBy(crl, issuer))) continue;
      if (crl.thisUpdate > now) {
        future = true;
        continue;
      }
      const stale = crl.nextUpdate !== undefined && crl.nextUpdate < now;
      const serial = normalSerial(leaf.serialNumber);
      const entry = crl.revoked.get(serial);
      if (entry) return { status: 'revoked', serial, date: entry.date, reason: entry.reason, stale };
      return stale && crl.nextUpdate ? { status: 'expired', nextUpdate: crl.nextUpdate } : { status: 'good' };
    }
    return { status: future ? 'not-yet-valid' : 'bad-signature' };
  }
}

function signedBy(crl: ParsedCrl, issuer: X509Certificate): boolean {
  if (crl.signers.has(issuer.fingerprint256)) return true;
  const key: KeyObject = issuer.publicKey;
  const { hash, pssSaltLength } = crl.check;
  let ok: boolean;
  try {
    ok = verify(
      hash,
      crl.tbs,
      pssSaltLength === undefined
        ? key
        : { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: pssSaltLength },
      crl.signature,
    );
  } catch {
    // A key of another type than the signature (e.g. an EC issuer for an RSA-signed CRL).
    ok = false;
  }
  if (ok) crl.signers.set(issuer.fingerprint256, issuer);
  return ok;
}
