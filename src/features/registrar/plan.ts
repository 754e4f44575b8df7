// The decision part of a REGISTER (RFC 3261 §10.3 steps 5-7): from the request and the bindings
// there are, the bindings there will be, or the error reply. Pure: no clock, no I/O, no store.
import { randomUUID } from 'node:crypto';
import {
  classifyHost,
  formatHost,
  Params,
  unquote,
  type NameAddr,
  type SipRequest,
  type Uri,
} from '../../sip/index.js';
import { warning, type ReplySpec } from '../auth/reply.js';
import { aorOfUri, type Aor } from './aor.js';
import type { Binding } from './binding.js';
import type { RegistrarConfig } from './config.js';
import { sameUri } from './uri-match.js';

export type RegisterPolicy = Pick<
  RegistrarConfig,
  'default_expires' | 'min_expires' | 'max_expires' | 'max_contacts' | 'use_domain'
>;

/** Where the REGISTER came from ($pr, $si, $sp). */
export interface RegisterSource {
  proto: string;
  address: string;
  port: number;
}

export interface RegisterInput {
  nowS: number;
  source?: RegisterSource;
  /** Our socket it arrived on, `proto:ip:port`. */
  socket?: string;
  newId?: () => string;
}

export type Failure = { ok: false; reply: ReplySpec; detail: string };
export type RegisterPlan = { ok: true; next: Binding[] } | Failure;

/** RFC 3261 §10.3 step 7: a registrar MAY refuse shorter intervals only below one hour. */
const BRIEF_LIMIT_S = 3600;
/** delta-seconds above 2**32-1 count as 2**32-1 (RFC 3261 §20.19). */
const MAX_DELTA = 2 ** 32 - 1;

function refuse(
  status: number,
  reason: string,
  detail: string,
  extra: Array<[string, string]> = [],
): Failure {
  return { ok: false, reply: { status, reason, headers: [...extra, warning(detail)] }, detail };
}

const badRequest = (detail: string) => refuse(400, 'Bad Request', detail);

/** The address-of-record of a REGISTER: its To URI (step 5). */
export function registerAor(req: SipRequest, useDomain: boolean): { ok: true; aor: Aor } | Failure {
  const aor = aorOfUri(req.to().uri, useDomain);
  return aor ? { ok: true, aor } : badRequest('the To header is not a SIP URI with a user part');
}

function parseDelta(text: string): number | undefined {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return undefined;
  return Math.min(Number(t), MAX_DELTA);
}

/** qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) */
function parseQ(text: string): number | undefined {
  return /^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(text) ? Number(text) : undefined;
}

/**
 * `sip:ip:port;transport=proto` of the source when the Contact would not lead there: its host,
 * port or transport differ (NAT, or a TCP/TLS connection from an ephemeral port).
 */
function receivedFor(contact: Uri, source: RegisterSource | undefined): string | undefined {
  if (!source) return undefined;
  const proto = source.proto.toLowerCase();
  const received = `sip:${formatHost(source.address, classifyHost(source.address) ?? 'name')}:${source.port};transport=${proto}`;
  if (contact.kind !== 'sip') return received;
  const transport = (
    contact.params.get('transport') ?? (contact.scheme === 'sips' ? 'tls' : 'udp')
  ).toLowerCase();
  const port = contact.port ?? (transport === 'tls' ? 5061 : 5060);
  const same =
    contact.host.toLowerCase() === source.address.toLowerCase() &&
    port === source.port &&
    transport === proto;
  return same ? undefined : received;
}

function matches(
  binding: Binding,
  uri: string,
  instance: string | undefined,
  regId: number | undefined,
): boolean {
  // RFC 5626 §6: with an instance on both sides, instance and reg-id say which binding (flow) it is.
  if (instance !== undefined && binding.instance !== undefined)
    return binding.instance === instance && binding.regId === regId;
  return sameUri(binding.contact, uri);
}

/**
 * The bindings of `aor` after the REGISTER, given those there are (`current`, expired ones
 * included: they are dropped here). Contacts apply in order; any error leaves everything as it was.
 */
