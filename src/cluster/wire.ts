// An inbound message as it crosses to another worker: everything structured clone can carry as it
// is, and the certificates of its TLS session as DER bytes (an X509Certificate cannot be cloned),
// parsed again on arrival so the script's $tls_* variables read the same on either side.
import { X509Certificate } from 'node:crypto';
import type { Inbound, TlsSessionInfo } from '../transport/types.js';

type WireTls = Omit<TlsSessionInfo, 'peerCertificate' | 'localCertificate'> & {
  peerCertificate: Buffer | undefined;
  localCertificate: Buffer | undefined;
};

export type WireInbound = Omit<Inbound, 'tls'> & { tls: WireTls | undefined };

export function toWire(inbound: Inbound): WireInbound {
  const { tls, ...rest } = inbound;
  return {
    ...rest,
    tls: tls && {
      ...tls,
      peerCertificate: tls.peerCertificate?.raw,
      localCertificate: tls.localCertificate?.raw,
    },
  };
}

/** `from`: the worker that read it, so it is never passed on again. */
export function fromWire(wire: WireInbound, from: number): Inbound {
  const { tls, data, ...rest } = wire;
  return {
    ...rest,
    data: asBuffer(data),
    forwardedBy: from,
    tls: tls && {
      ...tls,
      peerCertificate: tls.peerCertificate && new X509Certificate(tls.peerCertificate),
      localCertificate: tls.localCertificate && new X509Certificate(tls.localCertificate),
    },
  };
}

/** Structured clone hands a Buffer over as a plain Uint8Array: a Buffer view of the same bytes. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
