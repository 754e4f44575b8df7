// The $tls_* pseudo-variables of OpenSIPS tls_mgm, plus Kamailio's $tls_peer_server_name: what TLS
// negotiated on the connection a message arrived on and the fields of both certificates. Derived
// values are computed on first use and kept per connection, never per message.
import type { PvSpec, PvValue } from '../router/pv.js';
import type { Proto } from '../transport/listen-spec.js';
import type { TlsSessionInfo } from '../transport/types.js';
import {
  certificateFields,
  NAME_COMPONENTS,
  type AltNames,
  type CertificateFields,
  type NameComponent,
} from './certificate-fields.js';

/** What the variables read: a message's context, or a connection's in the connection hooks. */
export interface TlsVariableContext {
  readonly proto: Proto;
  readonly tls: TlsSessionInfo | undefined;
}

type Ctx = TlsVariableContext;
type Side = 'peer' | 'my';

/** Values derived from one connection; `null` records "no certificate" so it is not looked at again. */
interface Derived {
  description?: string;
  peer?: CertificateFields | null;
  my?: CertificateFields | null;
}

// Keyed by the session object the transport creates once per connection: entries go with it.
const derived = new WeakMap<TlsSessionInfo, Derived>();

function derivedOf(tls: TlsSessionInfo): Derived {
  let d = derived.get(tls);
  if (!d) derived.set(tls, (d = {}));
  return d;
}

/** The message's TLS session; unset for messages that did not arrive over TLS. */
const session = (c: Ctx): TlsSessionInfo | undefined => (c.proto === 'tls' ? c.tls : undefined);

function certificate(c: Ctx, side: Side): CertificateFields | undefined {
  const tls = session(c);
  if (!tls) return undefined;
  const d = derivedOf(tls);
  if (d[side] === undefined) {
    const cert = side === 'peer' ? tls.peerCertificate : tls.localCertificate;
    try {
      d[side] = cert ? certificateFields(cert) : null;
    } catch {
      // A peer certificate OpenSSL accepted but the ASN.1 parser rejects: its fields read as unset
      // instead of an exception escaping the script on every message of the connection.
      d[side] = null;
    }
  }
  return d[side] ?? undefined;
}

/** Kx/Au by the OpenSSL cipher name's prefix, first match wins; names without one are RSA suites. */
const KEY_EXCHANGE: readonly [prefix: string, kx: string, au: string][] = [
  ['TLS_', 'any', 'any'],
  ['ECDHE-ECDSA-', 'ECDH', 'ECDSA'],
  ['ECDHE-RSA-', 'ECDH', 'RSA'],
  ['ECDHE-PSK-', 'ECDHEPSK', 'PSK'],
  // ECDHE-ARIA*: OpenSSL's names for ECDHE-RSA with ARIA.
  ['ECDHE-', 'ECDH', 'RSA'],
  ['AECDH-', 'ECDH', 'None'],
  ['DHE-RSA-', 'DH', 'RSA'],
  ['DHE-DSS-', 'DH', 'DSS'],
  ['DHE-PSK-', 'DHEPSK', 'PSK'],
  ['ADH-', 'DH', 'None'],
  ['RSA-PSK-', 'RSAPSK', 'RSA'],
  ['PSK-', 'PSK', 'PSK'],
  ['SRP-DSS-', 'SRP', 'DSS'],
  ['SRP-RSA-', 'SRP', 'RSA'],
  ['SRP-', 'SRP', 'SRP'],
];

/**
 * OpenSSL's SSL_CIPHER_description for a cipher name (as `openssl ciphers -v` prints it), single-spaced
 * and without its newline: `ECDHE-ECDSA-AES128-GCM-SHA256 TLSv1.2 Kx=ECDH Au=ECDSA Enc=AESGCM(128)
 * Mac=AEAD`. The protocol column is the oldest version the cipher works with, not the negotiated one.
 * Node does not expose the description, so it is derived from the name's parts.
 */
export function cipherDescription(cipher: string): string {
  const n = cipher.toUpperCase();
  const [, kx, au] = KEY_EXCHANGE.find(([prefix]) => n.startsWith(prefix)) ?? ['', 'RSA', 'RSA'];
  const aead = /GCM|CCM|POLY1305/.test(n);
  const mac = aead
    ? 'AEAD'
    : (/-(SHA384|SHA256|SHA|MD5)$/.exec(n)?.[1]?.replace(/^SHA$/, 'SHA1') ?? 'unknown');
  return `${cipher} ${minimumVersion(n, kx, mac, aead)} Kx=${kx} Au=${au} Enc=${encryption(n)} Mac=${mac}`;
}

function minimumVersion(n: string, kx: string, mac: string, aead: boolean): string {
  if (n.startsWith('TLS_')) return 'TLSv1.3';
  const sha2 = mac === 'SHA256' || mac === 'SHA384';
  // AEAD and SHA-2 MACs came with TLS 1.2, except in the PSK suites of RFC 5487 (TLS 1.0 and later).
  if (aead || (sha2 && !kx.includes('PSK'))) return 'TLSv1.2';
  // The ECC suites (RFC 4492) are TLS 1.0 suites; the older ones date from SSLv3.
  return kx.startsWith('ECDH') || sha2 ? 'TLSv1' : 'SSLv3';
}

function encryption(n: string): string {
  if (n.includes('CHACHA20')) return 'CHACHA20/POLY1305(256)';
  if (n.includes('NULL')) return 'None';
  const m = /(AES|ARIA|CAMELLIA)[-_]?(128|256)/.exec(n);
  if (!m) return 'unknown';
  const mode = n.includes('GCM') ? 'GCM' : /CCM[-_]?8/.test(n) ? 'CCM8' : n.includes('CCM') ? 'CCM' : '';
  return `${m[1] === 'CAMELLIA' ? 'Camellia' : m[1]}${mode}(${m[2]})`;
}

