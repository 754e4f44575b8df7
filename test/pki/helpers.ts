// Shared test plumbing for the PKI tests: temp folders, openssl, and real TLS handshakes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo, Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { after } from 'node:test';

/** A fresh temp folder, removed when the calling test file finishes. */
export function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sipsd-pki-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes `files` (name → contents) into `dir` and returns their paths under the same names. */
export function writeFiles<T extends Record<string, string>>(
  dir: string,
  files: T,
): { [K in keyof T]: string } {
  const paths = {} as { [K in keyof T]: string };
  for (const [name, data] of Object.entries(files) as [keyof T & string, string][]) {
    paths[name] = path.join(dir, name);
    writeFileSync(paths[name], data);
  }
  return paths;
}

export const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

export function openssl(...args: string[]): { ok: boolean; output: string } {
  const run = spawnSync('openssl', args, { encoding: 'utf8' });
  return { ok: run.status === 0, output: run.stdout + run.stderr };
}

export interface Side {
  authorized: boolean;
  /** authorizationError, or the code of the error that ended the handshake. */
  error?: string;
  peerCN?: string;
}

/**
 * One TLS handshake over 127.0.0.1, reporting what each side concluded. The client stays
 * connected until the server has judged it, since with TLS 1.3 the server checks the client
 * certificate after the client already considers the handshake done.
 */
export async function handshake(
  serverOptions: tls.TlsOptions,
  clientOptions: tls.ConnectionOptions,
): Promise<{ server: Side; client: Side }> {
  const server = tls.createServer(serverOptions);
  const serverSide = new Promise<Side>((resolve) => {
    server.on('secureConnection', (socket) => {
      const peer = socket.getPeerCertificate();
      resolve({
        authorized: socket.authorized,
        error: socket.authorizationError?.toString(),
        peerCN: typeof peer.subject?.CN === 'string' ? peer.subject.CN : undefined,
      });
      socket.end();
    });
    server.on('tlsClientError', (err: NodeJS.ErrnoException) =>
      resolve({ authorized: false, error: err.code }),
    );
    // A server with rejectUnauthorized may just drop the connection; then there is no other verdict.
    server.on('connection', (raw: Socket) =>
      raw.on('close', () => resolve({ authorized: false, error: 'closed' })),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    const client = await new Promise<Side>((resolve) => {
      const socket = tls.connect({ host: '127.0.0.1', port, ...clientOptions });
      socket.on('secureConnect', () => {
        const side = { authorized: socket.authorized, error: socket.authorizationError?.toString() };
        void serverSide.then(() => {
          socket.destroy();
          resolve(side);
        });
      });
      socket.on('error', (err: NodeJS.ErrnoException) => {
        socket.destroy();
        resolve({ authorized: false, error: err.code });
      });
    });
    return { server: await serverSide, client };
  } finally {
    server.close();
  }
}
