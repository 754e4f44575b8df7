// `sipsd cert ...`: a small CA on the command line, replacing the seeds' openssl "Quick Certificate
// Howto" (create a CA, issue server/client certificates, revoke, publish a CRL). Private key contents
// are never printed, only the files they were written to.
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import {
  DEFAULT_CA_DAYS,
  DEFAULT_CA_SUBJECT,
  DEFAULT_CRL_DAYS,
  DEFAULT_LEAF_DAYS,
  hexToDecimal,
  initCa,
  isDnsName,
  issue,
  list,
  parseKeyType,
  parseRevocationReason,
  REVOCATION_REASONS,
  revoke,
  subjectAltNameEntries,
  writeCrl,
  x509,
  type CertificateProfile,
  type KeyType,
  type SubjectAltNames,
  type SubjectInput,
} from '../pki/index.js';
import type { CliIo } from './io.js';

/** Bad command line: exit code 2, as usual for usage errors. */
class UsageError extends Error {}

type Values = Record<string, string | boolean | string[] | undefined>;

interface OptionSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
  /** Placeholder in help, e.g. DIR. */
  arg?: string;
  help: string;
}

interface Subcommand {
  synopsis: string;
  summary: string;
  options: Record<string, OptionSpec>;
  maxPositionals: number;
  run(values: Values, positionals: string[], io: CliIo): Promise<void>;
}

const DIR: OptionSpec = { type: 'string', arg: 'DIR', help: 'the CA folder' };
const DAYS = (what: string, days: number): OptionSpec => ({
  type: 'string',
  arg: 'N',
  help: `validity of the ${what} in days (default ${days})`,
});
const KEY: OptionSpec = {
  type: 'string',
  arg: 'TYPE',
  help: 'key type: ec (P-256, default), ec384, rsa2048, rsa3072, rsa4096',
};
const CA_PASSPHRASE: OptionSpec = {
  type: 'string',
  arg: 'FILE',
  help: 'file whose first line is the passphrase of an encrypted ca.key',
};

const SAN_LABELS = { dns: 'DNS', ip: 'IP', url: 'URI', email: 'email' } as const;

