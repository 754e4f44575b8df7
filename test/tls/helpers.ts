// Shared setup for the TLS domain tests: a certificate matrix written to a temp folder, domains
// built from operator-style settings, and real handshakes over 127.0.0.1 run the way the transport
// runs them (raw TCP accepted, then handed to the domain's acceptor).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls, { type TLSSocket } from 'node:tls';
import { after } from 'node:test';
import {
  createCertificateAuthority,
  createCrl,
  createSelfSignedCertificate,
  issueCertificate,
  type IssuedCertificate,
} from '../../src/pki/index.js';
import { buildDomain, type BuildOptions, type BuiltDomain } from '../../src/tls/context.js';
import { normalizeDomain, type TlsDomain, type TlsDomainInput } from '../../src/tls/domain.js';
import type { Inspection } from '../../src/tls/provider.js';

const DAY = 86_400_000;

/** A fresh temp folder, removed when the calling test file finishes. */
export function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sipsd-tls-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes `text` under `dir` and returns its path. */
export function write(dir: string, name: string, text: string | Buffer): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

/**
 * Root → issuing CA → leaves, plus the odd ones: an unrelated CA, a revoked issuing CA, an
 * impostor CA with the issuing CA's name but another key, a self-signed leaf.
 */
export async function makePki() {
  const root = await createCertificateAuthority({ subject: '/O=sipsd test/CN=Test Root' });
  const issuing = await createCertificateAuthority({
    subject: '/O=sipsd test/CN=Test Issuing CA',
    issuer: root,
  });
  const badIssuing = await createCertificateAuthority({
    subject: '/O=sipsd test/CN=Revoked Issuing CA',
    issuer: root,
  });
  const other = await createCertificateAuthority({ subject: '/O=elsewhere/CN=Other Root' });
  const impostor = await createCertificateAuthority({ subject: '/O=sipsd test/CN=Test Issuing CA' });
  const client = (ca: typeof root, cn: string, extra: { notBefore?: Date; notAfter?: Date } = {}) =>
    issueCertificate({ ca, profile: 'client', subject: `CN=${cn}`, ...extra });
  const clients = {
    valid: await client(issuing, 'valid'),
    fromRoot: await client(root, 'from root'),
    wrongCa: await client(other, 'wrong ca'),
    expired: await client(issuing, 'expired', {
      notBefore: new Date(Date.now() - 30 * DAY),
      notAfter: new Date(Date.now() - DAY),
    }),
    revoked: await client(issuing, 'revoked'),
    underRevokedCa: await client(badIssuing, 'under revoked ca'),
    selfSigned: await createSelfSignedCertificate({ profile: 'client', subject: 'CN=self' }),
  };
  const server = await issueCertificate({
    ca: root,
    profile: 'both',
    subject: 'CN=sip.example.com',
    subjectAltNames: { dns: ['sip.example.com'], uri: ['sip:example.com'], ip: ['127.0.0.1'] },
  });
  const revoke = (c: IssuedCertificate) => ({ serialNumber: c.serialNumber, revocationDate: new Date() });
  const crls = {
    root: await createCrl({ ca: root, revoked: [revoke(badIssuing)] }),
    issuing: await createCrl({ ca: issuing, revoked: [revoke(clients.revoked)] }),
    badIssuing: await createCrl({ ca: badIssuing }),
    staleIssuing: await createCrl({
      ca: issuing,
      revoked: [revoke(clients.revoked)],
      thisUpdate: new Date(Date.now() - 10 * DAY),
      nextUpdate: new Date(Date.now() - DAY),
    }),
    impostor: await createCrl({ ca: impostor }),
  };
  return { root, issuing, badIssuing, other, impostor, clients, server, crls };
}
export type Pki = Awaited<ReturnType<typeof makePki>>;

/** The matrix on disk: server identity, CA files and a crl_dir holding every genuine CRL. */
export function writePki(pki: Pki, dir: string) {
  const crlDir = path.join(dir, 'crls');
  mkdirSync(crlDir, { recursive: true });
  write(crlDir, 'root.crl.pem', pki.crls.root);
  write(crlDir, 'issuing.crl.pem', pki.crls.issuing);
  write(crlDir, 'bad-issuing.crl.pem', pki.crls.badIssuing);
  return {
    serverCert: write(dir, 'server.pem', pki.server.chainPem),
    serverKey: write(dir, 'server.key', pki.server.privateKeyPem),
    root: write(dir, 'root.pem', pki.root.certificatePem),
    other: write(dir, 'other.pem', pki.other.certificatePem),
    crlDir,
  };
}

