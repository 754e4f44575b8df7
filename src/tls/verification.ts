// Classifying the peer's certificate after a handshake, and judging it under a domain's policy.
// OpenSSL's verdict (socket.authorized / authorizationError) is the base; on top come what OpenSSL
// is not asked to do here: the leaf-only CRL check, the verify_depth limit and, for client
// domains, the SIP identity of the server (RFC 5922). The flags OpenSIPS exposes ($tls_peer_expired,
// $tls_peer_selfsigned...) are read from the certificate itself, whatever the verdict.
import { X509Certificate } from 'node:crypto';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import type { PeerVerification } from '../transport/types.js';
import type { CrlIndex, LeafCrlStatus } from './crl-check.js';
import { DEFAULT_VERIFY_DEPTH, type VerifyPolicy } from './domain.js';
import { matchesSipIdentity } from './server-identity.js';

export interface VerificationRules {
  /** OpenSSL's verify depth: the most intermediate CAs allowed between the peer and a trust anchor. */
  verifyDepth: number;
  /** CRLs checked here against the peer's certificate only (crl_check_all off); none: no check. */
  leafCrls: CrlIndex | undefined;
  /** Trusted CA certificates by subject (Node's form), to find the issuer that signs the leaf's CRL. */
  caBySubject: ReadonlyMap<string, readonly X509Certificate[]>;
  /** CRLs are in OpenSSL (crl_check_all): a CERT_REVOKED may concern any certificate of the chain. */
  chainCrls: boolean;
}

/** Reasons read "<client|server> certificate ..." once the refusal names the side. */
const REASONS: Record<string, string> = {
  UNABLE_TO_GET_ISSUER_CERT: 'certificate is not signed by a trusted CA (issuer unknown)',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'certificate is not signed by a trusted CA (issuer unknown)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'certificate is not signed by a trusted CA',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'certificate is self-signed and not trusted',
  SELF_SIGNED_CERT_IN_CHAIN: 'certificate chains to a self-signed root that is not trusted',
  CERT_SIGNATURE_FAILURE: 'certificate signature does not verify',
  CERT_HAS_EXPIRED: 'certificate has expired',
  CERT_NOT_YET_VALID: 'certificate is not yet valid',
  CERT_REVOKED: 'certificate is revoked',
  CERT_UNTRUSTED: 'certificate is not trusted for this purpose',
  CERT_REJECTED: 'certificate is rejected for this purpose',
  INVALID_PURPOSE: 'certificate is not meant for this use (extended key usage)',
  INVALID_CA: 'certificate chain contains a certificate that is not a CA',
  PATH_LENGTH_EXCEEDED: "certificate chain exceeds a CA's path length constraint",
  CERT_CHAIN_TOO_LONG: 'certificate chain is longer than verify_depth allows',
  UNABLE_TO_GET_CRL: 'certificate revocation status is unknown: no CRL from its issuer',
  UNABLE_TO_GET_CRL_ISSUER: 'certificate revocation status is unknown: the CRL issuer is unknown',
  CRL_HAS_EXPIRED: 'certificate revocation status is unknown: the CRL is past its nextUpdate',
  CRL_NOT_YET_VALID: 'certificate revocation status is unknown: the CRL is not yet valid',
  CRL_SIGNATURE_FAILURE: "certificate revocation status is unknown: the CRL's signature does not verify",
};

/** Shared by every connection without a client certificate (frozen: nobody may change it). */
const NOT_PRESENTED: PeerVerification = Object.freeze({
  presented: false,
  verified: false,
  revoked: false,
  expired: false,
  selfSigned: false,
  code: 'NO_PEER_CERTIFICATE',
  reason: 'no certificate presented',
});

type Failure = { code: string; reason: string };

function failure(code: string): Failure {
  return { code, reason: REASONS[code] ?? 'certificate failed verification' };
}

/** Node types it as an Error, but sets OpenSSL's code string. */
function opensslCode(socket: TLSSocket): string | undefined {
  if (socket.authorized) return undefined;
  const error: unknown = socket.authorizationError;
  if (typeof error === 'string') return error;
  return (error as NodeJS.ErrnoException | null)?.code ?? 'UNABLE_TO_VERIFY';
}

/** Intermediate CAs in the peer's chain as Node completed it from the trust store. */
function intermediates(leaf: DetailedPeerCertificate): number {
  const seen = new Set<string>();
  let count = 0;
  let endsAtRoot = false;
  for (let c: DetailedPeerCertificate | undefined = leaf; c?.raw && !seen.has(c.fingerprint256);) {
    seen.add(c.fingerprint256);
    count++;
    if (c.issuerCertificate === c) {
      endsAtRoot = true;
      break;
    }
    c = c.issuerCertificate;
  }
  return Math.max(0, count - 1 - (endsAtRoot ? 1 : 0));
}

/** Node gives an empty object when the peer sent no certificate. */
function leafOf(chain: DetailedPeerCertificate): X509Certificate | undefined {
  return chain.raw ? new X509Certificate(chain.raw) : undefined;
}

