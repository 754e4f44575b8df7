// Opening outbound TCP/TLS connections: TCP connect with its own deadline, then (TLS) the handshake
// with the client domain chosen for the destination, under tls_handshake_timeout.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { ClientChoice } from '../tls/provider.js';
import { sessionInfo } from './tls-accept.js';
import { ConnectionError } from './connection-error.js';
import type { Endpoint, TlsSessionInfo } from './types.js';

export interface Connected {
  socket: Socket;
  local: Endpoint;
  tls?: TlsSessionInfo;
}

function withDeadline<T>(ms: number, what: string, socket: Socket, run: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`${what} did not complete within ${ms} ms`));
    }, ms);
  });
  return Promise.race([run, deadline]).finally(() => clearTimeout(timer));
}

function once<T>(socket: Socket, event: string, value: () => T): Promise<T> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => settle(() => reject(err));
    const onClose = () => settle(() => reject(new Error('connection closed')));
    const onEvent = () => settle(() => resolve(value()));
    const settle = (fn: () => void) => {
      socket.off('error', onError);
      socket.off('close', onClose);
      socket.off(event, onEvent);
      fn();
    };
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.on(event, onEvent);
  });
}

export async function openTcp(
  remote: Endpoint,
  localAddress: string | undefined,
  connectTimeoutMs: number,
): Promise<Connected> {
  const socket = netConnect({ host: remote.address, port: remote.port, localAddress });
  try {
    await withDeadline(
      connectTimeoutMs,
      `TCP connect to ${remote.address}:${remote.port}`,
      socket,
      once(socket, 'connect', () => undefined),
    );
  } catch (err) {
    throw new ConnectionError((err as Error).message, 'connect');
  }
  return { socket, local: { address: socket.localAddress ?? '', port: socket.localPort ?? 0 } };
}

export interface TlsConnectOptions {
  connectTimeoutMs: number;
  handshakeTimeoutMs: number;
  /** Receives the session's NSS key-log lines when given. */
  keyLog?: string[];
}

export async function openTls(
  remote: Endpoint,
  localAddress: string | undefined,
  choice: Extract<ClientChoice, { ok: true }>,
  { connectTimeoutMs, handshakeTimeoutMs, keyLog }: TlsConnectOptions,
): Promise<Connected> {
  const what = `TLS to ${remote.address}:${remote.port} (client domain "${choice.domain}")`;
  const tcp = await openTcp(remote, localAddress, connectTimeoutMs);
  const socket: TLSSocket = tlsConnect({ ...choice.options, socket: tcp.socket, host: remote.address });
  if (keyLog) socket.on('keylog', (line: Buffer) => keyLog.push(line.toString('latin1').trimEnd()));
  try {
    await withDeadline(
      handshakeTimeoutMs,
      `TLS handshake with ${remote.address}:${remote.port}`,
      socket,
      once(socket, 'secureConnect', () => undefined),
    );
  } catch (err) {
    socket.destroy();
    tcp.socket.destroy();
    throw new ConnectionError(`${what}: ${(err as Error).message}`, 'handshake', choice.domain);
  }
  const inspection = choice.inspect(socket);
  const { refusal } = inspection;
  if (refusal) {
    socket.destroy();
    throw new ConnectionError(`${what}: ${refusal}`, 'verification', choice.domain, inspection.peer);
  }
  return {
    socket,
    local: tcp.local,
    tls: sessionInfo(
      socket,
      choice.domain,
      choice.options.servername,
      inspection,
      socket.getX509Certificate(),
    ),
  };
}