export function planRegister(
  req: SipRequest,
  aor: Aor,
  current: readonly Binding[],
  policy: RegisterPolicy,
  input: RegisterInput,
): RegisterPlan {
  const { nowS } = input;
  const contacts = req.contacts();
  if (!contacts.ok) return badRequest(contacts.error.reason);
  const callId = req.callId;
  const cseq = req.cseq().seq;
  const expiresHeader = req.getHeader('Expires');
  const live = current.filter((b) => b.expires > nowS);
  const outOfOrder = (b: Binding) =>
    badRequest(`CSeq ${cseq} is not above ${b.cseq}, the last one seen for ${b.contact} with this Call-ID`);

  if (contacts.value === '*') {
    // Step 6: the wildcard removes every binding, and only with Expires: 0.
    if (expiresHeader === undefined || parseDelta(expiresHeader) !== 0)
      return badRequest('Contact: * needs Expires: 0');
    const newer = live.find((b) => b.callId === callId && cseq <= b.cseq);
    return newer ? outOfOrder(newer) : { ok: true, next: [] };
  }

  // A malformed Expires header counts as the default (RFC 3261 §20.19 says 3600).
  const headerExpires =
    expiresHeader === undefined ? undefined : (parseDelta(expiresHeader) ?? policy.default_expires);
  const path = req.getHeaders('Path');
  const userAgent = req.getHeader('User-Agent');
  const next = [...live];
  const touched = new Set<string>();
  let added = 0;

  for (const addr of contacts.value) {
    const expiresParam = addr.params.get('expires');
    let expires =
      (typeof expiresParam === 'string' ? parseDelta(expiresParam) : undefined) ??
      headerExpires ??
      policy.default_expires;
    if (expires > 0 && expires < policy.min_expires) {
      if (expires < BRIEF_LIMIT_S)
        return refuse(423, 'Interval Too Brief', `expiry ${expires} s is below ${policy.min_expires} s`, [
          ['Min-Expires', String(policy.min_expires)],
        ]);
      expires = policy.min_expires;
    }
    if (policy.max_expires > 0 && expires > policy.max_expires) expires = policy.max_expires;

    const qText = addr.params.get('q');
    const q = typeof qText === 'string' ? parseQ(qText) : undefined;
    if (qText !== undefined && q === undefined) return badRequest(`bad q value ${String(qText)} in Contact`);

    const instanceParam = addr.params.get('+sip.instance');
    const instance = typeof instanceParam === 'string' ? unquote(instanceParam) : undefined;
    const regIdText = addr.params.get('reg-id');
    const regId =
      typeof regIdText === 'string' && /^\d{1,9}$/.test(regIdText) ? Number(regIdText) : undefined;

    const index = next.findIndex((b) => matches(b, addr.uriText, instance, regId));
    const existing = next[index];
    // Step 7: a binding from this Call-ID changes only with a higher CSeq. The same CSeq is the
    // same request again (a retransmission reaching a stateless registrar): left as it is, answered
    // like the first time, rather than refused as the RFC would have it.
    if (existing && !touched.has(existing.id) && existing.callId === callId && cseq <= existing.cseq) {
      if (cseq < existing.cseq) return outOfOrder(existing);
      continue;
    }
    if (expires === 0) {
      if (existing) next.splice(index, 1);
      continue;
    }
    const binding: Binding = {
      id: existing?.id ?? (input.newId ?? randomUUID)(),
      username: aor.username,
      domain: aor.domain,
      contact: addr.uriText,
      params: keptParams(addr),
      q,
      expires: nowS + expires,
      callId,
      cseq,
      path,
      received: receivedFor(addr.uri, input.source),
      socket: input.socket,
      userAgent,
      instance,
      regId,
      lastModified: nowS,
    };
    touched.add(binding.id);
    if (existing) next[index] = binding;
    else {
      next.push(binding);
      added++;
    }
  }

  if (policy.max_contacts > 0 && added > 0 && next.length > policy.max_contacts) {
    return refuse(
      503,
      'Too Many Registered Contacts',
      `${next.length} bindings for ${aor.key}; at most ${policy.max_contacts} are allowed`,
    );
  }
  return { ok: true, next };
}

/** The Contact's header parameters minus expires and q, which the binding holds as values. */
function keptParams(addr: NameAddr): string {
  const kept = [...addr.params].filter((p) => !/^(expires|q)$/i.test(p.name)).map((p) => ({ ...p }));
  return new Params(kept).format();
}
