// The digest computations against the RFCs' own examples, and the parser of credentials and
// challenges on the RFCs' header texts and on what phones send.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  computeHa1,
  computeResponse,
  parseAlgorithm,
  sameDigest,
} from '../../../src/features/auth/digest.js';
import { formatAuthHeader, parseAuthHeader } from '../../../src/features/auth/auth-header.js';

describe('digest vectors', () => {
  test('RFC 2617 §3.5: HA1 and the qop=auth response for Mufasa', () => {
    const ha1 = computeHa1('MD5', 'Mufasa', 'testrealm@host.com', 'Circle Of Life');
    assert.equal(ha1, '939e7578ed9e3c518a452acee763bce9');
    const response = computeResponse({
      algorithm: 'MD5',
      ha1,
      nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
      method: 'GET',
      uri: '/dir/index.html',
      qop: { nc: '00000001', cnonce: '0a4f113b' },
    });
    assert.equal(response, '6629fae49393a05397450978507c4ef1');
  });

  test('RFC 7616 §3.9.1: the MD5 and SHA-256 responses of the example', () => {
    const common = {
      nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
      method: 'GET',
      uri: '/dir/index.html',
      qop: { nc: '00000001', cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ' },
    };
    const expected = {
      MD5: '8ca523f5e9506fed4657c9700eebdbec',
      'SHA-256': '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1',
    } as const;
    for (const algorithm of ['MD5', 'SHA-256'] as const) {
      const ha1 = computeHa1(algorithm, 'Mufasa', 'http-auth@example.org', 'Circle of Life');
      assert.equal(computeResponse({ algorithm, ha1, ...common }), expected[algorithm], algorithm);
    }
  });

  test('without qop (RFC 2069): H(HA1:nonce:HA2), for the inputs of RFC 2069 §2.4', () => {
    const ha1 = computeHa1('MD5', 'Mufasa', 'testrealm@host.com', 'CircleOfLife');
    const response = computeResponse({
      algorithm: 'MD5',
      ha1,
      nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
      method: 'GET',
      uri: '/dir/index.html',
    });
    assert.equal(response, '1949323746fe6a43ef61f9606e7febea');
    // The same inputs with qop give another value: the two forms are not confused.
    assert.notEqual(
      computeResponse({
        algorithm: 'MD5',
        ha1,
        nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
        method: 'GET',
        uri: '/dir/index.html',
        qop: { nc: '00000001', cnonce: '0a4f113b' },
      }),
      response,
    );
  });

  test('a stored HA1 in upper case is the same hash', () => {
    const upper = '939E7578ED9E3C518A452ACEE763BCE9';
    const args = { algorithm: 'MD5' as const, nonce: 'n', method: 'REGISTER', uri: 'sip:a' };
    assert.equal(
      computeResponse({ ...args, ha1: upper }),
      computeResponse({ ...args, ha1: upper.toLowerCase() }),
    );
    assert.ok(sameDigest('ABCdef', 'abcDEF'));
    assert.ok(!sameDigest('abc', 'abd'));
    assert.ok(!sameDigest('abc', 'abcd'));
  });

  test('algorithm names: absent is MD5, case does not matter, others are unknown', () => {
    assert.equal(parseAlgorithm(undefined), 'MD5');
    assert.equal(parseAlgorithm('sha-256'), 'SHA-256');
    assert.equal(parseAlgorithm('MD5'), 'MD5');
    assert.equal(parseAlgorithm('SHA-512-256'), undefined);
    assert.equal(parseAlgorithm('MD5-sess'), undefined);
  });
});

describe('credentials and challenge text', () => {
  test("RFC 2617 §3.5's Authorization header", () => {
    const parsed = parseAuthHeader(
      'Digest username="Mufasa", realm="testrealm@host.com",' +
        ' nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth,' +
        ' nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1",' +
        ' opaque="5ccc069c403ebaf9f0171e9517f40e41"',
    );
    assert.ok(parsed.ok);
    assert.equal(parsed.value.scheme, 'Digest');
    assert.deepEqual(Object.fromEntries(parsed.value.params), {
      username: 'Mufasa',
      realm: 'testrealm@host.com',
      nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
      uri: '/dir/index.html',
      qop: 'auth',
      nc: '00000001',
      cnonce: '0a4f113b',
      response: '6629fae49393a05397450978507c4ef1',
      opaque: '5ccc069c403ebaf9f0171e9517f40e41',
    });
  });

  test('quoted commas and escapes, bare base64 values, loose spacing, names in any case', () => {
    const parsed = parseAuthHeader(
      'digest  USERNAME = "bob \\"the\\" builder" ,realm="a, b",, nonce=7ypf/xlj9XXwfDPEoM4URrv/xwf94Bc=,uri="sip:x"',
    );
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
    assert.equal(parsed.value.params.get('username'), 'bob "the" builder');
    assert.equal(parsed.value.params.get('realm'), 'a, b');
    assert.equal(parsed.value.params.get('nonce'), '7ypf/xlj9XXwfDPEoM4URrv/xwf94Bc=');
    assert.equal(parsed.value.params.get('uri'), 'sip:x');
  });

  test('broken credentials are refused with the reason', () => {
    const cases: Array<[string, RegExp]> = [
      ['', /no authentication scheme/],
      ['Digest username="a", username="b"', /given twice/],
      ['Digest username="a', /unterminated/],
      ['Digest username', /no value/],
      ['Digest username="a" realm="b"', /expected ','/],
      ['Digest realm=', /empty value/],
    ];
    for (const [text, reason] of cases) {
      const parsed = parseAuthHeader(text);
      assert.ok(!parsed.ok, text);
      assert.match(parsed.reason, reason, text);
    }
  });

  test('challenges format as RFC 7616 writes them and parse back', () => {
    const text = formatAuthHeader('Digest', [
      ['realm', 'atlanta "example"', true],
      ['nonce', 'abc', true],
      ['algorithm', 'SHA-256', false],
      ['qop', 'auth', true],
      ['stale', 'true', false],
    ]);
    assert.equal(
      text,
      'Digest realm="atlanta \\"example\\"", nonce="abc", algorithm=SHA-256, qop="auth", stale=true',
    );
    const back = parseAuthHeader(text);
    assert.ok(back.ok);
    assert.equal(back.value.params.get('realm'), 'atlanta "example"');
    assert.equal(back.value.params.get('stale'), 'true');
  });
});
