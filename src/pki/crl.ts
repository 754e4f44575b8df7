// Certificate revocation lists (RFC 5280 section 5), signed by the CA that issued the certificates.
import { authorityKeyIdentifier, daysAfter, type CertificateAuthority } from './authority.js';
import { signingAlgorithm } from './keys.js';
import { MAX_SERIAL_EXCLUSIVE, serialToHex } from './serial.js';
import { x509 } from './x509.js';

export const DEFAULT_CRL_DAYS = 30;

/** RFC 5280 reason codes; removeFromCRL is left out because it only belongs in delta CRLs. */
export const REVOCATION_REASONS = [
  'unspecified',
  'keyCompromise',
  'cACompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'certificateHold',
  'privilegeWithdrawn',
  'aACompromise',
] as const;
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

export interface RevokedCertificate {
  /** Decimal. */
  serialNumber: string;
  revocationDate: Date;
  reason?: RevocationReason;
}

/** Case-insensitive, and tolerant of `key-compromise` / `key_compromise` spellings. */
export function parseRevocationReason(text: string): RevocationReason {
  const wanted = text.replace(/[-_\s]/g, '').toLowerCase();
  const reason = REVOCATION_REASONS.find((r) => r.toLowerCase() === wanted);
  if (!reason) {
    throw new Error(`unknown revocation reason '${text}': use one of ${REVOCATION_REASONS.join(', ')}`);
  }
  return reason;
}

export interface CreateCrlOptions {
  ca: CertificateAuthority;
  revoked?: readonly RevokedCertificate[];
  thisUpdate?: Date;
  /** Default: `days` after thisUpdate. Peers treat a CRL past nextUpdate as stale. */
  nextUpdate?: Date;
  days?: number;
  /** Must grow with every CRL the CA publishes; the file-backed store keeps the counter. */
  crlNumber?: bigint;
}

/** Returns the CRL as PEM. */
export async function createCrl(options: CreateCrlOptions): Promise<string> {
  const { ca } = options;
  const thisUpdate = options.thisUpdate ?? new Date();
  const nextUpdate = options.nextUpdate ?? daysAfter(thisUpdate, options.days ?? DEFAULT_CRL_DAYS);
  const crlNumber = options.crlNumber ?? 1n;
  if (crlNumber < 0n || crlNumber >= MAX_SERIAL_EXCLUSIVE) {
    throw new Error(`CRL number ${crlNumber} is out of range`);
  }
  const crl = await x509.X509CrlGenerator.create({
    issuer: ca.certificate.subjectName,
    thisUpdate,
    nextUpdate,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: signingAlgorithm(ca.keys.type),
    extensions: [
      await authorityKeyIdentifier(ca),
      new x509.Extension(CRL_NUMBER_OID, false, derInteger(crlNumber)),
    ],
    entries: (options.revoked ?? []).map((entry) => ({
      serialNumber: serialToHex(BigInt(entry.serialNumber)),
      revocationDate: entry.revocationDate,
      // Every entry carries its reasonCode, even 'unspecified' (which RFC 5280 5.3.1 would rather
      // omit): for an entry without extensions the generator writes an empty crlEntryExtensions
      // SEQUENCE, which the ASN.1 (SIZE (1..MAX)) forbids and strict parsers reject.
      extensions: [reasonCode(entry.reason ?? 'unspecified')],
    })),
  });
  // The library labels the block 'CRL'; OpenSSL, and so Node's `crl` TLS option, reads only 'X509 CRL'.
  return x509.PemConverter.encode(crl.rawData, 'X509 CRL') + '\n';
}

const CRL_NUMBER_OID = '2.5.29.20';
const REASON_CODE_OID = '2.5.29.21';

function reasonCode(reason: RevocationReason): x509.Extension {
  // CRLReason ::= ENUMERATED; every code fits in one content byte.
  return new x509.Extension(
    REASON_CODE_OID,
    false,
    Uint8Array.from([0x0a, 0x01, x509.X509CrlReason[reason]]),
  );
}

/** DER INTEGER of a non-negative value short enough for a one-byte length, which CRL numbers are. */
function derInteger(value: bigint): Uint8Array {
  const hex = serialToHex(value);
  // A leading 1 bit would read as negative: prefix a zero byte.
  const body = Buffer.from(/^[89a-f]/.test(hex) ? `00${hex}` : hex, 'hex');
  return Uint8Array.from([0x02, body.length, ...body]);
}