const SUBCOMMANDS: Record<string, Subcommand> = {
  'init-ca': {
    synopsis: '--dir DIR [options]',
    summary: 'create a CA folder: ca.pem, ca.key (mode 0600), index.json and an empty crl.pem',
    options: {
      dir: DIR,
      subject: {
        type: 'string',
        arg: 'S',
        help: `CA subject, e.g. '/C=AT/O=Example/CN=Example CA' (default '${DEFAULT_CA_SUBJECT}')`,
      },
      days: DAYS('CA certificate', DEFAULT_CA_DAYS),
      key: KEY,
      'path-length': {
        type: 'string',
        arg: 'N',
        help: 'how many intermediate CA levels may follow (default unlimited)',
      },
      'passphrase-file': {
        type: 'string',
        arg: 'FILE',
        help: 'encrypt ca.key with the first line of FILE (recommended)',
      },
    },
    maxPositionals: 0,
    async run(values, _positionals, io) {
      const dir = requireDir(values);
      const passphrase = await readPassphrase(values, 'passphrase-file');
      const paths = await initCa(dir, {
        subject: str(values, 'subject'),
        days: int(values, 'days'),
        keyType: keyType(values),
        pathLength: int(values, 'path-length', 0),
        passphrase,
      });
      io.stdout(
        [
          `created a CA in ${dir}`,
          `  certificate: ${paths.caFile}   (give this to peers as their CA list)`,
          `  private key: ${paths.caKeyFile}   (mode 0600${passphrase ? ', encrypted' : ''})`,
          `  index:       ${paths.indexFile}`,
          `  CRL:         ${paths.crlFile}`,
          '',
        ].join('\n'),
      );
    },
  },
  issue: {
    synopsis: '--dir DIR --name NAME --cn CN [--server|--client|--both] [options]',
    summary: 'issue a certificate and key signed by the CA: NAME.pem, NAME.key, NAME-chain.pem',
    options: {
      dir: DIR,
      name: { type: 'string', arg: 'NAME', help: 'file name stem in the CA folder, e.g. proxy1' },
      cn: { type: 'string', arg: 'CN', help: 'subject common name' },
      subject: {
        type: 'string',
        arg: 'S',
        help: "full subject instead of --cn, e.g. '/O=Example/CN=proxy1'",
      },
      server: { type: 'boolean', help: 'TLS server certificate (serverAuth; the default)' },
      client: { type: 'boolean', help: 'TLS client certificate (clientAuth)' },
      both: { type: 'boolean', help: 'usable as server and client (a SIP proxy connecting out)' },
      dns: {
        type: 'string',
        multiple: true,
        arg: 'A,B',
        help: 'DNS subjectAltNames (a server CN that is a host name is added)',
      },
      ip: { type: 'string', multiple: true, arg: 'X,Y', help: 'IP subjectAltNames, IPv4 or IPv6' },
      uri: { type: 'string', multiple: true, arg: 'U', help: 'URI subjectAltNames, e.g. sip:example.com' },
      days: DAYS('certificate', DEFAULT_LEAF_DAYS),
      key: KEY,
      'passphrase-file': {
        type: 'string',
        arg: 'FILE',
        help: 'encrypt NAME.key with the first line of FILE',
      },
      'ca-passphrase-file': CA_PASSPHRASE,
    },
    maxPositionals: 0,
    async run(values, _positionals, io) {
      const dir = requireDir(values);
      const name = str(values, 'name');
      if (!name) {
        throw new UsageError('missing --name NAME (the certificate files become NAME.pem and NAME.key)');
      }
      const profile = profileOf(values);
      const subject = subjectOf(values);
      const subjectAltNames = altNames(values, profile, str(values, 'cn'));
      const passphrase = await readPassphrase(values, 'passphrase-file');
      const issued = await issue(dir, name, {
        profile,
        subject,
        subjectAltNames,
        days: int(values, 'days'),
        keyType: keyType(values),
        passphrase,
        caPassphrase: await readPassphrase(values, 'ca-passphrase-file'),
      });
      const sans = subjectAltNameEntries(subjectAltNames).map((n) => `${SAN_LABELS[n.type]}:${n.value}`);
      io.stdout(
        [
          `issued ${profile} certificate '${name}', serial ${issued.record.serialNumber}`,
          `  subject:     ${issued.record.subject}`,
          `  alt names:   ${sans.join(', ') || '(none)'}`,
          `  valid until: ${issued.record.notAfter}`,
          `  certificate: ${issued.certFile}`,
          `  private key: ${issued.keyFile}   (mode 0600${passphrase ? ', encrypted' : ''})`,
          `  chain:       ${issued.chainFile}   (certificate followed by the CA)`,
          '',
        ].join('\n'),
      );
    },
  },
  revoke: {
    synopsis: '--dir DIR (NAME | --serial S) [--reason R]',
    summary: 'mark a certificate revoked in the index; then run `crl` to publish it',
    options: {
      dir: DIR,
      serial: { type: 'string', arg: 'S', help: 'serial number (decimal, 0x-hex or AB:CD) instead of NAME' },
      reason: {
        type: 'string',
        arg: 'R',
        help: `one of ${REVOCATION_REASONS.join(', ')} (default unspecified)`,
      },
    },
    maxPositionals: 1,
    async run(values, positionals, io) {
      const dir = requireDir(values);
      const [name] = positionals;
      const serial = str(values, 'serial');
      if (name !== undefined && serial !== undefined) {
        throw new UsageError('give either NAME or --serial, not both');
      }
      const target = serial !== undefined ? { serial } : name !== undefined ? { name } : undefined;
      if (!target) throw new UsageError('missing NAME (as given to issue --name) or --serial S');
      const reasonText = str(values, 'reason');
      const reason = reasonText === undefined ? undefined : usage(() => parseRevocationReason(reasonText));
      const record = await revoke(dir, target, reason);
      io.stdout(
        [
          `revoked '${record.name}' (serial ${record.serialNumber}, reason ${record.reason ?? 'unspecified'})`,
          `publish it: sipsd cert crl --dir ${dir}`,
          '',
        ].join('\n'),
      );
    },
  },
  crl: {
    synopsis: '--dir DIR [--days N]',
    summary: 'sign a new crl.pem listing every revoked certificate',
    options: {
      dir: DIR,
      days: DAYS('CRL (its nextUpdate)', DEFAULT_CRL_DAYS),
      'ca-passphrase-file': CA_PASSPHRASE,
    },
    maxPositionals: 0,
    async run(values, _positionals, io) {
      const dir = requireDir(values);
      const result = await writeCrl(dir, {
        days: int(values, 'days'),
        caPassphrase: await readPassphrase(values, 'ca-passphrase-file'),
      });
      io.stdout(
        `wrote CRL number ${result.crlNumber} with ${result.revokedCount} revoked certificate(s) to ${result.crlFile}\n`,
      );
    },
  },
  list: {
    synopsis: '--dir DIR',
    summary: 'list the certificates the CA issued, with their status',
    options: { dir: DIR },
    maxPositionals: 0,
    async run(values, _positionals, io) {
      const records = await list(requireDir(values));
      if (records.length === 0) {
        io.stdout('no certificates issued yet\n');
        return;
      }
      const rows = records.map((r) => [
        r.name,
        r.effectiveStatus,
        r.serialNumber,
        r.notAfter.slice(0, 10),
        r.subject,
      ]);
      io.stdout(table([['NAME', 'STATUS', 'SERIAL', 'NOT AFTER', 'SUBJECT'], ...rows]));
    },
  },
  show: {
    synopsis: 'FILE',
    summary: 'describe the certificates and CRLs in a PEM (or DER certificate) file',
    options: {},
    maxPositionals: 1,
    async run(_values, positionals, io) {
      const [file] = positionals;
      if (!file) throw new UsageError('missing FILE, e.g. sipsd cert show ca/server.pem');
      io.stdout(describeFile(file, await readFile(file)));
    },
  },
};

