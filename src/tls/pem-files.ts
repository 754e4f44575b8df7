// Reading a domain's PEM material: single files or inline values (database BLOBs), folders of CA
// certificates or CRLs, and splitting PEM text into labelled blocks. All reads are async, through
// the load's cache (a file shared by many domains is read once); errors name the setting and the
// file.
import { join } from 'node:path';
import type { PemRef } from './domain.js';
import type { DomainReporter } from './domain-error.js';
import type { LoadCache } from './load-cache.js';

/** Bytes of one source, with where they came from (a path, or the label of an inline value). */
export interface Source {
  origin: string;
  data: Buffer;
}

export interface PemBlock {
  label: string;
  /** The whole block, BEGIN to END line, as OpenSSL reads it. */
  pem: string;
  der: Buffer;
}

const BLOCK = /-----BEGIN ([A-Z0-9 .]+)-----\r?\n([\s\S]*?)-----END \1-----/g;

/** The PEM blocks of `text` whose label matches, in order. */
export function pemBlocks(text: string, label: RegExp): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    if (!label.test(m[1]!)) continue;
    // Legacy encrypted keys carry "Name: value" headers before the base64 body.
    const body = m[2]!
      .split(/\r?\n/)
      .filter((line) => !line.includes(':'))
      .join('');
    blocks.push({ label: m[1]!, pem: m[0] + '\n', der: Buffer.from(body, 'base64') });
  }
  return blocks;
}

export const CERTIFICATE = /^(?:X509 |TRUSTED )?CERTIFICATE$/;
export const PRIVATE_KEY = /^(?:(?:RSA|EC|DSA|ENCRYPTED) )?PRIVATE KEY$/;
/** `CRL` is not standard but some tools (and @peculiar/x509) write it. */
export const CRL = /^(?:X509 )?CRL$/;
export const DH_PARAMETERS = /^(?:X9\.42 )?DH PARAMETERS$/;

function readFailure(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a folder, expected a file';
  return `cannot read (${code ?? (err as Error).message})`;
}

/**
 * Reads a file or inline value. A missing file marked `optional` (a built-in default path) is
 * skipped with a warning; any other missing file is an error.
 */
export async function readSource(
  ref: PemRef,
  field: string,
  report: DomainReporter,
  cache: LoadCache,
): Promise<Source | undefined> {
  if ('pem' in ref) return { origin: ref.label, data: ref.pem };
  try {
    return { origin: ref.file, data: await cache.readFile(ref.file) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') report.fail(field, ref.file, readFailure(err));
    if (!ref.optional) report.fail(field, ref.file, 'file not found');
    report.warn(`${field}: default ${ref.file} not found, none used`);
    return undefined;
  }
}

/**
 * Every regular file in `dir` (symlinks followed, as in OpenSSL hashed folders), sorted by name.
 * A missing `optional` folder (a built-in default) yields nothing.
 */
export async function readFolder(
  dir: string,
  field: string,
  optional: boolean,
  report: DomainReporter,
  cache: LoadCache,
): Promise<Source[]> {
  let names: string[];
  try {
    names = [...(await cache.readdir(dir))].sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && optional) return [];
    report.fail(
      field,
      dir,
      code === 'ENOENT' ? 'folder not found' : code === 'ENOTDIR' ? 'not a folder' : readFailure(err),
    );
  }
  const files: Source[] = [];
  for (const name of names) {
    const path = join(dir, name);
    try {
      // A dangling symlink or a subfolder is not a candidate; only regular files are read.
      if (!(await cache.isFile(path))) continue;
      files.push({ origin: path, data: await cache.readFile(path) });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      report.fail(field, path, readFailure(err));
    }
  }
  return files;
}
