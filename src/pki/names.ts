// Subject distinguished names and subjectAltName entries: parsing and validation of what people type.
import { isIP } from 'node:net';
import { x509 } from './x509.js';

/**
 * A subject as `/C=AT/O=Example/CN=host` (openssl `-subj` style), `C=AT, O=Example, CN=host`,
 * a bare common name, or an object such as `{ C: 'AT', O: 'Example', CN: 'host' }`. Components
 * keep the order given, which is the DER order `openssl x509 -subject` prints.
 */
export type SubjectInput = string | Readonly<Record<string, string>>;

export interface SubjectAltNames {
  dns?: readonly string[];
  ip?: readonly string[];
  /** e.g. `sip:example.com`, the SIP domain identity of RFC 5922. */
  uri?: readonly string[];
  email?: readonly string[];
}

type AttributeValue = { printableString: string } | { ia5String: string } | { utf8String: string };
type NameJson = Record<string, AttributeValue[]>[];

/** Accepted attribute spellings (upper-cased) → the short name @peculiar/x509 knows. */
const ATTRIBUTES: Record<string, string> = {
  C: 'C',
  ST: 'ST',
  S: 'ST',
  L: 'L',
  O: 'O',
  OU: 'OU',
  CN: 'CN',
  DC: 'DC',
  E: 'E',
  EMAIL: 'E',
  EMAILADDRESS: 'E',
};

export function parseSubject(input: SubjectInput): x509.Name {
  const pairs = typeof input === 'string' ? splitSubject(input) : Object.entries(input);
  if (pairs.length === 0) throw new Error('the subject is empty: give at least a common name (CN=...)');
  const json: NameJson = pairs.map(([key, rawValue]) => {
    const attribute = ATTRIBUTES[key.trim().toUpperCase()];
    if (!attribute) {
      throw new Error(`unknown subject attribute '${key}': use C, ST, L, O, OU, CN, DC or emailAddress`);
    }
    const value = rawValue.trim();
    if (!value) throw new Error(`subject attribute ${key} has an empty value`);
    return { [attribute]: [attributeValue(attribute, value)] };
  });
  return new x509.Name(json);
}

function attributeValue(attribute: string, value: string): AttributeValue {
  switch (attribute) {
    case 'C':
      // X.520 countryName is a two-letter PrintableString; anything else breaks strict parsers.
      if (!/^[A-Za-z]{2}$/.test(value)) {
        throw new Error(`country (C) must be a two-letter code, got '${value}'`);
      }
      return { printableString: value.toUpperCase() };
    case 'E':
    case 'DC':
      return { ia5String: value };
    default:
      // UTF8String like openssl's default string_mask; also sidesteps the '#hex' value syntax.
      return { utf8String: value };
  }
}

function splitSubject(text: string): [string, string][] {
  const s = text.trim();
  let parts: string[];
  if (s.startsWith('/')) parts = splitUnescaped(s.slice(1), '/');
  else if (s.includes('=')) parts = splitUnescaped(s, ',');
  else return s ? [['CN', s]] : [];
  return parts
    .filter((part) => part.trim() !== '')
    .map((part) => {
      const eq = part.indexOf('=');
      if (eq <= 0) throw new Error(`subject component '${part}' is not KEY=VALUE`);
      return [part.slice(0, eq), part.slice(eq + 1)];
    });
}

/** Splits on `separator` unless backslash-escaped; `\x` becomes `x`. */
function splitUnescaped(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && i + 1 < text.length) current += text[++i];
    else if (c === separator) {
      parts.push(current);
      current = '';
    } else current += c;
  }
  parts.push(current);
  return parts;
}

/** In @peculiar/x509's GeneralName JSON form ('url' is the uniformResourceIdentifier choice). */
export type SubjectAltNameEntry = { type: 'dns' | 'ip' | 'url' | 'email'; value: string };

// LDH labels, optionally behind a leading wildcard label (RFC 6125 6.4.3).
const DNS_NAME = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

export function isDnsName(name: string): boolean {
  return name.length <= 253 && DNS_NAME.test(name);
}

/**
 * Validated, de-duplicated subjectAltName entries in a fixed order (DNS, IP, URI, email); throws on
 * the first bad one.
 */
export function subjectAltNameEntries(names: SubjectAltNames): SubjectAltNameEntry[] {
  const entries: SubjectAltNameEntry[] = [];
  for (const dns of names.dns ?? []) {
    if (!isDnsName(dns)) throw new Error(`invalid DNS name '${dns}' for subjectAltName`);
    entries.push({ type: 'dns', value: dns.toLowerCase() });
  }
  for (const ip of names.ip ?? []) {
    if (!isIP(ip)) throw new Error(`invalid IP address '${ip}' for subjectAltName`);
    entries.push({ type: 'ip', value: ip });
  }
  for (const uri of names.uri ?? []) {
    if (!URL.canParse(uri)) throw new Error(`invalid URI '${uri}' for subjectAltName (e.g. sip:example.com)`);
    entries.push({ type: 'url', value: uri });
  }
  for (const email of names.email ?? []) {
    if (!/^[^@\s]+@[^@\s]+$/.test(email)) {
      throw new Error(`invalid e-mail address '${email}' for subjectAltName`);
    }
    entries.push({ type: 'email', value: email });
  }
  const unique = new Map(entries.map((e) => [`${e.type}:${e.value}`, e]));
  return [...unique.values()];
}