export async function certCommand(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.stderr(overview());
    return 2;
  }
  if (name === 'help' || name === '--help' || name === '-h') {
    const topic = rest[0];
    const sub = topic === undefined ? undefined : SUBCOMMANDS[topic];
    if (topic !== undefined && !sub) {
      io.stderr(`sipsd cert help: unknown subcommand '${topic}'\n\n${overview()}`);
      return 2;
    }
    io.stdout(sub && topic ? subcommandHelp(topic, sub) : overview());
    return 0;
  }
  const sub = SUBCOMMANDS[name];
  if (!sub) {
    io.stderr(`sipsd cert: unknown subcommand '${name}'\n\n${overview()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(subcommandHelp(name, sub));
    return 0;
  }
  try {
    const { values, positionals } = parse(rest, sub);
    await sub.run(values, positionals, io);
    return 0;
  } catch (err) {
    const message = (err as Error).message;
    if (err instanceof UsageError) {
      io.stderr(
        `sipsd cert ${name}: ${message}\nusage: sipsd cert ${name} ${sub.synopsis} (see 'sipsd cert help ${name}')\n`,
      );
      return 2;
    }
    io.stderr(`sipsd cert ${name}: ${message}\n`);
    return 1;
  }
}

/** parseArgs in lenient mode plus our own checks, so every mistake gets a message naming the flag. */
function parse(args: string[], sub: Subcommand): { values: Values; positionals: string[] } {
  const { values, positionals, tokens } = parseArgs({
    args,
    options: Object.fromEntries(
      Object.entries(sub.options).map(([n, o]) => [n, { type: o.type, multiple: o.multiple ?? false }]),
    ),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const spec = sub.options[token.name];
    if (!spec) {
      const known = Object.keys(sub.options).map((o) => `--${o}`);
      throw new UsageError(
        `unknown option ${token.rawName}${known.length ? ` (options: ${known.join(', ')})` : ''}`,
      );
    }
    if (spec.type === 'boolean' && token.value !== undefined) {
      throw new UsageError(`${token.rawName} takes no value`);
    }
    // Lenient parsing would swallow the next flag as the value (`--dir --name x`).
    if (
      spec.type === 'string' &&
      (token.value === undefined || (!token.inlineValue && token.value.startsWith('-')))
    ) {
      throw new UsageError(`${token.rawName} needs a value: ${token.rawName} ${spec.arg ?? 'VALUE'}`);
    }
  }
  if (positionals.length > sub.maxPositionals) {
    throw new UsageError(`unexpected argument '${positionals[sub.maxPositionals]}'`);
  }
  return { values, positionals };
}

function str(values: Values, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

function requireDir(values: Values): string {
  const dir = str(values, 'dir');
  if (!dir) throw new UsageError('missing --dir DIR (the CA folder, created by init-ca)');
  return dir;
}

function int(values: Values, name: string, min = 1): number | undefined {
  const text = str(values, name);
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < min) {
    throw new UsageError(`--${name} must be a whole number of at least ${min}, got '${text}'`);
  }
  return Number(text);
}

function keyType(values: Values): KeyType | undefined {
  const text = str(values, 'key');
  return text === undefined ? undefined : usage(() => parseKeyType(text));
}

/** Runs a parser whose errors are the user's input mistakes. */
function usage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function subjectOf(values: Values): SubjectInput {
  const cn = str(values, 'cn');
  const subject = str(values, 'subject');
  if (cn !== undefined && subject !== undefined) {
    throw new UsageError('give either --cn or --subject, not both');
  }
  if (subject !== undefined) return subject;
  if (cn !== undefined) return { CN: cn };
  throw new UsageError("missing --cn CN (or --subject '/O=.../CN=...')");
}

function profileOf(values: Values): CertificateProfile {
  const chosen = (['server', 'client', 'both'] as const).filter((p) => values[p] === true);
  if (chosen.length > 1) {
    const flags = chosen.map((c) => `--${c}`).join(' ');
    throw new UsageError(`choose one of --server, --client, --both (got ${flags})`);
  }
  return chosen[0] ?? 'server';
}

function listValues(values: Values, name: string): string[] {
  const value = values[name];
  if (!Array.isArray(value)) return [];
  return value
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
}

/** A server certificate's host-name or IP CN is also made an alt name: TLS clients match only those. */
function altNames(values: Values, profile: CertificateProfile, cn: string | undefined): SubjectAltNames {
  const dns = listValues(values, 'dns');
  const ip = listValues(values, 'ip');
  if (profile !== 'client' && cn) {
    if (isIP(cn)) ip.unshift(cn);
    else if (isDnsName(cn)) dns.unshift(cn);
  }
  return { dns, ip, uri: listValues(values, 'uri') };
}

async function readPassphrase(values: Values, option: string): Promise<string | undefined> {
  const file = str(values, option);
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--${option}: cannot read ${file}: ${(err as Error).message}`);
  }
  // The first line, like openssl's `-passin file:`; a trailing newline is not part of it.
  const passphrase = text.split(/\r?\n/, 1)[0] ?? '';
  if (!passphrase) throw new UsageError(`--${option}: the first line of ${file} is empty`);
  return passphrase;
}

