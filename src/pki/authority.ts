// Certificate authorities and the certificates they issue, with the extensions TLS stacks check:
// basicConstraints, keyUsage, extendedKeyUsage, key identifiers and subjectAltName.
import { KeyObject, X509Certificate as NodeX509Certificate } from 'node:crypto';
import {
  DEFAULT_KEY_TYPE,
  exportPrivateKeyPem,
  generateKeyPair,
  isRsa,
  loadPrivateKey,
  signingAlgorithm,
  type KeyPair,
  type KeyType,
} from './keys.js';
import { parseSubject, subjectAltNameEntries, type SubjectAltNames, type SubjectInput } from './names.js';
import { hexToDecimal, isValidSerial, randomSerial, serialToHex } from './serial.js';
import { x509 } from './x509.js';

/** Fresh certificates start a little in the past so peers with a slightly slow clock accept them. */
const BACKDATE_MS = 60 * 1000;

export const DEFAULT_CA_DAYS = 3650;
export const DEFAULT_LEAF_DAYS = 365;

/** What issuing needs from a CA: its certificate, its signing key and the chain above it. */
export interface CertificateAuthority {
  readonly certificate: x509.X509Certificate;
  readonly keys: KeyPair;
  /** This CA's certificate followed by its issuers up to the root, PEM. */
  readonly chainPem: string;
}

export interface IssuedCertificate extends CertificateAuthority {
  readonly certificatePem: string;
  /** PKCS#8 PEM, encrypted when a passphrase was given. */
  readonly privateKeyPem: string;
  /** Decimal. */
  readonly serialNumber: string;
}

/** serverAuth, clientAuth or both: SIP proxies often act as both ends of mutual TLS. */
export type CertificateProfile = 'server' | 'client' | 'both';

/** Either `days` from now or an explicit window; tests use explicit windows for expired certificates. */
export interface Validity {
  days?: number;
  notBefore?: Date;
  notAfter?: Date;
}

interface CommonOptions extends Validity {
  subject: SubjectInput;
  keyType?: KeyType;
  /** Positive, at most 20 bytes; random 128-bit when omitted. */
  serial?: bigint;
  /** Encrypts `privateKeyPem` with this passphrase. */
  passphrase?: string;
}

export interface CreateCaOptions extends CommonOptions {
  /** Maximum number of intermediate CAs below this one; unlimited for a root, 0 for an intermediate. */
  pathLength?: number;
  /** Makes an intermediate CA signed by this one instead of a self-signed root. */
  issuer?: CertificateAuthority;
}

export interface IssueOptions extends CommonOptions {
  ca: CertificateAuthority;
  profile: CertificateProfile;
  subjectAltNames?: SubjectAltNames;
}

export type SelfSignedOptions = Omit<IssueOptions, 'ca'>;

