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
  /** NSS key-log lines of the session (only when asked for). */
  keyLog: string[] | undefined;
}

type Waiter = { done: (s: TLSSocket) => void; fail: (err: Error) => void; keyLog?: string[] };

/** Per acceptor (one per domain context): accepts in progress, and what all its sessions share. */
interface Acceptor {
  /** By the accepted TCP socket the TLS socket is made on. */
  pending: Map<Socket, Waiter>;
  /** Accepts in progress that want the key log. */
  keyLogWanted: number;
  onKeyLog: (line: Buffer, s: TLSSocket) => void;
  /** The certificate every session of this context presents, parsed once. */
  localCertificate?: X509Certificate;
}

/**
 * Acceptors are shared by all connections of a domain; their events are routed back to the accept
 * in progress by the TCP socket under the TLS socket (Node's `_parent`), or, should a Node version
 * not have it, by the TCP four-tuple, which is unique while the connection lives. The socket itself
 * costs nothing: asking a socket for its addresses makes it keep two objects and their strings for
 * its whole life, and thousands of idle connections pay that.
 */
const acceptors = new WeakMap<TlsServer, Acceptor>();

function tuple(s: Socket): string {
  return `${s.remoteAddress}|${s.remotePort}|${s.localAddress}|${s.localPort}`;
}

function waiterFor(pending: Map<Socket, Waiter>, s: TLSSocket): Waiter | undefined {
  const parent = (s as { _parent?: unknown })._parent;
  if (parent !== undefined && parent !== null) return pending.get(parent as Socket);
  const key = tuple(s);
  for (const [raw, waiter] of pending) if (tuple(raw) === key) return waiter;
  return undefined;
}

function acceptorState(acceptor: TlsServer): Acceptor {
  let state = acceptors.get(acceptor);
  if (!state) {
    const pending = new Map<Socket, Waiter>();
    acceptor.on('secureConnection', (s: TLSSocket) => waiterFor(pending, s)?.done(s));
    acceptor.on('tlsClientError', (err: Error, s: TLSSocket) => waiterFor(pending, s)?.fail(err));
    state = {
      pending,
      keyLogWanted: 0,
      onKeyLog: (line, s) => waiterFor(pending, s)?.keyLog?.push(line.toString('latin1').trimEnd()),
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
  try {
    return await handshake(raw, choice, serverName, options.keyLog ? [] : undefined, options.replying);
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
  const state = acceptorState(choice.acceptor);
  if (keyLog) wantKeyLog(choice.acceptor, state, 1);
  const socket = await new Promise<TLSSocket>((resolve, reject) => {
    const onClose = () => settle(() => reject(new Error('peer closed during the TLS handshake')));
    const settle = (fn: () => void) => {
      state.pending.delete(raw);
      if (keyLog) wantKeyLog(choice.acceptor, state, -1);
      raw.off('close', onClose);
      fn();
    };
    state.pending.set(raw, {
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
    keyLog,
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
    protocol: interned(socket.getProtocol()),
    cipher: interned(cipher.name),
    cipherBits: cipherBits(cipher.standardName ?? cipher.name),
    peer,
    peerCertificate: certificate,
    localCertificate,
  };
}

/**
 * Node makes new strings for the protocol and cipher names of every session; the few distinct ones
 * are kept once instead of once per connection.
 */
const names = new Map<string, string>();

function interned<T extends string | null>(name: T): T {
  if (name === null) return name;
  const known = names.get(name);
  if (known !== undefined) return known as T;
  if (names.size < 256) names.set(name, name);
  return name;
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