function describeFile(file: string, content: Buffer): string {
  const text = content.toString('latin1');
  const blocks = [...text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g)];
  if (blocks.length === 0) {
    try {
      return describeCertificate(new X509Certificate(content));
    } catch {
      throw new Error(`${file} holds no PEM blocks and is not a DER certificate`);
    }
  }
  return blocks
    .map(([pem, label], i) => {
      const heading = blocks.length > 1 ? `[${i + 1}/${blocks.length}] ` : '';
      if (label === 'CERTIFICATE') return heading + describeCertificate(new X509Certificate(pem));
      if (label === 'X509 CRL') return heading + describeCrl(new x509.X509Crl(pem));
      return `${heading}${label} (contents not shown)\n`;
    })
    .join('\n');
}

const PURPOSES: Record<string, string> = {
  [x509.ExtendedKeyUsage.serverAuth]: 'serverAuth',
  [x509.ExtendedKeyUsage.clientAuth]: 'clientAuth',
};

const CURVES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

function describeCertificate(cert: X509Certificate): string {
  const now = Date.now();
  const notBefore = new Date(cert.validFrom);
  const notAfter = new Date(cert.validTo);
  const state =
    now < notBefore.getTime()
      ? 'NOT YET VALID'
      : now > notAfter.getTime()
        ? 'EXPIRED'
        : `valid, ${Math.floor((notAfter.getTime() - now) / 86_400_000)} days left`;
  const key = cert.publicKey;
  const details = key.asymmetricKeyDetails;
  const curve = details?.namedCurve;
  const keyText = `${key.asymmetricKeyType?.toUpperCase()} ${curve ? (CURVES[curve] ?? curve) : `${details?.modulusLength} bits`}`;
  const selfSigned = cert.checkIssued(cert) && cert.verify(key);
  return table(
    [
      ['certificate', ''],
      ['  subject:', oneLine(cert.subject)],
      ['  issuer:', oneLine(cert.issuer) + (selfSigned ? ' (self-signed)' : '')],
      ['  serial:', `${hexToDecimal(cert.serialNumber)} (0x${cert.serialNumber})`],
      ['  not before:', notBefore.toISOString()],
      ['  not after:', `${notAfter.toISOString()} (${state})`],
      ['  CA:', cert.ca ? 'yes' : 'no'],
      ['  key:', keyText],
      ['  purposes:', (cert.keyUsage ?? []).map((oid) => PURPOSES[oid] ?? oid).join(', ') || '(any)'],
      ['  alt names:', cert.subjectAltName ?? '(none)'],
      ['  SHA-256:', cert.fingerprint256],
    ],
    ' ',
  );
}