function description(tls: TlsSessionInfo): string {
  const d = derivedOf(tls);
  return (d.description ??= cipherDescription(tls.cipher));
}

type PeerFlag = 'verified' | 'revoked' | 'expired' | 'selfSigned';

const PEER_FLAGS: readonly [suffix: string, key: PeerFlag, meaning: string][] = [
  ['verified', 'verified', 'verified (trusted chain, validity period, revocation where checked)'],
  ['revoked', 'revoked', 'is revoked'],
  ['expired', 'expired', 'is expired'],
  ['selfsigned', 'selfSigned', 'is self-signed'],
];

const sessionVariables: PvSpec<Ctx>[] = [
  {
    name: 'tls_version',
    summary: 'TLS version of the connection, e.g. `TLSv1.3`',
    get: (c) => session(c)?.protocol ?? undefined,
  },
  {
    name: 'tls_description',
    summary:
      'OpenSSL description of the cipher: `TLS_AES_256_GCM_SHA384 TLSv1.3 Kx=any Au=any Enc=AESGCM(256) Mac=AEAD`',
    get: (c) => {
      const tls = session(c);
      return tls && description(tls);
    },
  },
  {
    name: 'tls_cipher_info',
    summary: 'cipher of the connection (OpenSSL name), e.g. `ECDHE-ECDSA-AES128-GCM-SHA256`',
    get: (c) => session(c)?.cipher,
  },
  {
    name: 'tls_cipher_bits',
    summary: 'secret key bits of the cipher (number)',
    get: (c) => session(c)?.cipherBits,
  },
  {
    name: 'tls_peer_server_name',
    summary: 'the SNI: server name the peer asked for (Kamailio)',
    get: (c) => session(c)?.serverName,
  },
  ...PEER_FLAGS.map(([suffix, key, meaning]): PvSpec<Ctx> => ({
    name: `tls_peer_${suffix}`,
    summary: `1 if the peer's certificate ${meaning}, else 0`,
    get: (c) => {
      const tls = session(c);
      return tls && (tls.peer[key] ? 1 : 0);
    },
  })),
];

/** One certificate field, generated for the peer's certificate and for ours. */
interface FieldVariable {
  suffix: string;
  summary: (cert: string) => string;
  arg?: 'optional';
  get: (fields: CertificateFields, arg: string | undefined, name: string) => PvValue;
}

const SAN_TYPES: Record<keyof AltNames, string> = {
  email: 'e-mail address',
  hostname: 'DNS name',
  uri: 'URI',
  ip: 'IP address',
};

/** `$var` is the first entry, `$var(i)` the one at 0-based index i (negative counts from the end). */
function entry(list: string[], arg: string | undefined, name: string): string | undefined {
  if (arg === undefined || arg.trim() === '') return list[0];
  if (!/^-?\d+$/.test(arg.trim())) throw new Error(`$${name}(${arg}): the index must be an integer`);
  return list.at(Number(arg));
}

const CERTIFICATE_FIELDS: FieldVariable[] = [
  { suffix: 'version', summary: (cert) => `version of ${cert} as encoded (2 for v3)`, get: (f) => f.version },
  { suffix: 'serial', summary: (cert) => `serial number of ${cert}, decimal`, get: (f) => f.serial },
  ...(['subject', 'issuer'] as const).flatMap((part): FieldVariable[] => [
    {
      suffix: part,
      summary: (cert) => `${part} of ${cert} in OpenSSL's one-line form: \`/C=AT/O=enum.at/CN=enum.at\``,
      get: (f) => f[part].oneline,
    },
    ...(Object.keys(NAME_COMPONENTS) as NameComponent[]).map((component): FieldVariable => ({
      suffix: `${part}_${component}`,
      summary: (cert) =>
        `${NAME_COMPONENTS[component].attribute} of the ${part} of ${cert} (the first if repeated)`,
      get: (f) => f[part][component],
    })),
  ]),
  ...(Object.keys(SAN_TYPES) as (keyof AltNames)[]).map((type): FieldVariable => ({
    suffix: `san_${type}`,
    summary: (cert) =>
      `${SAN_TYPES[type]} in the subjectAltName of ${cert}: the first, or \`(i)\` the one at 0-based index i`,
    arg: 'optional',
    get: (f, arg, name) => entry(f.san[type], arg, name),
  })),
  {
    suffix: 'notBefore',
    summary: (cert) => `start of the validity of ${cert}: \`Jan  5 12:00:00 2025 GMT\``,
    get: (f) => f.notBefore,
  },
  {
    suffix: 'notAfter',
    summary: (cert) => `end of the validity of ${cert}: \`Jan  5 12:00:00 2026 GMT\``,
    get: (f) => f.notAfter,
  },
];

const SIDES: Record<Side, string> = { peer: "the peer's certificate", my: 'our certificate' };

/** Every `$tls_*` variable, registered by the router next to the core variables. */
export const tlsVariables: PvSpec<Ctx>[] = [
  ...sessionVariables,
  ...(Object.keys(SIDES) as Side[]).flatMap((side) =>
    CERTIFICATE_FIELDS.map((field): PvSpec<Ctx> => {
      const name = `tls_${side}_${field.suffix}`;
      return {
        name,
        summary: field.summary(SIDES[side]),
        ...(field.arg && { arg: field.arg }),
        get: (c, arg) => {
          const fields = certificate(c, side);
          return fields && field.get(fields, arg, name);
        },
      };
    }),
  ),
];
