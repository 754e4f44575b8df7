// TLS session resumption on the server side (Kamailio session_cache / session_id, plus tickets).
// Node turns OpenSSL's internal session cache off and hands session-id resumption to the
// 'newSession'/'resumeSession' events: the cache is ours, bounded in entries and age.
import { createHash } from 'node:crypto';
import type { Server as TlsServer } from 'node:tls';

export interface SessionSettings {
  /** session_cache: resume TLS 1.2 sessions by session id. */
  cache: boolean;
  /** session_id: the session id context; sessions never resume across contexts. */
  idContext: string;
  /** session_tickets: stateless tickets (TLS 1.2) and TLS 1.3 resumption. */
  tickets: boolean;
  /** Seconds a session may be resumed (also the ticket lifetime). */
  lifetimeSeconds: number;
  /** Most sessions kept per domain. */
  maxEntries: number;
}

/**
 * OpenSSL takes at most 32 bytes of context; hashing the operator's string with the domain name
 * keeps any length legal and keeps domains from resuming each other's sessions.
 */
export function sessionIdContext(settings: SessionSettings, domainName: string): string {
  return createHash('sha256').update(`${settings.idContext}\0${domainName}`).digest('hex').slice(0, 32);
}

/** Serves session-id resumption for one acceptor from a bounded map, oldest evicted first. */
export function attachSessionCache(acceptor: TlsServer, settings: SessionSettings): void {
  const sessions = new Map<string, { data: Buffer; expires: number }>();
  acceptor.on('newSession', (id: Buffer, data: Buffer, done: () => void) => {
    if (sessions.size >= settings.maxEntries) sessions.delete(sessions.keys().next().value!);
    sessions.set(id.toString('hex'), { data, expires: Date.now() + settings.lifetimeSeconds * 1000 });
    done();
  });
  acceptor.on('resumeSession', (id: Buffer, done: (err: null, data: Buffer | null) => void) => {
    const key = id.toString('hex');
    const entry = sessions.get(key);
    if (entry && entry.expires < Date.now()) sessions.delete(key);
    done(null, entry && entry.expires >= Date.now() ? entry.data : null);
  });
}
