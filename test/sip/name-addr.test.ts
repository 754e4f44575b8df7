import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { NameAddr, formatNameAddr, parseNameAddr } from '../../src/sip/name-addr.js';
import type { SipUri } from '../../src/sip/uri.js';

function parsed(text: string): NameAddr {
  const result = parseNameAddr(text);
  assert.ok(result.ok, `${text}: ${result.ok ? '' : result.error.reason}`);
  return result.value;
}

describe('parseNameAddr', () => {
  test('quoted display name, URI and tag', () => {
    const addr = parsed('"Alice Liddell" <sip:alice@atlanta.example.com>;tag=9fxced76sl');
    assert.equal(addr.displayName, 'Alice Liddell');
    assert.equal(addr.uriText, 'sip:alice@atlanta.example.com');
    assert.equal((addr.uri as SipUri).user, 'alice');
    assert.equal(addr.tag, '9fxced76sl');
  });

  test('display names holding commas, <>, quotes and backslashes', () => {
    const addr = parsed('"Doe, \\"JD\\" <John> \\\\ Jr" <sip:jd@example.com>');
    assert.equal(addr.displayName, 'Doe, "JD" <John> \\ Jr');
    assert.equal(addr.uriText, 'sip:jd@example.com');
  });

  test('unquoted token display names and no display name', () => {
    assert.equal(parsed('Bob Smith <sip:bob@example.com>').displayName, 'Bob Smith');
    assert.equal(parsed('<sip:bob@example.com>').displayName, undefined);
    assert.equal(parsed('""<sip:bob@example.com>').displayName, '');
  });

  test('addr-spec: parameters after the URI belong to the header (RFC 3261 §20.10)', () => {
    const addr = parsed('sip:bob@example.com;tag=887s;foo=bar');
    assert.equal(addr.uriText, 'sip:bob@example.com');
    assert.equal((addr.uri as SipUri).params.size, 0);
    assert.equal(addr.tag, '887s');
    assert.equal(addr.params.get('foo'), 'bar');
  });

  test('name-addr: URI parameters stay in the URI', () => {
    const addr = parsed('<sip:bob@example.com;transport=tcp>;tag=1');
    assert.equal((addr.uri as SipUri).params.get('transport'), 'tcp');
    assert.equal(addr.params.has('transport'), false);
    assert.equal(addr.tag, '1');
  });

  test('quoted header params with <> in an addr-spec (RFC 5626 +sip.instance)', () => {
    const addr = parsed(
      'sip:bob@192.0.2.4;+sip.instance="<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>";reg-id=1',
    );
    assert.equal(addr.uriText, 'sip:bob@192.0.2.4');
    assert.equal(addr.params.get('+sip.instance'), '"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"');
    assert.equal(addr.params.get('reg-id'), '1');
  });

  test('whitespace around the parts (wsinv style)', () => {
    const addr = parsed('  "Caller"   <sip:caller@example.com>  ;  tag = 323  ;  expires = 3600  ');
    assert.equal(addr.displayName, 'Caller');
    assert.equal(addr.tag, '323');
    assert.equal(addr.params.get('expires'), '3600');
  });

  test('tel and unknown-scheme URIs', () => {
    assert.equal(parsed('<tel:+1-201-555-0123>;tag=x').uri.kind, 'tel');
    assert.equal(parsed('<nobodyknowsthisscheme:totallyopaquecontent>').uri.kind, 'other');
  });

  test('tag is undefined when absent or valueless', () => {
    assert.equal(parsed('<sip:a@b>').tag, undefined);
    assert.equal(parsed('<sip:a@b>;tag').tag, undefined);
  });

  test('rejects malformed addresses', () => {
    for (const text of [
      '',
      '"unterminated <sip:a@b>',
      '"Name" sip:a@b',
      '<sip:a@b',
      '<sip:a@b>;=1',
      '<sip:a@b> junk',
      '<sip:a@b>;tag="x',
      '<not a uri>',
      'Bob <>',
    ]) {
      assert.equal(parseNameAddr(text).ok, false, text);
    }
  });
});

describe('NameAddr / formatNameAddr', () => {
  test('formats in name-addr form, quoting and escaping the display name', () => {
    const addr = parsed('"Doe, \\"JD\\"" <sip:jd@example.com;lr>;tag=1');
    assert.equal(formatNameAddr(addr), '"Doe, \\"JD\\"" <sip:jd@example.com;lr>;tag=1');
    assert.equal(formatNameAddr(parsed('sip:bob@example.com;tag=9')), '<sip:bob@example.com>;tag=9');
  });

  test('round-trips through parse', () => {
    const original = parsed('Bob Smith <sips:bob@[2001:db8::1]:5061;transport=tls>;tag=a;expires=60');
    const again = parsed(formatNameAddr(original));
    assert.deepEqual(again.uri, original.uri);
    assert.deepEqual([...again.params], [...original.params]);
    assert.equal(again.displayName, original.displayName);
  });

  test('the tag setter adds, replaces and removes the parameter', () => {
    const addr = parsed('<sip:bob@example.com>;x=1');
    addr.tag = 'abc';
    assert.equal(formatNameAddr(addr), '<sip:bob@example.com>;x=1;tag=abc');
    addr.tag = 'def';
    assert.equal(formatNameAddr(addr), '<sip:bob@example.com>;x=1;tag=def');
    addr.tag = undefined;
    assert.equal(formatNameAddr(addr), '<sip:bob@example.com>;x=1');
  });

  test('can be built from a URI', () => {
    const uri = parseNameAddr('<sip:carol@example.com>');
    assert.ok(uri.ok);
    const addr = new NameAddr(uri.value.uri, undefined, 'Carol');
    assert.equal(addr.uriText, 'sip:carol@example.com');
    assert.equal(formatNameAddr(addr), '"Carol" <sip:carol@example.com>');
  });
});
