// The core pseudo-variables of OpenSIPS/Kamailio that describe the message and how it arrived.
import type { SipRequest, SipUri, Uri } from '../sip/index.js';
import type { MessageContext } from './context.js';
import type { PvSpec } from './pv.js';
import { credentialsOf } from '../features/auth/index.js';

type Ctx = MessageContext;

const request = (ctx: Ctx): SipRequest | undefined => (ctx.msg.isRequest ? ctx.msg : undefined);
const sip = (uri: Uri | undefined): SipUri | undefined => (uri?.kind === 'sip' ? uri : undefined);
const ruri = (ctx: Ctx) => sip(request(ctx)?.requestUri);
const credentials = (ctx: Ctx) => {
  const req = request(ctx);
  return req && credentialsOf(req);
};
/** The user of a sip:/sips: URI, or the number of a tel: URI. */
const userOf = (uri: Uri | undefined) => (uri?.kind === 'tel' ? uri.number : sip(uri)?.user);

export const coreVariables: PvSpec<Ctx>[] = [
  {
    name: 'rm',
    summary: 'request method (for replies: the CSeq method)',
    get: (c) => request(c)?.method ?? c.msg.cseq().method,
  },
  { name: 'ru', summary: 'Request-URI', get: (c) => request(c)?.uri },
  { name: 'rU', summary: 'user part of the Request-URI', get: (c) => userOf(request(c)?.requestUri) },
  { name: 'rd', summary: 'host (domain) of the Request-URI', get: (c) => ruri(c)?.host },
  {
    name: 'rp',
    summary: 'port of the Request-URI (5060/5061 when absent)',
    get: (c) => (ruri(c) ? (ruri(c)!.port ?? (ruri(c)!.scheme === 'sips' ? 5061 : 5060)) : undefined),
  },
  {
    name: 'rP',
    summary: 'transport of the Request-URI (transport param, default udp; tls for sips:)',
    get: (c) => {
      const u = ruri(c);
      return u
        ? (u.params.get('transport') ?? (u.scheme === 'sips' ? 'tls' : 'udp')).toLowerCase()
        : undefined;
    },
  },
  { name: 'rs', summary: 'reply status code', get: (c) => (c.msg.isRequest ? undefined : c.msg.status) },
  { name: 'rr', summary: 'reply reason phrase', get: (c) => (c.msg.isRequest ? undefined : c.msg.reason) },
  { name: 'si', summary: 'source IP address of the message', get: (c) => c.source.address },
  { name: 'sp', summary: 'source port of the message', get: (c) => c.source.port },
  { name: 'Ri', summary: 'our IP address that received the message', get: (c) => c.destination.address },
  { name: 'Rp', summary: 'our port that received the message', get: (c) => c.destination.port },
  { name: 'pr', summary: 'protocol the message arrived over (udp, tcp, tls)', get: (c) => c.proto },
  { name: 'proto', summary: 'alias of $pr', get: (c) => c.proto },
  { name: 'ci', summary: 'Call-ID', get: (c) => c.msg.callId },
  { name: 'cs', summary: 'CSeq number', get: (c) => c.msg.cseq().seq },
  { name: 'fu', summary: 'From URI', get: (c) => c.msg.from().uriText },
  { name: 'fU', summary: 'From URI user', get: (c) => userOf(c.msg.from().uri) },
  { name: 'fd', summary: 'From URI domain', get: (c) => sip(c.msg.from().uri)?.host },
  { name: 'fn', summary: 'From display name', get: (c) => c.msg.from().displayName },
  { name: 'ft', summary: 'From tag', get: (c) => c.msg.from().tag },
  { name: 'tu', summary: 'To URI', get: (c) => c.msg.to().uriText },
  { name: 'tU', summary: 'To URI user', get: (c) => userOf(c.msg.to().uri) },
  { name: 'td', summary: 'To URI domain', get: (c) => sip(c.msg.to().uri)?.host },
  { name: 'tn', summary: 'To display name', get: (c) => c.msg.to().displayName },
  { name: 'tt', summary: 'To tag', get: (c) => c.msg.to().tag },
  { name: 'ua', summary: 'User-Agent header', get: (c) => c.msg.getHeader('User-Agent') },
  {
    name: 'au',
    summary: 'username of the digest credentials (not checked)',
    get: (c) => credentials(c)?.username,
  },
  { name: 'ar', summary: 'realm of the digest credentials', get: (c) => credentials(c)?.realm },
  { name: 'adu', summary: 'uri of the digest credentials', get: (c) => credentials(c)?.uri },
  { name: 'ml', summary: 'message length in bytes', get: (c) => c.inbound.data.length },
  { name: 'mb', summary: 'the whole message as received', get: (c) => c.inbound.data.toString('utf8') },
  { name: 'rb', summary: 'message body', get: (c) => c.msg.body.toString('utf8') },
  {
    name: 'hdr',
    summary: 'first value of a header: $hdr(Name)',
    arg: 'required',
    get: (c, a) => c.msg.getHeader(a!),
  },
  {
    name: 'hdrcnt',
    summary: 'number of values of a header: $hdrcnt(Name)',
    arg: 'required',
    get: (c, a) => c.msg.getHeaders(a!).length,
  },
  {
    name: 'avp',
    summary: 'an AVP set by the script: $avp(name)',
    arg: 'required',
    get: (c, a) => stringOrUndefined(c.avp.get(a!)),
  },
  {
    name: 'socket_in',
    summary: 'receiving socket: $socket_in(ip), $socket_in(port), $socket_in(proto)',
    arg: 'required',
    get: (c, a) =>
      a === 'ip'
        ? c.destination.address
        : a === 'port'
          ? c.destination.port
          : a === 'proto'
            ? c.proto
            : undefined,
  },
  {
    name: 'conid',
    summary: 'id of the TCP/TLS connection the message arrived on',
    get: (c) => c.inbound.connectionId,
  },
  { name: 'Ts', summary: 'current Unix time in seconds', get: () => Math.floor(Date.now() / 1000) },
];

function stringOrUndefined(v: unknown): string | number | boolean | undefined {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'
    ? v
    : v === undefined
      ? undefined
      : String(v);
}