/** Where the leaf's CRL signer may be: the next certificate of the peer's chain, then trusted CAs. */
function issuerCandidates(leaf: X509Certificate, chain: DetailedPeerCertificate, rules: VerificationRules) {
  const next = chain.issuerCertificate?.raw;
  return [...(next ? [new X509Certificate(next)] : []), ...(rules.caBySubject.get(leaf.issuer) ?? [])];
}

function crlFailure(status: LeafCrlStatus): Failure | undefined {
  switch (status.status) {
    case 'good':
      return undefined;
    case 'revoked': {
      const why = status.reason && status.reason !== 'unspecified' ? `, ${status.reason}` : '';
      const stale = status.stale ? ', per a CRL past its nextUpdate' : '';
      return {
        code: 'CERT_REVOKED',
        reason: `certificate is revoked (serial ${status.serial}${why}, since ${status.date.toISOString()}${stale})`,
      };
    }
    case 'expired':
      return {
        code: 'CRL_HAS_EXPIRED',
        reason: `${REASONS.CRL_HAS_EXPIRED} (${status.nextUpdate.toISOString()})`,
      };
    case 'no-crl':
      return failure('UNABLE_TO_GET_CRL');
    case 'no-issuer':
      return failure('UNABLE_TO_GET_CRL_ISSUER');
    case 'bad-signature':
      return failure('CRL_SIGNATURE_FAILURE');
    case 'not-yet-valid':
      return failure('CRL_NOT_YET_VALID');
  }
}

/**
 * Classifies the peer of a finished handshake. `identity`, for client domains that check the
 * server name, is the SIP domain or host the connection is for.
 */
export function classifyPeer(
  socket: TLSSocket,
  rules: VerificationRules,
  identity?: string,
  now = new Date(),
): { peer: PeerVerification; certificate: X509Certificate | undefined } {
  const crls = rules.leafCrls?.size ? rules.leafCrls : undefined;
  // OpenSSL's own default depth is 100: walking the chain matters only for a stricter limit.
  const checkDepth = rules.verifyDepth < DEFAULT_VERIFY_DEPTH;
  // The chain, completed by Node from the trust store, only when needed: it is the costlier call.
  // It must come first: on server sockets (Node 20) getPeerX509Certificate() leaves
  // getPeerCertificate(true) without the issuers.
  const chain = crls || checkDepth ? socket.getPeerCertificate(true) : undefined;
  const cert = chain ? leafOf(chain) : socket.getPeerX509Certificate();
  if (!cert) return { peer: NOT_PRESENTED, certificate: undefined };

  const leafCrl = chain && crls ? crls.check(cert, issuerCandidates(cert, chain, rules), now) : undefined;
  const code = opensslCode(socket);
  const depth = chain && checkDepth ? intermediates(chain) : 0;

  // Reported as OpenSSL would: revocation before any other finding, then the chain's own verdict.
  let failed: Failure | undefined;
  if (leafCrl?.status === 'revoked') failed = crlFailure(leafCrl);
  else if (code === 'CERT_REVOKED' && rules.chainCrls) {
    failed = { code, reason: 'certificate, or a CA certificate of its chain, is revoked' };
  } else if (code !== undefined) failed = failure(code);
  else if (depth > rules.verifyDepth) {
    failed = {
      code: 'CERT_CHAIN_TOO_LONG',
      reason: `certificate chain has ${depth} intermediate CAs, verify_depth allows ${rules.verifyDepth}`,
    };
  } else if (leafCrl) failed = crlFailure(leafCrl);
  if (!failed && identity !== undefined && !matchesSipIdentity(cert, identity)) {
    failed = { code: 'ERR_TLS_CERT_ALTNAME_INVALID', reason: `certificate is not valid for ${identity}` };
  }

  const peer: PeerVerification = {
    presented: true,
    verified: failed === undefined,
    revoked: leafCrl?.status === 'revoked' || code === 'CERT_REVOKED',
    expired: Date.parse(cert.validTo) < now.getTime(),
    // Names and signature only: OpenSSL's checkIssued would also want keyCertSign, which a
    // self-signed end-entity certificate normally lacks.
    selfSigned: cert.subject === cert.issuer && cert.verify(cert.publicKey),
    code: failed?.code,
    reason: failed?.reason,
  };
  // Returned so nobody asks the socket again: after getPeerCertificate(true), Node 20's
  // getPeerX509Certificate() on a client socket answers undefined.
  return { peer, certificate: cert };
}

/**
 * Why the domain's policy refuses this peer, or undefined to admit it. Server domains judge
 * clients: `on` needs a verified certificate, `optional` refuses only one that fails,
 * `optional_no_ca` and `off` admit all. Client domains judge servers: `off` and `optional_no_ca`
 * admit all, anything else needs a verified certificate.
 */
export function refusalFor(
  type: 'server' | 'client',
  policy: VerifyPolicy,
  peer: PeerVerification,
): string | undefined {
  if (policy === 'off' || policy === 'optional_no_ca' || peer.verified) return undefined;
  const side = type === 'server' ? 'client' : 'server';
  if (!peer.presented) {
    return type === 'server' && policy === 'optional'
      ? undefined
      : `${side} presented no certificate (verify ${policy})`;
  }
  return `${side} ${peer.reason ?? 'certificate failed verification'} (${peer.code})`;
}
