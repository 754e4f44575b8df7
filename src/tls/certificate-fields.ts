// Certificate fields for the $tls_* pseudo-variables, in the formats OpenSIPS prints them (it hands
// OpenSSL's own renderings to the script): X509_NAME_oneline names, ASN1_TIME_print dates, the raw
// 0-based version, and subjectAltName IPs as OpenSSL's `-text` shows them.
import type { X509Certificate } from 'node:crypto';
import { x509 } from '../pki/x509.js';

/** The subject/issuer attributes with their own variable (`$tls_peer_subject_cn`...), by variable suffix. */
export const NAME_COMPONENTS = {
  cn: { oid: '2.5.4.3', attribute: 'commonName' },
  locality: { oid: '2.5.4.7', attribute: 'localityName' },
  country: { oid: '2.5.4.6', attribute: 'countryName' },
  state: { oid: '2.5.4.8', attribute: 'stateOrProvinceName' },
  organization: { oid: '2.5.4.10', attribute: 'organizationName' },
  unit: { oid: '2.5.4.11', attribute: 'organizationalUnitName' },
} as const;

export type NameComponent = keyof typeof NAME_COMPONENTS;

export type NameFields = {
  /** OpenSSL's one-line form in the certificate's RDN order: `/C=AT/ST=Vienna/O=enum.at/CN=enum.at`. */
  oneline: string;
} & Record<NameComponent, string | undefined>;

/** subjectAltName entries in certificate order, by variable suffix (`$tls_peer_san_hostname`...). */
export interface AltNames {
  email: string[];
  hostname: string[];
  uri: string[];
  /** `10.0.0.1`, `2001:DB8:0:0:0:0:0:1` (upper-case, uncompressed: OpenSSL's and OpenSIPS' form). */
  ip: string[];
}

export interface CertificateFields {
  /** As encoded: 0 for v1, 2 for v3. */
  version: number;
  /** Decimal, any length. */
  serial: string;
  subject: NameFields;
  issuer: NameFields;
  san: AltNames;
  /** `Jan  5 12:00:00 2025 GMT` */
  notBefore: string;
  notAfter: string;
}

/** Exposes the parsed ASN.1 that @peculiar/x509 keeps protected: the version and each name attribute's string type. */
class ParsedCertificate extends x509.X509Certificate {
  get tbsCertificate() {
    return this.asn.tbsCertificate;
  }
}

type AsnName = ParsedCertificate['tbsCertificate']['subject'];
type AttributeValue = AsnName[number][number]['value'];

/** OpenSSL's short names (OBJ_nid2sn) for attributes seen in certificate names; others print as the OID. */
const SHORT_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.4': 'SN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'street',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.12': 'title',
  '2.5.4.13': 'description',
  '2.5.4.15': 'businessCategory',
  '2.5.4.17': 'postalCode',
  '2.5.4.41': 'name',
  '2.5.4.42': 'GN',
  '2.5.4.43': 'initials',
  '2.5.4.44': 'generationQualifier',
  '2.5.4.46': 'dnQualifier',
  '2.5.4.65': 'pseudonym',
  '2.5.4.97': 'organizationIdentifier',
  '1.2.840.113549.1.9.1': 'emailAddress',
  '0.9.2342.19200300.100.1.1': 'UID',
  '0.9.2342.19200300.100.1.25': 'DC',
  '1.3.6.1.4.1.311.60.2.1.1': 'jurisdictionL',
  '1.3.6.1.4.1.311.60.2.1.2': 'jurisdictionST',
  '1.3.6.1.4.1.311.60.2.1.3': 'jurisdictionC',
};

/** Parses a certificate once; the caller keeps the result for as long as the connection lives. */
export function certificateFields(cert: X509Certificate): CertificateFields {
  const parsed = new ParsedCertificate(cert.raw);
  const tbs = parsed.tbsCertificate;
  return {
    version: tbs.version,
    serial: BigInt(`0x${cert.serialNumber}`).toString(),
    subject: nameFields(tbs.subject),
    issuer: nameFields(tbs.issuer),
    san: altNames(parsed),
    // Node renders validity with OpenSSL's ASN1_TIME_print, the form OpenSIPS returns.
    notBefore: cert.validFrom,
    notAfter: cert.validTo,
  };
}

