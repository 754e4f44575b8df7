// Accepting a TLS connection: read the ClientHello's SNI from the raw TCP socket, let TLS management
// choose the whole domain for (local socket, SNI), then run the handshake on that domain's acceptor.
import type { Socket } from 'node:net';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import { readClientHello, MAX_CLIENT_HELLO } from '../tls/client-hello.js';
import type { TlsProvider } from '../tls/provider.js';
import type { Endpoint, TlsSessionInfo } from './types.js';

export interface AcceptedTls {
  socket: TLSSocket;
  info: TlsSessionInfo;
}

type Waiter = { done: (s: TLSSocket) => void; fail: (err: Error) => void };

/**
 * Acceptors are shared by all connections of a domain; their events are routed back to the accept
 * in progress by the TCP four-tuple, which is unique while the connection lives.
 */
const waiters = new WeakMap<TlsServer, Map<string, Waiter>>();

function tuple(s: Socket): string {
  return `${s.remoteAddress}|${s.remotePort}|${s.localAddress}|${s.localPort}`;
}

function waitersOf(acceptor: TlsServer): Map<string, Waiter> {
  let map = waiters.get(acceptor);
  if (!map) {
    const m = new Map<string, Waiter>();
    acceptor.on('secureConnection', (s: TLSSocket) => m.get(tuple(s))?.done(s));
    acceptor.on('tlsClientError', (err: Error, s: TLSSocket) => m.get(tuple(s))?.fail(err));
    waiters.set(acceptor, m);
    map = m;
  }
  return map;
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
export async function acceptTls(raw: Socket, local: Endpoint, provider: TlsProvider): Promise<AcceptedTls> {
  const serverName = await peekClientHello(raw);
  const choice = provider.serverFor(local, serverName);
  if (!choice.ok) throw new Error(choice.reason);
  const key = tuple(raw);
  const pending = waitersOf(choice.acceptor);
  const socket = await new Promise<TLSSocket>((resolve, reject) => {
    const onClose = () => settle(() => reject(new Error('peer closed during the TLS handshake')));
    const settle = (fn: () => void) => {
      pending.delete(key);
      raw.off('close', onClose);
      fn();
    };
    pending.set(key, {
      done: (s) => settle(() => resolve(s)),
      fail: (err) => settle(() => reject(new Error(`TLS handshake failed: ${err.message}`))),
    });
    raw.on('close', onClose);
    choice.acceptor.emit('connection', raw);
  });
  const refusal = provider.admit(choice.domain, socket);
  if (refusal) {
    socket.destroy();
    throw new Error(refusal);
  }
  return { socket, info: sessionInfo(socket, choice.domain, serverName) };
}

export function sessionInfo(
  socket: TLSSocket,
  domain: string,
  serverName: string | undefined,
): TlsSessionInfo {
  const presented = Object.keys(socket.getPeerCertificate() ?? {}).length > 0;
  return {
    domain,
    serverName,
    protocol: socket.getProtocol(),
    cipher: socket.getCipher().name,
    peerVerified: presented && socket.authorized,
    verifyError: socket.authorized ? undefined : String(socket.authorizationError ?? 'no peer certificate'),
  };
}
