// Our own TLS client for the benchmarks that need what no stock tool does: full TLS 1.3 handshakes
// with a chosen SNI per connection (openssl s_time sends none), and the check that the server
// answered with the certificate of the domain that SNI selects. Every connection is a full
// handshake: no session is ever offered for resumption.
import { connect, type TLSSocket } from 'node:tls';

export interface TlsConnectOptions {
  port: number;
  /** The SNI to send; none when undefined. */
  servername?: string;
  /** Gives up (and destroys the socket) when the handshake is not done by then. */
  timeoutMs: number;
}

/** One TLS 1.3 connection to 127.0.0.1, without a client certificate, resolved once secure. */
export function connectTls(o: TlsConnectOptions): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port: o.port,
      ...(o.servername !== undefined && { servername: o.servername }),
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      // The benchmarks measure servers, not chain checks; the certificate is compared by fingerprint.
      rejectUnauthorized: false,
    });
    const timer = setTimeout(
      () => socket.destroy(new Error(`handshake not done in ${o.timeoutMs} ms`)),
      o.timeoutMs,
    );
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    });
    const onError = (err: Error) => {
      clearTimeout(timer);
      reject(err);
    };
    socket.once('error', onError);
  });
}

/** Ends a connection politely (close_notify, FIN) so the server logs no reset; bounded in time. */
export function closeTls(socket: TLSSocket, timeoutMs = 2000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.on('error', () => undefined); // a reset while closing changes nothing
    socket.end();
  });
}

export interface HandshakeOptions {
  port: number;
  /** SNI of each handshake, picked at random among these; without names no SNI is sent. */
  names?: readonly string[];
  /** Most handshakes, and most milliseconds, the run may take: whichever comes first ends it. */
  count: number;
  timeLimitMs: number;
  /** Handshakes in flight at once. */
  concurrency: number;
  /**
   * SHA-256 fingerprint (X509Certificate.fingerprint256) the server's certificate must have, or
   * the one for each SNI name when every domain has a certificate of its own.
   */
  expectFingerprint?: string | ((servername: string | undefined) => string | undefined);
  /** Ends the run early (the reload benchmark stops its background traffic with it). */
  signal?: AbortSignal;
  /** Per handshake; a slower one counts as failed. */
  handshakeTimeoutMs?: number;
}

export interface HandshakeResult {
  ok: number;
  failed: number;
  /** Handshakes that completed with another certificate than expected (a wrong domain served). */
  wrongCertificate: number;
  wallSeconds: number;
  /** Longest successful handshake. */
  maxLatencyMs: number;
  /** The first few distinct failure reasons. */
  errors: string[];
}

/** Runs full handshakes back to back over `concurrency` lanes until the count or time is spent. */
export async function runHandshakes(o: HandshakeOptions): Promise<HandshakeResult> {
  const result: HandshakeResult = {
    ok: 0,
    failed: 0,
    wrongCertificate: 0,
    wallSeconds: 0,
    maxLatencyMs: 0,
    errors: [],
  };
  const started = performance.now();
  const deadline = started + o.timeLimitMs;
  let issued = 0;
  const more = () => issued < o.count && performance.now() < deadline && !o.signal?.aborted;
  const lane = async () => {
    while (more()) {
      issued++;
      const names = o.names ?? [];
      const servername = names.length > 0 ? names[Math.floor(Math.random() * names.length)] : undefined;
      const t0 = performance.now();
      let socket: TLSSocket;
      try {
        socket = await connectTls({ port: o.port, servername, timeoutMs: o.handshakeTimeoutMs ?? 5000 });
      } catch (err) {
        result.failed++;
        const reason = (err as Error).message;
        if (result.errors.length < 5 && !result.errors.includes(reason)) result.errors.push(reason);
        continue;
      }
      result.maxLatencyMs = Math.max(result.maxLatencyMs, performance.now() - t0);
      const expected =
        typeof o.expectFingerprint === 'function' ? o.expectFingerprint(servername) : o.expectFingerprint;
      if (expected && socket.getPeerX509Certificate()?.fingerprint256 !== expected) {
        result.wrongCertificate++;
      } else result.ok++;
      await closeTls(socket);
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, lane));
  result.wallSeconds = (performance.now() - started) / 1000;
  return result;
}
