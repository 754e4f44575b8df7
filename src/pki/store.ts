// A file-backed CA folder, the command line's equivalent of openssl's demoCA directory:
//
//   <dir>/ca.pem             CA certificate (what peers put in their CA list)
//   <dir>/ca.key             CA private key, mode 0600, encrypted if a passphrase was given
//   <dir>/index.json         issued certificates, their status, and the next CRL number
//   <dir>/crl.pem            the latest CRL
//   <dir>/<name>.pem         a leaf certificate
//   <dir>/<name>.key         its private key, mode 0600
//   <dir>/<name>-chain.pem   the leaf followed by the CA, for servers that send the chain
import { randomBytes } from 'node:crypto';
import { access, chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  createCertificateAuthority,
  issueCertificate,
  loadCertificateAuthority,
  type CertificateAuthority,
  type CertificateProfile,
  type CreateCaOptions,
  type IssueOptions,
} from './authority.js';
import { createCrl, type RevocationReason } from './crl.js';
import { parseSerial } from './serial.js';

export interface CaPaths {
  dir: string;
  caFile: string;
  caKeyFile: string;
  indexFile: string;
  crlFile: string;
}

export function caPaths(dir: string): CaPaths {
  return {
    dir,
    caFile: path.join(dir, 'ca.pem'),
    caKeyFile: path.join(dir, 'ca.key'),
    indexFile: path.join(dir, 'index.json'),
    crlFile: path.join(dir, 'crl.pem'),
  };
}

export interface CertificateRecord {
  name: string;
  /** Decimal. */
  serialNumber: string;
  subject: string;
  profile: CertificateProfile;
  notBefore: string;
  notAfter: string;
  /** Relative to the CA folder. */
  certFile: string;
  status: 'valid' | 'revoked';
  revokedAt?: string;
  reason?: RevocationReason;
}

interface Index {
  version: 1;
  nextCrlNumber: number;
  certificates: CertificateRecord[];
}

export const DEFAULT_CA_SUBJECT = '/O=sipsd/CN=sipsd CA';

export interface InitCaOptions extends Omit<CreateCaOptions, 'subject' | 'issuer' | 'serial'> {
  subject?: CreateCaOptions['subject'];
  /** Validity of the initial, empty CRL. */
  crlDays?: number;
}

/** Creates the CA folder with a self-signed root and an empty CRL; refuses to replace an existing CA. */
export async function initCa(dir: string, options: InitCaOptions = {}): Promise<CaPaths> {
  const paths = caPaths(dir);
  for (const file of [paths.caFile, paths.caKeyFile]) {
    if (await exists(file)) {
      throw new Error(`${file} already exists: this folder holds a CA, choose another folder`);
    }
  }
  // Private keys live here: keep the folder itself private when we create it.
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const { crlDays, ...caOptions } = options;
  const ca = await createCertificateAuthority({
    ...caOptions,
    subject: options.subject ?? DEFAULT_CA_SUBJECT,
  });
  await writePrivate(paths.caKeyFile, ca.privateKeyPem);
  await writePublic(paths.caFile, ca.certificatePem);
  await saveIndex(paths, { version: 1, nextCrlNumber: 1, certificates: [] });
  await publishCrl(paths, ca, crlDays);
  return paths;
}

/** Loads the CA of a folder; `passphrase` decrypts an encrypted ca.key. */
export async function openCa(dir: string, passphrase?: string): Promise<CertificateAuthority> {
  const paths = caPaths(dir);
  const [certificatePem, privateKeyPem] = await Promise.all([
    readCaFile(paths.caFile, dir),
    readCaFile(paths.caKeyFile, dir),
  ]);
  try {
    return await loadCertificateAuthority({ certificatePem, privateKeyPem, passphrase });
  } catch (err) {
    throw new Error(`${paths.caKeyFile}: ${(err as Error).message}`, { cause: err });
  }
}

export interface StoreIssueOptions extends Omit<IssueOptions, 'ca'> {
  /** Decrypts ca.key. (`passphrase` encrypts the new certificate's key.) */
  caPassphrase?: string;
}

export interface IssuedFiles {
  record: CertificateRecord;
  certFile: string;
  keyFile: string;
  chainFile: string;
}

/** Issues `<name>.pem`, `<name>.key` and `<name>-chain.pem` and records the certificate in the index. */
export async function issue(dir: string, name: string, options: StoreIssueOptions): Promise<IssuedFiles> {
  checkName(name);
  const paths = caPaths(dir);
  const index = await loadIndex(paths);
  const current = index.certificates.find((r) => r.name === name && effectiveStatus(r) === 'valid');
  if (current) {
    throw new Error(
      `a valid certificate named '${name}' exists (serial ${current.serialNumber}): ` +
        `revoke it first (reason superseded) or choose another name`,
    );
  }
  const { caPassphrase, ...issueOptions } = options;
  const ca = await openCa(dir, caPassphrase);
  const issued = await issueCertificate({ ...issueOptions, ca });
  const files = {
    certFile: path.join(dir, `${name}.pem`),
    keyFile: path.join(dir, `${name}.key`),
    chainFile: path.join(dir, `${name}-chain.pem`),
  };
  await writePrivate(files.keyFile, issued.privateKeyPem);
  await writePublic(files.certFile, issued.certificatePem);
  await writePublic(files.chainFile, issued.chainPem);
  const record: CertificateRecord = {
    name,
    serialNumber: issued.serialNumber,
    subject: issued.certificate.subject,
    profile: options.profile,
    notBefore: issued.certificate.notBefore.toISOString(),
    notAfter: issued.certificate.notAfter.toISOString(),
    certFile: path.basename(files.certFile),
    status: 'valid',
  };
  index.certificates.push(record);
  await saveIndex(paths, index);
  return { record, ...files };
}

