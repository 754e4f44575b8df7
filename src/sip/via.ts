// Via header values: `SIP/2.0/UDP host:port;branch=...;received=...;rport` (RFC 3261 §20.42, RFC 3581, RFC 5923).
import { fail, ok, excerpt, wrapError, type Result } from './errors.js';
import { isTokenChar, isWsp, parseDecimal, skipWsp, trimWsp } from './chars.js';
import { formatHostPort, isIpAddress, parseHostPort, type HostKind } from './host.js';
import { Params, parseHeaderParams } from './params.js';

/** The RFC 3261 magic cookie that marks a branch as globally unique. */
export const BRANCH_MAGIC_COOKIE = 'z9hG4bK';

/**
 * One Via value. Mutable, so a proxy can stamp `received`/`rport` and write it back with
 * `formatVia` (a message's cached Via only changes the message once written back).
 */
export class Via {
  constructor(
    /** Upper case: UDP, TCP, TLS, SCTP, WS, WSS or an extension token. */
    public transport: string,
    /** IPv6 without brackets. */
    public host: string,
    public hostKind: HostKind,
    public port: number | undefined,
    public params = new Params(),
  ) {}

  get branch(): string | undefined {
    return this.params.get('branch') ?? undefined;
  }

  set branch(branch: string | undefined) {
    this.setOptional('branch', branch);
  }

  /** The source address as stamped by the receiving proxy (RFC 3261 §18.2.1). */
  get received(): string | undefined {
    return this.params.get('received') ?? undefined;
  }

  set received(address: string | undefined) {
    this.setOptional('received', address);
  }

  /** undefined: absent; null: present without value (RFC 3581 request); else the port. */
  get rport(): number | null | undefined {
    const value = this.params.get('rport');
    return value === null ? null : numericParam(value, 65535);
  }

  set rport(port: number | null | undefined) {
    if (port === undefined) this.params.delete('rport');
    else this.params.set('rport', port === null ? null : String(port));
  }

  get maddr(): string | undefined {
    return this.params.get('maddr') ?? undefined;
  }

  get ttl(): number | undefined {
    return numericParam(this.params.get('ttl'), 255);
  }

  /** RFC 5923: the sender asks that its connection be reused for requests in the other direction. */
  get alias(): boolean {
    return this.params.has('alias');
  }

  private setOptional(name: string, value: string | undefined): void {
    if (value === undefined) this.params.delete(name);
    else this.params.set(name, value);
  }
}

function numericParam(value: string | null | undefined, max: number): number | undefined {
  const n = value === null || value === undefined ? -1 : parseDecimal(value, max);
  return n < 0 ? undefined : n;
}

function readToken(text: string, pos: number): number {
  while (pos < text.length && isTokenChar(text.charCodeAt(pos))) pos++;
  return pos;
}

/** Position after SWS "/" SWS at `pos`, or -1. */
function skipSlash(text: string, pos: number): number {
  pos = skipWsp(text, pos);
  return text.charCodeAt(pos) === 47 /* / */ ? skipWsp(text, pos + 1) : -1;
}

/** Parses one Via value (the header is split on commas beforehand) and checks the well-known params. */
export function parseVia(value: string): Result<Via> {
  // sent-protocol = "SIP" SLASH "2.0" SLASH transport, LWS allowed around the slashes.
  const nameStart = skipWsp(value, 0);
  const nameEnd = readToken(value, nameStart);
  const versionStart = skipSlash(value, nameEnd);
  const versionEnd = versionStart === -1 ? -1 : readToken(value, versionStart);
  const transportStart = versionEnd === -1 ? -1 : skipSlash(value, versionEnd);
  const transportEnd = transportStart === -1 ? -1 : readToken(value, transportStart);
  if (transportEnd <= transportStart) return fail('bad-via', `bad sent-protocol in ${excerpt(value)}`);
  const name = value.slice(nameStart, nameEnd);
  const version = value.slice(versionStart, versionEnd);
  if (name.toUpperCase() !== 'SIP' || version !== '2.0') {
    return fail('bad-via', `unsupported protocol ${excerpt(`${name}/${version}`)}`);
  }
  if (!isWsp(value.charCodeAt(transportEnd))) {
    return fail('bad-via', `expected whitespace before sent-by in ${excerpt(value)}`);
  }
  const sentByStart = skipWsp(value, transportEnd);
  const semi = value.indexOf(';', sentByStart);
  const sentByEnd = semi === -1 ? value.length : semi;
  const sentBy = parseHostPort(trimWsp(value.slice(sentByStart, sentByEnd)));
  if (!sentBy.ok) return wrapError('bad-via', 'Via sent-by', sentBy.error);
  const params = parseHeaderParams(value, sentByEnd);
  if (!params.ok) return wrapError('bad-via', 'Via parameters', params.error);
  const bad = checkViaParams(params.value);
  if (bad !== undefined) return fail('bad-via', bad);
  const { host, hostKind, port } = sentBy.value;
  const transport = value.slice(transportStart, transportEnd).toUpperCase();
  return ok(new Via(transport, host, hostKind, port, params.value));
}

/** The params a proxy acts upon must be well-formed; returns the problem, if any. */
function checkViaParams(params: Params): string | undefined {
  for (const { name, value } of params) {
    switch (name.toLowerCase()) {
      case 'branch':
        if (value === null) return 'Via branch without value';
        break;
      case 'received':
        if (value === null || !isIpAddress(value))
          return `Via received is not an IP address: ${excerpt(value ?? '')}`;
        break;
      case 'rport':
        if (value !== null && parseDecimal(value, 65535) < 0) return `bad Via rport ${excerpt(value)}`;
        break;
      case 'ttl':
        if (value === null || parseDecimal(value, 255) < 0) return `bad Via ttl ${excerpt(value ?? '')}`;
        break;
      case 'maddr':
        if (value === null || !parseHostPort(value).ok) return `bad Via maddr ${excerpt(value ?? '')}`;
        break;
    }
  }
  return undefined;
}

export function formatVia(via: Via): string {
  return `SIP/2.0/${via.transport} ${formatHostPort(via)}${via.params.format()}`;
}