export async function createCertificateAuthority(options: CreateCaOptions): Promise<IssuedCertificate> {
  const { issuer } = options;
  const pathLength = options.pathLength ?? (issuer ? 0 : undefined);
  if (pathLength !== undefined && (!Number.isInteger(pathLength) || pathLength < 0)) {
    throw new Error(`pathLength must be a non-negative integer, got ${pathLength}`);
  }
  if (issuer) {
    const limit = issuer.certificate.getExtension(x509.BasicConstraintsExtension)?.pathLength;
    if (limit === 0)
      throw new Error(`'${issuer.certificate.subject}' may not sign CA certificates (pathLength 0)`);
    if (limit !== undefined && (pathLength ?? Infinity) >= limit) {
      throw new Error(
        `'${issuer.certificate.subject}' has pathLength ${limit}: give a pathLength below ${limit}`,
      );
    }
  }
  return build(options, issuer, {
    days: DEFAULT_CA_DAYS,
    extensions: [
      new x509.BasicConstraintsExtension(true, pathLength, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
}

export async function issueCertificate(options: IssueOptions): Promise<IssuedCertificate> {
  return build(options, options.ca, leafProfile(options));
}

/** A self-signed end-entity certificate: trusted only when the peer pins it as its own CA. */
export async function createSelfSignedCertificate(options: SelfSignedOptions): Promise<IssuedCertificate> {
  return build(options, undefined, leafProfile(options));
}

/** Loads a CA from PEM files' contents, checking that the key belongs to a CA certificate. */
export async function loadCertificateAuthority(pem: {
  certificatePem: string;
  privateKeyPem: string;
  passphrase?: string;
  /** Issuers above this CA, PEM, for intermediates. */
  issuerChainPem?: string;
}): Promise<CertificateAuthority> {
  const certificate = new x509.X509Certificate(pem.certificatePem);
  assertIsCa(certificate);
  const keys = await loadPrivateKey(pem.privateKeyPem, pem.passphrase);
  if (!new NodeX509Certificate(pem.certificatePem).checkPrivateKey(KeyObject.from(keys.privateKey))) {
    throw new Error(`the private key does not belong to the CA certificate '${certificate.subject}'`);
  }
  const chainPem = certificate.toString('pem') + '\n' + (pem.issuerChainPem?.trim() ?? '');
  return { certificate, keys, chainPem: chainPem.trim() + '\n' };
}

/** Points at the CA's own subjectKeyIdentifier, so CAs made elsewhere with another key-id method still chain. */
export async function authorityKeyIdentifier(
  ca: CertificateAuthority,
): Promise<x509.AuthorityKeyIdentifierExtension> {
  const keyId = ca.certificate.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  return keyId
    ? new x509.AuthorityKeyIdentifierExtension(keyId)
    : x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey);
}

function assertIsCa(certificate: x509.X509Certificate): void {
  const usage = certificate.getExtension(x509.KeyUsagesExtension)?.usages;
  if (
    !certificate.getExtension(x509.BasicConstraintsExtension)?.ca ||
    (usage !== undefined && !(usage & x509.KeyUsageFlags.keyCertSign))
  ) {
    throw new Error(`'${certificate.subject}' is not a CA certificate: it may not sign certificates`);
  }
}

interface Profile {
  days: number;
  extensions: x509.Extension[];
}

function leafProfile(options: SelfSignedOptions): Profile {
  const keyType = options.keyType ?? DEFAULT_KEY_TYPE;
  let usages = x509.KeyUsageFlags.digitalSignature;
  // RSA key exchange (TLS 1.2 RSA suites) encrypts the premaster secret to the certificate key.
  if (isRsa(keyType)) usages |= x509.KeyUsageFlags.keyEncipherment;
  const purposes = {
    server: [x509.ExtendedKeyUsage.serverAuth],
    client: [x509.ExtendedKeyUsage.clientAuth],
    both: [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
  }[options.profile];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(usages, true),
    new x509.ExtendedKeyUsageExtension(purposes, false),
  ];
  const altNames = subjectAltNameEntries(options.subjectAltNames ?? {});
  if (altNames.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(altNames, false));
  return { days: DEFAULT_LEAF_DAYS, extensions };
}

/** Signs a certificate with `issuer`, or self-signs when there is none. */
async function build(
  options: CommonOptions,
  issuer: CertificateAuthority | undefined,
  profile: Profile,
): Promise<IssuedCertificate> {
  if (issuer) assertIsCa(issuer.certificate);
  const { notBefore, notAfter } = validityWindow(options, profile.days);
  const keys = await generateKeyPair(options.keyType ?? DEFAULT_KEY_TYPE);
  const signer = issuer?.keys ?? keys;
  const subject = parseSubject(options.subject);
  const serial = options.serial ?? randomSerial();
  if (!isValidSerial(serial)) throw new Error(`serial ${serial} is not positive or longer than 20 bytes`);
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serialToHex(serial),
    subject,
    // The issuer's encoded subject is copied, not re-encoded, so name chaining matches byte for byte.
    issuer: issuer?.certificate.subjectName ?? subject,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: signer.privateKey,
    signingAlgorithm: signingAlgorithm(signer.type),
    extensions: [
      ...profile.extensions,
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      issuer
        ? await authorityKeyIdentifier(issuer)
        : await x509.AuthorityKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const certificatePem = certificate.toString('pem') + '\n';
  return {
    certificate,
    keys,
    certificatePem,
    chainPem: certificatePem + (issuer?.chainPem ?? ''),
    privateKeyPem: exportPrivateKeyPem(keys, options.passphrase),
    serialNumber: hexToDecimal(certificate.serialNumber),
  };
}

/** `days` whole days after `start`; shared by certificate validity and CRL nextUpdate. */
export function daysAfter(start: Date, days: number): Date {
  if (!Number.isInteger(days) || days <= 0) throw new Error(`days must be a positive integer, got ${days}`);
  return new Date(start.getTime() + days * 86_400_000);
}

function validityWindow(validity: Validity, defaultDays: number): { notBefore: Date; notAfter: Date } {
  const start = validity.notBefore ?? new Date();
  const notBefore = validity.notBefore ?? new Date(start.getTime() - BACKDATE_MS);
  const notAfter = validity.notAfter ?? daysAfter(start, validity.days ?? defaultDays);
  if (notAfter <= notBefore) {
    throw new Error(
      `notAfter (${notAfter.toISOString()}) must be later than notBefore (${notBefore.toISOString()})`,
    );
  }
  return { notBefore, notAfter };
}
