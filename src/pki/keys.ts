// Key pairs for CAs and leaf certificates. Keys live as WebCrypto CryptoKeys (what @peculiar/x509
// signs with) and travel as PKCS#8 / SPKI PEM, optionally passphrase-encrypted.
import { KeyObject, createPrivateKey, createPublicKey, webcrypto } from 'node:crypto';

export const KEY_TYPES = ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096'] as const;
export type KeyType = (typeof KEY_TYPES)[number];

export const DEFAULT_KEY_TYPE: KeyType = 'ec-p256';

export interface KeyPair {
  readonly type: KeyType;
  readonly privateKey: webcrypto.CryptoKey;
  readonly publicKey: webcrypto.CryptoKey;
}

/** The WebCrypto algorithm that both generates/imports a key of this type and signs with it. */
export type SigningAlgorithm =
  | { name: 'ECDSA'; namedCurve: 'P-256' | 'P-384'; hash: 'SHA-256' | 'SHA-384' }
  | { name: 'RSASSA-PKCS1-v1_5'; hash: 'SHA-256' };

const RSA_BITS: Partial<Record<KeyType, number>> = { 'rsa-2048': 2048, 'rsa-3072': 3072, 'rsa-4096': 4096 };

export function signingAlgorithm(type: KeyType): SigningAlgorithm {
  switch (type) {
    case 'ec-p256':
      return { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
    case 'ec-p384':
      // Match the hash strength to the curve, as TLS 1.3's ecdsa_secp384r1_sha384 expects.
      return { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' };
    default:
      return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  }
}

export function isRsa(type: KeyType): boolean {
  return type.startsWith('rsa-');
}

const KEY_TYPE_ALIASES: Record<string, KeyType> = {
  ec: 'ec-p256',
  ec256: 'ec-p256',
  p256: 'ec-p256',
  ec384: 'ec-p384',
  p384: 'ec-p384',
  rsa: 'rsa-2048',
  rsa2048: 'rsa-2048',
  rsa3072: 'rsa-3072',
  rsa4096: 'rsa-4096',
};

/** Accepts the canonical names and the short command-line spellings (`ec`, `ec384`, `rsa2048`, ...). */
export function parseKeyType(text: string): KeyType {
  const name = text.trim().toLowerCase();
  const type = (KEY_TYPES as readonly string[]).includes(name) ? (name as KeyType) : KEY_TYPE_ALIASES[name];
  if (!type) {
    throw new Error(
      `unknown key type '${text}': use one of ec (P-256), ec384 (P-384), rsa2048, rsa3072, rsa4096`,
    );
  }
  return type;
}

export async function generateKeyPair(type: KeyType = DEFAULT_KEY_TYPE): Promise<KeyPair> {
  const bits = RSA_BITS[type];
  const algorithm = bits
    ? { ...signingAlgorithm(type), modulusLength: bits, publicExponent: new Uint8Array([1, 0, 1]) }
    : signingAlgorithm(type);
  // Extractable, because the private key is exported to PEM right after generation. The cast: the
  // typings cannot tell from a plain algorithm object that an asymmetric pair comes back.
  const pair = (await webcrypto.subtle.generateKey(algorithm, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  return { type, privateKey: pair.privateKey, publicKey: pair.publicKey };
}

/** PKCS#8 PEM; with a passphrase it is encrypted (AES-256-CBC, PBES2) as `ENCRYPTED PRIVATE KEY`. */
export function exportPrivateKeyPem(keys: KeyPair, passphrase?: string): string {
  const key = KeyObject.from(keys.privateKey);
  const pem = passphrase
    ? key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase })
    : key.export({ type: 'pkcs8', format: 'pem' });
  return pem.toString();
}

export function exportPublicKeyPem(keys: KeyPair): string {
  return KeyObject.from(keys.publicKey).export({ type: 'spki', format: 'pem' }).toString();
}

export function isEncryptedPrivateKeyPem(pem: string): boolean {
  return pem.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----') || /Proc-Type: 4,ENCRYPTED/.test(pem);
}

/** Loads a PEM private key (PKCS#8, SEC1 or PKCS#1; encrypted ones need the passphrase). */
export async function loadPrivateKey(pem: string, passphrase?: string): Promise<KeyPair> {
  let key: KeyObject;
  try {
    key = createPrivateKey(passphrase === undefined ? { key: pem } : { key: pem, passphrase });
  } catch (err) {
    if (isEncryptedPrivateKeyPem(pem)) {
      throw new Error(
        passphrase === undefined
          ? 'the private key is encrypted: a passphrase is needed'
          : 'cannot decrypt the private key: wrong passphrase',
        { cause: err },
      );
    }
    throw new Error(`not a readable PEM private key: ${(err as Error).message}`, { cause: err });
  }
  const type = keyTypeOf(key);
  const algorithm = signingAlgorithm(type);
  const subtle = webcrypto.subtle;
  const [privateKey, publicKey] = await Promise.all([
    subtle.importKey('pkcs8', key.export({ type: 'pkcs8', format: 'der' }), algorithm, true, ['sign']),
    subtle.importKey('spki', createPublicKey(key).export({ type: 'spki', format: 'der' }), algorithm, true, [
      'verify',
    ]),
  ]);
  return { type, privateKey, publicKey };
}

/** Classifies a Node key object; keys we cannot issue with (Ed25519, P-521, odd RSA sizes) are refused. */
function keyTypeOf(key: KeyObject): KeyType {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec') {
    if (details?.namedCurve === 'prime256v1') return 'ec-p256';
    if (details?.namedCurve === 'secp384r1') return 'ec-p384';
  } else if (key.asymmetricKeyType === 'rsa') {
    const type = KEY_TYPES.find((t) => RSA_BITS[t] === details?.modulusLength);
    if (type) return type;
  }
  const what = [key.asymmetricKeyType, details?.namedCurve ?? details?.modulusLength]
    .filter(Boolean)
    .join(' ');
  throw new Error(`unsupported key (${what}): use EC P-256/P-384 or RSA 2048/3072/4096`);
}
