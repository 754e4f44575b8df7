import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalHeaderName, headerKey } from '../../src/sip/header-names.js';

describe('headerKey', () => {
  test('maps compact forms to the full name', () => {
    const expected: Record<string, string> = {
      v: 'via',
      f: 'from',
      t: 'to',
      i: 'call-id',
      m: 'contact',
      l: 'content-length',
      c: 'content-type',
      k: 'supported',
      s: 'subject',
      e: 'content-encoding',
      o: 'event',
      r: 'refer-to',
      u: 'allow-events',
    };
    for (const [compact, key] of Object.entries(expected)) {
      assert.equal(headerKey(compact), key, compact);
      assert.equal(headerKey(compact.toUpperCase()), key, compact.toUpperCase());
    }
  });

  test('is case-insensitive for known and unknown names', () => {
    for (const name of ['Call-ID', 'call-id', 'CALL-ID', 'Call-Id', 'cAlL-iD'])
      assert.equal(headerKey(name), 'call-id');
    assert.equal(headerKey('X-Custom-Thing'), 'x-custom-thing');
    assert.equal(headerKey('x-CUSTOM-thing'), 'x-custom-thing');
  });

  test('does not treat unknown one-letter names as compact forms', () => {
    assert.equal(headerKey('q'), 'q');
    assert.equal(headerKey('Z'), 'z');
  });
});

describe('canonicalHeaderName', () => {
  test('gives the conventional spelling of well-known headers', () => {
    assert.equal(canonicalHeaderName('call-id'), 'Call-ID');
    assert.equal(canonicalHeaderName('CSEQ'), 'CSeq');
    assert.equal(canonicalHeaderName('www-authenticate'), 'WWW-Authenticate');
    assert.equal(canonicalHeaderName('v'), 'Via');
    assert.equal(canonicalHeaderName('l'), 'Content-Length');
    assert.equal(canonicalHeaderName('mime-version'), 'MIME-Version');
  });

  test('leaves unknown headers as given', () => {
    assert.equal(canonicalHeaderName('x-My-Header'), 'x-My-Header');
  });
});