/**
 * A domain from the keys operators write, with the defaults applied by the real normalizer. The
 * host's default ca_dir (/etc/pki/CA/) is left out unless the test sets ca_dir.
 */
export function domainOf(input: TlsDomainInput, dir = os.tmpdir()): TlsDomain {
  const domain = normalizeDomain(input, {
    source: { kind: 'config' },
    baseDir: dir,
    verifyServerNameDefault: true,
  });
  if (Array.isArray(domain)) throw new Error(JSON.stringify(domain));
  return input.ca_dir === undefined ? { ...domain, caDir: undefined } : domain;
}

export function build(input: TlsDomainInput, dir?: string, options?: BuildOptions): Promise<BuiltDomain> {
  return buildDomain(domainOf(input, dir), options);
}

/** Client options presenting `cert` (its chain) and its key. */
export function presenting(cert: IssuedCertificate): tls.ConnectionOptions {
  return { cert: cert.chainPem, key: cert.privateKeyPem };
}

async function listening(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => server.close());
  return (server.address() as AddressInfo).port;
}

export interface Accepted {
  /** The server domain's inspection, when the handshake completed. */
  inspection?: Inspection;
  protocol?: string | null;
  cipher?: string;
  resumed?: boolean;
  /** The handshake failed on the server side (tlsClientError). */
  error?: string;
}

/**
 * One connection from a client with `client` options to the server domain `built`. The client
 * stays connected until the server has judged it and hung up: with TLS 1.3 the client certificate
 * arrives after the client already considers the handshake done. `onClient` sees the client's
 * socket once it is secure (client domains inspect the server there). `session` is the last
 * session ticket received, to resume with.
 */
export async function accept<T>(
  built: BuiltDomain,
  client: tls.ConnectionOptions,
  onClient?: (socket: TLSSocket) => T,
): Promise<{ server: Accepted; client: T | undefined; session: Buffer | undefined }> {
  const acceptor = built.acceptor;
  if (!acceptor) throw new Error('not a server domain');
  const port = await listening(net.createServer((raw) => acceptor.emit('connection', raw)));
  let onSecure!: (s: TLSSocket) => void;
  let onError!: (err: NodeJS.ErrnoException) => void;
  const server = new Promise<Accepted>((resolve) => {
    onSecure = (s) => {
      resolve({
        inspection: built.inspect(s),
        protocol: s.getProtocol(),
        cipher: s.getCipher().name,
        resumed: s.isSessionReused(),
      });
      // A CRLF keepalive: with a client certificate requested, OpenSSL sends TLS 1.3 session
      // tickets only along with data.
      s.end('\r\n');
    };
    onError = (err) => resolve({ error: err.code ?? err.message });
    acceptor.on('secureConnection', onSecure).on('tlsClientError', onError);
  });
  const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...client });
  const clientSide = new Promise<T | undefined>((resolve) => {
    socket.on('secureConnect', () => resolve(onClient?.(socket)));
    socket.on('error', () => resolve(undefined));
  });
  let session: Buffer | undefined;
  socket.on('session', (ticket: Buffer) => (session = ticket));
  // Read (and drop) what the server sends, so its hang-up is seen.
  socket.resume();
  const closed = new Promise<void>((resolve) => socket.on('close', resolve));
  try {
    const result = { server: await server, client: await clientSide };
    await closed;
    return { ...result, session };
  } finally {
    socket.destroy();
    acceptor.off('secureConnection', onSecure).off('tlsClientError', onError);
  }
}

/** A client domain connecting to a plain Node TLS server; inspects the server as the connector would. */
export async function connect(
  built: BuiltDomain,
  serverOptions: tls.TlsOptions,
  { servername, expectedHost }: { servername?: string; expectedHost?: string } = {},
): Promise<Inspection | { error: string }> {
  if (!built.clientOptions) throw new Error('not a client domain');
  const server = tls.createServer(serverOptions, (s) => s.on('error', () => undefined));
  const port = await listening(server);
  const socket = tls.connect({
    ...built.clientOptions,
    host: '127.0.0.1',
    port,
    ...(servername && { servername }),
  });
  try {
    return await new Promise((resolve) => {
      socket.on('secureConnect', () => resolve(built.inspect(socket, expectedHost)));
      socket.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    });
  } finally {
    socket.destroy();
  }
}

/** Options for a plain test server presenting the matrix's server certificate. */
export function serverOptions(pki: Pki): tls.TlsOptions {
  return { cert: pki.server.chainPem, key: pki.server.privateKeyPem };
}
