// What a failed TLS connection says about its handshake, for the metrics, from the stage the
// transport reports it failed at (src/transport/connection-error.ts).
import type { ConnectionFailure } from '../transport/events.js';

export type HandshakeResult = 'success' | 'refused' | 'failed' | 'no_domain';

export interface FailureOutcome {
  /** Undefined when no handshake was attempted (an outbound TCP connect failed first). */
  result: Exclude<HandshakeResult, 'success'> | undefined;
  /** Refused for the peer's certificate: the OpenSSL-style code (CERT_HAS_EXPIRED, ...). */
  verificationCode: string | undefined;
}

export function classifyFailure(f: ConnectionFailure): FailureOutcome {
  switch (f.stage) {
    case 'connect':
      return { result: undefined, verificationCode: undefined };
    case 'domain':
      return { result: 'no_domain', verificationCode: undefined };
    case 'verification':
      // A refused peer either failed verification (its code) or sent no certificate at all.
      return {
        result: 'refused',
        verificationCode: f.peer?.presented === false ? 'NO_PEER_CERTIFICATE' : (f.peer?.code ?? 'UNKNOWN'),
      };
    default:
      return { result: 'failed', verificationCode: undefined };
  }
}
