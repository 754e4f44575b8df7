// The JSON payload of a connection event, keyed like OpenSIPS proto_tls's trace messages (Protocol,
// Event, Status, Message, client-/server-subject and -issuer, master-key), plus what Node can tell and
// OpenSIPS does not send: TLS version, cipher, domain, SNI and the whole NSS key log.
import type { X509Certificate } from 'node:crypto';
import type { ConnectionView } from '../transport/events.js';

export type TraceEvent = 'ACCEPTED' | 'CONNECTED' | 'CLOSED';
export type TraceStatus = 'SUCCESS' | 'FAILURE';

export type EventPayload = Record<string, string>;

/** The event a connection's opening is: ACCEPTED when a peer came to us, CONNECTED when we went out. */
export const openingEvent = (direction: 'in' | 'out'): TraceEvent =>
  direction === 'in' ? 'ACCEPTED' : 'CONNECTED';

export function eventPayload(
  proto: 'tcp' | 'tls',
  event: TraceEvent,
  status: TraceStatus,
  message: string,
): EventPayload {
  return { Protocol: proto.toUpperCase(), Event: event, Status: status, Message: message };
}

/**
 * The TLS facts of an established connection. `client-*` and `server-*` name the TLS roles: on an
 * accepted connection the client is the peer, on one sipsd opened the client is sipsd itself (OpenSIPS
 * puts the peer under client-* either way).
 */
export function tlsFields(conn: ConnectionView): EventPayload {
  const tls = conn.tls;
  if (!tls) return {};
  const [client, server] =
    conn.direction === 'in'
      ? [tls.peerCertificate, tls.localCertificate]
      : [tls.localCertificate, tls.peerCertificate];
  const fields: EventPayload = {
    ...certificateFields('client', client),
    ...certificateFields('server', server),
    'tls-version': tls.protocol ?? 'unknown',
    cipher: tls.cipher,
    'tls-domain': tls.domain,
  };
  if (tls.serverName !== undefined) fields['server-name'] = tls.serverName;
  const masterKey = masterKeyOf(conn.keyLog);
  if (masterKey) fields['master-key'] = masterKey;
  if (conn.keyLog.length > 0) fields['key-log'] = conn.keyLog.join('\n');
  return fields;
}

function certificateFields(role: 'client' | 'server', cert: X509Certificate | undefined): EventPayload {
  if (!cert) return {};
  return { [`${role}-subject`]: oneline(cert.subject), [`${role}-issuer`]: oneline(cert.issuer) };
}

/** OpenSSL's X509_NAME_oneline form, `/C=SE/O=Example/CN=host`, which OpenSIPS sends. */
export function oneline(name: string): string {
  return name
    .split('\n')
    .filter((rdn) => rdn !== '')
    .map((rdn) => `/${rdn}`)
    .join('');
}

/** TLS 1.2 and older have one master secret (the key log's CLIENT_RANDOM line); TLS 1.3 has none. */
function masterKeyOf(keyLog: readonly string[]): string | undefined {
  const line = keyLog.find((l) => l.startsWith('CLIENT_RANDOM '));
  return line?.split(' ')[2];
}
