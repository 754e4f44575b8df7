// name-addr (`"Display" <uri>;params`) and addr-spec (`uri;params`) as used by From, To, Contact, Route...
import { fail, ok, excerpt, wrapError, type Result } from './errors.js';
import { findClosingQuote, quote, skipWsp, trimWsp, unquote } from './chars.js';
import { Params, parseHeaderParams } from './params.js';
import { formatUri, parseUri, type Uri } from './uri.js';

export class NameAddr {
  constructor(
    public uri: Uri,
    /** Header parameters (after the `>`, or after the URI in addr-spec form), values as received. */
    public params = new Params(),
    /** Unquoted and unescaped; undefined when absent. */
    public displayName?: string,
    /** The URI as received (`$fu`); formatted from `uri` when not given. */
    public uriText = formatUri(uri),
  ) {}

  /** The `tag` parameter; undefined when absent or valueless. */
  get tag(): string | undefined {
    return this.params.get('tag') ?? undefined;
  }

  set tag(tag: string | undefined) {
    if (tag === undefined) this.params.delete('tag');
    else this.params.set('tag', tag);
  }
}

/** Characters that cannot occur in an unquoted display name: their presence means addr-spec form. */
const NOT_IN_DISPLAY = /[:;"]/;

/**
 * Parses either form. In addr-spec form the URI ends at the first `;` and what follows are header
 * parameters (RFC 3261 §20.10), so `sip:a@b;tag=1` has the URI `sip:a@b` and a tag.
 */
export function parseNameAddr(text: string): Result<NameAddr> {
  const s = trimWsp(text);
  if (s.length === 0) return fail('bad-name-addr', 'empty address');
  let displayName: string | undefined;
  let lt: number;
  if (s.charCodeAt(0) === 34 /* " */) {
    const close = findClosingQuote(s, 0);
    if (close === -1) return fail('bad-name-addr', `unterminated display name in ${excerpt(s)}`);
    displayName = unquote(s.slice(0, close + 1));
    lt = skipWsp(s, close + 1);
    if (s.charCodeAt(lt) !== 60 /* < */)
      return fail('bad-name-addr', `expected '<' after display name in ${excerpt(s)}`);
  } else {
    lt = s.indexOf('<');
    // A '<' after a ':' or ';' belongs to a parameter of an addr-spec (e.g. +sip.instance="<urn:...>").
    if (lt !== -1 && NOT_IN_DISPLAY.test(s.slice(0, lt))) lt = -1;
    if (lt > 0) displayName = trimWsp(s.slice(0, lt));
  }
  let uriText: string;
  let paramsStart: number;
  if (lt !== -1) {
    const gt = s.indexOf('>', lt + 1);
    if (gt === -1) return fail('bad-name-addr', `missing '>' in ${excerpt(s)}`);
    uriText = s.slice(lt + 1, gt);
    paramsStart = gt + 1;
  } else {
    const semi = s.indexOf(';');
    paramsStart = semi === -1 ? s.length : semi;
    uriText = trimWsp(s.slice(0, paramsStart));
  }
  const uri = parseUri(uriText);
  if (!uri.ok) return uri;
  const params = parseHeaderParams(s, paramsStart);
  if (!params.ok) return wrapError('bad-name-addr', `parameters of ${excerpt(s)}`, params.error);
  return ok(new NameAddr(uri.value, params.value, displayName, uriText));
}

/** Always in name-addr form (`<...>` is never wrong, and required when the URI has params or headers). */
export function formatNameAddr(addr: NameAddr): string {
  const display = addr.displayName === undefined ? '' : `${quote(addr.displayName)} `;
  return `${display}<${formatUri(addr.uri)}>${addr.params.format()}`;
}