/** A certificate of the index, by the name it was issued under or by serial (decimal, 0x-hex, AB:CD). */
export type RevokeTarget = { name: string } | { serial: string };

/** Marks a certificate revoked in the index; the CRL changes only when `writeCrl` runs. */
export async function revoke(
  dir: string,
  target: RevokeTarget,
  reason: RevocationReason = 'unspecified',
  date: Date = new Date(),
): Promise<CertificateRecord> {
  const paths = caPaths(dir);
  const index = await loadIndex(paths);
  let record: CertificateRecord | undefined;
  if ('serial' in target) {
    const serial = parseSerial(target.serial).toString();
    record = index.certificates.find((r) => r.serialNumber === serial);
    if (!record) throw new Error(`no certificate with serial ${serial} was issued by the CA in ${dir}`);
  } else {
    const named = index.certificates.filter((r) => r.name === target.name);
    if (named.length === 0)
      throw new Error(`no certificate named '${target.name}' was issued by the CA in ${dir}`);
    // A name can be reused after revocation; the one to revoke is the one still in force.
    record = named.find((r) => r.status === 'valid');
    if (!record) throw new Error(`the certificate named '${target.name}' is already revoked`);
  }
  if (record.status === 'revoked') {
    throw new Error(`certificate ${record.serialNumber} was already revoked at ${record.revokedAt ?? '?'}`);
  }
  record.status = 'revoked';
  record.revokedAt = date.toISOString();
  record.reason = reason;
  await saveIndex(paths, index);
  return record;
}

export interface WriteCrlOptions {
  days?: number;
  caPassphrase?: string;
}

export interface CrlResult {
  crlFile: string;
  crlNumber: number;
  revokedCount: number;
}

/** Signs a new CRL listing every revoked certificate of the index and writes it to crl.pem. */
export async function writeCrl(dir: string, options: WriteCrlOptions = {}): Promise<CrlResult> {
  const ca = await openCa(dir, options.caPassphrase);
  return publishCrl(caPaths(dir), ca, options.days);
}

async function publishCrl(paths: CaPaths, ca: CertificateAuthority, days?: number): Promise<CrlResult> {
  const index = await loadIndex(paths);
  const crlNumber = index.nextCrlNumber;
  const revoked = index.certificates
    .filter((r) => r.status === 'revoked')
    .map((r) => ({
      serialNumber: r.serialNumber,
      revocationDate: new Date(r.revokedAt ?? 0),
      reason: r.reason,
    }));
  const pem = await createCrl({ ca, revoked, days, crlNumber: BigInt(crlNumber) });
  // Count first: a crash after this skips a number, which is allowed; reusing one is not.
  index.nextCrlNumber = crlNumber + 1;
  await saveIndex(paths, index);
  await writePublic(paths.crlFile, pem);
  return { crlFile: paths.crlFile, crlNumber, revokedCount: revoked.length };
}

export type CertificateStatus = 'valid' | 'revoked' | 'expired';

export interface CertificateListing extends CertificateRecord {
  /** Like `status`, but 'expired' for valid certificates past notAfter. */
  effectiveStatus: CertificateStatus;
}

export async function list(dir: string, now: Date = new Date()): Promise<CertificateListing[]> {
  const index = await loadIndex(caPaths(dir));
  return index.certificates.map((r) => ({ ...r, effectiveStatus: effectiveStatus(r, now) }));
}

function effectiveStatus(record: CertificateRecord, now: Date = new Date()): CertificateStatus {
  if (record.status === 'revoked') return 'revoked';
  return new Date(record.notAfter) < now ? 'expired' : 'valid';
}

// Names become file names next to ca.pem and crl.pem, so they must not collide with those or with
// another certificate's chain file.
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const RESERVED_NAMES = new Set(['ca', 'crl', 'index']);

function checkName(name: string): void {
  if (!NAME.test(name) || name.endsWith('-chain') || RESERVED_NAMES.has(name.toLowerCase())) {
    throw new Error(
      `invalid certificate name '${name}': use letters, digits, '.', '_' or '-' (at most 64), ` +
        `not 'ca', 'crl', 'index' or a name ending in '-chain'`,
    );
  }
}

async function readCaFile(file: string, dir: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`no CA in ${dir}: ${path.basename(file)} is missing (create one with init-ca)`, {
        cause: err,
      });
    }
    throw err;
  }
}

async function loadIndex(paths: CaPaths): Promise<Index> {
  const text = await readCaFile(paths.indexFile, paths.dir);
  let index: Partial<Index>;
  try {
    index = JSON.parse(text) as Partial<Index>;
  } catch (err) {
    throw new Error(`${paths.indexFile} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (index.version !== 1 || !Array.isArray(index.certificates) || !Number.isInteger(index.nextCrlNumber)) {
    throw new Error(`${paths.indexFile} is not a sipsd CA index (version 1)`);
  }
  return index as Index;
}

async function saveIndex(paths: CaPaths, index: Index): Promise<void> {
  await writeAtomic(paths.indexFile, JSON.stringify(index, null, 2) + '\n', 0o644);
}

function writePrivate(file: string, data: string): Promise<void> {
  return writeAtomic(file, data, 0o600);
}

function writePublic(file: string, data: string): Promise<void> {
  return writeAtomic(file, data, 0o644);
}

/** Write-then-rename, so readers (a server hot-reloading crl.pem) never see half a file. */
async function writeAtomic(file: string, data: string, mode: number): Promise<void> {
  const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temp, data, { mode, flag: 'wx' });
    // The umask may have narrowed `mode`; a public certificate should stay readable.
    await chmod(temp, mode);
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}