function describeCrl(crl: x509.X509Crl): string {
  const number = crl.getExtension('2.5.29.20');
  const rows = [
    ['CRL', ''],
    ['  issuer:', crl.issuer],
    ['  this update:', crl.thisUpdate.toISOString()],
    ['  next update:', crl.nextUpdate?.toISOString() ?? '(none)'],
    // The extension value is a DER INTEGER: skip its tag and one-byte length.
    [
      '  CRL number:',
      number ? hexToDecimal(Buffer.from(number.value).subarray(2).toString('hex')) : '(none)',
    ],
    ['  revoked:', String(crl.entries.length)],
    ...crl.entries.map((e) => [
      '',
      `${hexToDecimal(e.serialNumber)} at ${e.revocationDate.toISOString()}` +
        (e.reason === undefined ? '' : ` (${x509.X509CrlReason[e.reason]})`),
    ]),
  ];
  return table(rows, ' ');
}

/** Node prints distinguished names one attribute per line. */
function oneLine(name: string): string {
  return name.split('\n').join(', ');
}

function table(rows: string[][], gap = '  '): string {
  const widths = rows[0]?.map((_, col) => Math.max(...rows.map((r) => (r[col] ?? '').length))) ?? [];
  return (
    rows
      .map((r) =>
        r
          .map((cell, col) => (col === r.length - 1 ? cell : cell.padEnd(widths[col] ?? 0)))
          .join(gap)
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

function overview(): string {
  const width = Math.max(...Object.keys(SUBCOMMANDS).map((n) => n.length));
  return [
    'usage: sipsd cert <subcommand> [options]',
    '',
    'Run a small certificate authority for sipsd TLS (replaces the openssl CA howto).',
    '',
    ...Object.entries(SUBCOMMANDS).map(([n, s]) => `  ${n.padEnd(width)}  ${s.summary}`),
    `  ${'help'.padEnd(width)}  show help for a subcommand: sipsd cert help issue`,
    '',
    'Typical flow:',
    '  sipsd cert init-ca --dir ca --subject "/O=Example/CN=Example CA"',
    '  sipsd cert issue --dir ca --name proxy1 --both --cn proxy1.example.com --ip 192.0.2.10',
    '  sipsd cert revoke --dir ca proxy1 --reason keyCompromise && sipsd cert crl --dir ca',
    '',
  ].join('\n');
}

function subcommandHelp(name: string, sub: Subcommand): string {
  const rows = Object.entries(sub.options).map(([o, spec]) => [
    `  --${o}${spec.arg ? ` ${spec.arg}` : ''}`,
    spec.help,
  ]);
  return [`usage: sipsd cert ${name} ${sub.synopsis}`, '', sub.summary, '', table(rows)].join('\n');
}
