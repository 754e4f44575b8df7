// Accepting a TLS connection: read the ClientHello's SNI from the raw TCP socket, let TLS management
// choose the whole domain for (local socket, SNI), then run the handshake on that domain's acceptor.
import type { X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import { readClientHello, MAX_CLIENT_HELLO } from '../tls/client-hello.js';
import type { Inspection, ServerChoice, TlsProvider } from '../tls/provider.js';
import { ConnectionError } from './connection-error.js';
import type { Endpoint, TlsSessionInfo } from './types.js';

export interface AcceptedTls {
  socket: TLSSocket;
  info: TlsSessionInfo;
  /** NSS key-log lines of the session (empty unless asked for). */
  keyLog: string[];
}

type Waiter = { done: (s: TLSSocket) => void; fail: (err: Error) => void; keyLog?: string[] };

/** Per acceptor (one per domain context): accepts in progress, and what all its sessions share. */
interface Acceptor {
  pending: Map<string, Waiter>;
  /** Accepts in progress that want the key log. */
  keyLogWanted: number;
  onKeyLog: (line: Buffer, s: TLSSocket) => void;
  /** The certificate every session of this context presents, parsed once. */
  localCertificate?: X509Certificate;
}

/**
 * Acceptors are shared by all connections of a domain; their events are routed back to the accept
 * in progress by the TCP four-tuple, which is unique while the connection lives.
 */
const acceptors = new WeakMap<TlsServer, Acceptor>();

function tuple(s: Socket): string {
  return `${s.remoteAddress}|${s.remotePort}|${s.localAddress}|${s.localPort}`;
}

function acceptorState(acceptor: TlsServer): Acceptor {
  let state = acceptors.get(acceptor);
  if (!state) {
    const pending = new Map<string, Waiter>();
    acceptor.on('secureConnection', (s: TLSSocket) => pending.get(tuple(s))?.done(s));
    acceptor.on('tlsClientError', (err: Error, s: TLSSocket) => pending.get(tuple(s))?.fail(err));
    state = {
      pending,
      keyLogWanted: 0,
      onKeyLog: (line, s) => pending.get(tuple(s))?.keyLog?.push(line.toString('latin1').trimEnd()),
    };
    acceptors.set(acceptor, state);
  }
  return state;
}

/**
 * Node asks OpenSSL for key-log lines on every session of a server that has a 'keylog' listener,
 * which costs on each handshake: the listener is there only while an accept wants the log.
 */
function wantKeyLog(acceptor: TlsServer, state: Acceptor, delta: 1 | -1): void {
  state.keyLogWanted += delta;
  if (delta === 1 && state.keyLogWanted === 1) acceptor.on('keylog', state.onKeyLog);
  if (delta === -1 && state.keyLogWanted === 0) acceptor.off('keylog', state.onKeyLog);
}

/** Reads until the ClientHello is complete (bounded in size), without consuming it. */
function peekClientHello(raw: Socket): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const r = readClientHello(buf);
      if (r.status === 'need-more' && buf.length <= MAX_CLIENT_HELLO + 1024) return;
      cleanup();
      // Hand the bytes back so the TLS socket reads the ClientHello as if untouched.
      raw.pause();
      raw.unshift(buf);
      if (r.status === 'ok') resolve(r.serverName);
      else
        reject(
          new Error(r.status === 'not-tls' ? `not a TLS ClientHello: ${r.reason}` : 'ClientHello too large'),
        );
    };
    const onEnd = () => {
      cleanup();
      reject(new Error('peer closed before sending a ClientHello'));
    };
    const cleanup = () => {
      raw.off('data', onData);
      raw.off('end', onEnd);
      raw.off('close', onEnd);
    };
    raw.on('data', onData);
    raw.on('end', onEnd);
    raw.on('close', onEnd);
  });
}

/**
 * Runs the whole server side; rejects (and the caller destroys the socket) on timeout, a malformed
 * ClientHello, no matching domain, a failed handshake or a peer refused by the domain's policy.
 */