function nameFields(name: AsnName): NameFields {
  const attributes = name.flat();
  // OpenSIPS takes the first attribute of a type (X509_NAME_get_index_by_NID from the start).
  const first = (oid: string) => {
    const value = attributes.find((a) => a.type === oid)?.value;
    return value && text(value);
  };
  const components = Object.fromEntries(
    Object.entries(NAME_COMPONENTS).map(([component, { oid }]) => [component, first(oid)]),
  ) as Record<NameComponent, string | undefined>;
  return { oneline: oneline(name), ...components };
}

/**
 * X509_NAME_oneline (OpenSSL 3): `/` before each RDN, `+` between the attributes of a multi-valued
 * RDN, the value's content octets with `/` and `+` backslash-escaped and bytes outside printable
 * ASCII as `\xHH` (so UTF-8 `ü` is `\xC3\xBC`).
 */
function oneline(name: AsnName): string {
  let out = '';
  for (const rdn of name) {
    rdn.forEach((attribute, i) => {
      out += `${i === 0 ? '/' : '+'}${SHORT_NAMES[attribute.type] ?? attribute.type}=`;
      for (const byte of octets(attribute.value)) {
        if (byte < 0x20 || byte > 0x7e) out += `\\x${byte.toString(16).toUpperCase().padStart(2, '0')}`;
        else out += (byte === 0x2f || byte === 0x2b ? '\\' : '') + String.fromCharCode(byte);
      }
    });
  }
  return out;
}

/** The value's encoded content octets, as OpenSSL keeps them. */
function octets(value: AttributeValue): Buffer {
  if (value.anyValue) return derContent(value.anyValue);
  if (value.utf8String !== undefined) return Buffer.from(value.utf8String, 'utf8');
  if (value.bmpString !== undefined) return Buffer.from(value.bmpString, 'utf16le').swap16();
  if (value.universalString !== undefined) {
    const codePoints = [...value.universalString].map((c) => c.codePointAt(0)!);
    const out = Buffer.alloc(codePoints.length * 4);
    codePoints.forEach((cp, i) => out.writeUInt32BE(cp, i * 4));
    return out;
  }
  // PrintableString, IA5String, TeletexString: one byte per character.
  return Buffer.from(value.printableString ?? value.ia5String ?? value.teletexString ?? '', 'latin1');
}

/** The value as text, as OpenSSL's ASN1_STRING_to_UTF8 gives it to OpenSIPS. */
function text(value: AttributeValue): string {
  // String types @peculiar/x509 does not decode (NumericString, VisibleString...) are single-byte.
  return value.anyValue ? derContent(value.anyValue).toString('latin1') : value.toString();
}

/** The content of a DER TLV (short or long length form). */
function derContent(tlv: ArrayBuffer): Buffer {
  const bytes = Buffer.from(tlv);
  const length = bytes[1] ?? 0;
  return bytes.subarray(length < 0x80 ? 2 : 2 + (length & 0x7f));
}

function altNames(cert: ParsedCertificate): AltNames {
  const san: AltNames = { email: [], hostname: [], uri: [], ip: [] };
  // @peculiar/x509 skips entries it cannot represent (otherName, x400Address...), as OpenSIPS ignores them.
  for (const name of cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.items ?? []) {
    if (name.type === 'dns') san.hostname.push(name.value);
    else if (name.type === 'email') san.email.push(name.value);
    else if (name.type === 'url') san.uri.push(name.value);
    else if (name.type === 'ip') {
      const ip = formatIp(derContent(name.rawData));
      if (ip) san.ip.push(ip);
    }
  }
  return san;
}

/** OpenSSL's rendering of an iPAddress entry; other lengths are not addresses and are left out. */
function formatIp(bytes: Buffer): string | undefined {
  if (bytes.length === 4) return [...bytes].join('.');
  if (bytes.length !== 16) return undefined;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16).toUpperCase());
  return groups.join(':');
}
