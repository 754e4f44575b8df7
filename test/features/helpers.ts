// Shared by the feature tests: SIP requests from real message text (parsed by src/sip), a REGISTER
// builder, a movable clock, and a digest client that answers a challenge as a phone would.
import assert from 'node:assert/strict';
import { parseMessage, serializeMessage, SipRequest, type SipResponse } from '../../src/sip/index.js';
import { parseAuthHeader } from '../../src/features/auth/auth-header.js';
import { computeHa1, computeResponse, parseAlgorithm } from '../../src/features/auth/digest.js';
import { toResponse, type ReplySpec } from '../../src/features/auth/reply.js';

/** Parses message text (lines joined with CRLF, an empty line and no body appended). */
export function sipRequest(lines: string[]): SipRequest {
  const result = parseMessage(Buffer.from(`${lines.join('\r\n')}\r\n\r\n`));
  assert.ok(result.ok, result.ok ? '' : result.error.reason);
  assert.ok(result.message.isRequest);
  return result.message;
}

/** A reply spec turned into the response to `req`, serialized and parsed back like a peer would. */
export function wire(req: SipRequest, reply: ReplySpec): SipResponse {
  const result = parseMessage(serializeMessage(toResponse(req, reply)));
  assert.ok(result.ok, result.ok ? '' : result.error.reason);
  assert.ok(!result.message.isRequest);
  return result.message;
}

export interface RegisterSpec {
  user?: string;
  domain?: string;
  callId?: string;
  cseq?: number;
  /** Contact header values; none: a query. */
  contacts?: string[];
  expires?: number | string;
  /** More header lines, e.g. `Path: <sip:edge.example.com;lr>`. */
  extra?: string[];
}

export function register(spec: RegisterSpec = {}): SipRequest {
  const user = spec.user ?? 'alice';
  const domain = spec.domain ?? 'atlanta.example.com';
  return sipRequest([
    `REGISTER sip:${domain} SIP/2.0`,
    'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKnashds7',
    'Max-Forwards: 70',
    `To: Alice <sip:${user}@${domain}>`,
    `From: Alice <sip:${user}@${domain}>;tag=456248`,
    `Call-ID: ${spec.callId ?? '843817637684230@998sdasdh09'}`,
    `CSeq: ${spec.cseq ?? 1826} REGISTER`,
    ...(spec.contacts ?? []).map((c) => `Contact: ${c}`),
    ...(spec.expires === undefined ? [] : [`Expires: ${spec.expires}`]),
    ...(spec.extra ?? []),
    'Content-Length: 0',
  ]);
}

/** A clock the tests move: `now` in milliseconds, as the features take it. */
export class TestClock {
  ms = Date.UTC(2024, 4, 1, 12, 0, 0);
  readonly now = (): number => this.ms;
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

export interface DigestAnswer {
  username: string;
  password: string;
  method: string;
  uri: string;
  /** Count to send with qop=auth (default 1). */
  nc?: number;
  cnonce?: string;
  /** Send qop=auth when offered (default true). */
  useQop?: boolean;
  /** Claim another realm or nonce than the challenge's. */
  realm?: string;
  nonce?: string;
}

/** The Authorization value a client sends in answer to one challenge header (quoted as phones do). */
export function answerChallenge(challenge: string, a: DigestAnswer): string {
  const parsed = parseAuthHeader(challenge);
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
  const p = parsed.value.params;
  const algorithm = parseAlgorithm(p.get('algorithm'));
  assert.ok(algorithm, `unknown algorithm ${p.get('algorithm')}`);
  const realm = a.realm ?? p.get('realm')!;
  const nonce = a.nonce ?? p.get('nonce')!;
  const qop = (a.useQop ?? true) && p.get('qop')?.split(',').includes('auth');
  const nc = (a.nc ?? 1).toString(16).padStart(8, '0');
  const cnonce = a.cnonce ?? '0a4f113b';
  const response = computeResponse({
    algorithm,
    ha1: computeHa1(algorithm, a.username, realm, a.password),
    nonce,
    method: a.method,
    uri: a.uri,
    qop: qop ? { nc, cnonce } : undefined,
  });
  const fields = [
    `username="${a.username}"`,
    `realm="${realm}"`,
    `nonce="${nonce}"`,
    `uri="${a.uri}"`,
    `response="${response}"`,
    `algorithm=${algorithm}`,
  ];
  if (qop) fields.push('qop=auth', `nc=${nc}`, `cnonce="${cnonce}"`);
  return `Digest ${fields.join(', ')}`;
}

/** The request with one more header line, re-parsed from text like a retransmission would be. */
export function withHeader(req: SipRequest, name: string, value: string): SipRequest {
  const copy = parseMessage(serializeMessage(req));
  assert.ok(copy.ok && copy.message.isRequest);
  copy.message.addHeader(name, value);
  const again = parseMessage(serializeMessage(copy.message));
  assert.ok(again.ok && again.message.isRequest);
  return again.message;
}