export async function acceptTls(
  raw: Socket,
  local: Endpoint,
  provider: TlsProvider,
  options: {
    keyLog: boolean;
    /** Called as the ClientHello is handed to OpenSSL, which answers it at once. */
    replying?: () => void;
  },
): Promise<AcceptedTls> {
  const serverName = await peekClientHello(raw);
  const choice = await provider.serverFor(local, serverName);
  if (!choice.ok) {
    if (choice.alert !== undefined) sendAlert(raw, choice.alert);
    throw new ConnectionError(choice.reason, 'domain');
  }
  const keyLog: string[] = [];
  try {
    return await handshake(raw, choice, serverName, options.keyLog ? keyLog : undefined, options.replying);
  } catch (err) {
    if (err instanceof ConnectionError) throw err;
    throw new ConnectionError((err as Error).message, 'handshake', choice.domain);
  }
}

async function handshake(
  raw: Socket,
  choice: Extract<ServerChoice, { ok: true }>,
  serverName: string | undefined,
  keyLog: string[] | undefined,
  replying: (() => void) | undefined,
): Promise<AcceptedTls> {
  const key = tuple(raw);
  const state = acceptorState(choice.acceptor);
  if (keyLog) wantKeyLog(choice.acceptor, state, 1);
  const socket = await new Promise<TLSSocket>((resolve, reject) => {
    const onClose = () => settle(() => reject(new Error('peer closed during the TLS handshake')));
    const settle = (fn: () => void) => {
      state.pending.delete(key);
      if (keyLog) wantKeyLog(choice.acceptor, state, -1);
      raw.off('close', onClose);
      fn();
    };
    state.pending.set(key, {
      done: (s) => settle(() => resolve(s)),
      fail: (err) => settle(() => reject(new Error(`TLS handshake failed: ${err.message}`))),
      keyLog,
    });
    raw.on('close', onClose);
    choice.acceptor.emit('connection', raw);
    replying?.();
  });
  const inspection = choice.inspect(socket);
  const { refusal } = inspection;
  if (refusal) {
    socket.destroy();
    throw new ConnectionError(refusal, 'verification', choice.domain, inspection.peer);
  }
  // Parsing our own certificate for every session cost a sixth of a handshake's CPU.
  state.localCertificate ??= socket.getX509Certificate();
  return {
    socket,
    info: sessionInfo(socket, choice.domain, serverName, inspection, state.localCertificate),
    keyLog: keyLog ?? [],
  };
}

/**
 * A fatal TLS alert written as a plaintext record, as OpenSSL does before a handshake exists: the
 * client learns why (e.g. unrecognized_name) instead of seeing a bare reset.
 */
function sendAlert(raw: Socket, description: number): void {
  raw.end(Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, description]));
}

/** Everything the script and the management interface read about a TLS connection, taken once. */
export function sessionInfo(
  socket: TLSSocket,
  domain: string,
  serverName: string | undefined,
  { peer, certificate }: Inspection,
  localCertificate: X509Certificate | undefined,
): TlsSessionInfo {
  const cipher = socket.getCipher();
  return {
    domain,
    serverName,
    protocol: socket.getProtocol(),
    cipher: cipher.name,
    cipherBits: cipherBits(cipher.standardName ?? cipher.name),
    peer,
    peerCertificate: certificate,
    localCertificate,
  };
}

/** Secret key bits from the cipher name (Node does not expose OpenSSL's bit count). */
function cipherBits(name: string): number {
  const n = name.toUpperCase();
  if (n.includes('CHACHA20')) return 256;
  const m = /AES[_-]?(128|256)|CAMELLIA[_-]?(128|256)|ARIA[_-]?(128|256)/.exec(n);
  if (m) return Number(m[1] ?? m[2] ?? m[3]);
  if (n.includes('3DES') || n.includes('DES-CBC3')) return 112;
  return 0;
}
