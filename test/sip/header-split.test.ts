import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { findValueSeparator, isMultiValuedHeader, splitHeaderValues } from '../../src/sip/header-split.js';

describe('splitHeaderValues', () => {
  test('splits on commas and trims whitespace', () => {
    assert.deepEqual(splitHeaderValues('INVITE, ACK ,CANCEL,\tBYE'), ['INVITE', 'ACK', 'CANCEL', 'BYE']);
  });

  test('keeps commas inside quoted display names and <URIs>', () => {
    const value = '"Doe, John" <sip:j@a.example.com;x=1,2>;tag=1, <sip:b@b.example.com>';
    assert.deepEqual(splitHeaderValues(value), [
      '"Doe, John" <sip:j@a.example.com;x=1,2>;tag=1',
      '<sip:b@b.example.com>',
    ]);
  });

  test('honours backslash escapes in quoted strings', () => {
    const value = '"a \\" , b" <sip:x@y>, <sip:z@w>';
    assert.deepEqual(splitHeaderValues(value), ['"a \\" , b" <sip:x@y>', '<sip:z@w>']);
  });

  test('ignores < inside quotes', () => {
    assert.deepEqual(splitHeaderValues('"<,>" <sip:a@b>, <sip:c@d>'), ['"<,>" <sip:a@b>', '<sip:c@d>']);
  });

  test('drops empty elements', () => {
    assert.deepEqual(splitHeaderValues('a,, b,'), ['a', 'b']);
    assert.deepEqual(splitHeaderValues('   '), []);
  });

  test('an unterminated quote or bracket swallows the rest instead of splitting', () => {
    assert.deepEqual(splitHeaderValues('"a, b'), ['"a, b']);
    assert.deepEqual(splitHeaderValues('<sip:a, b'), ['<sip:a, b']);
  });

  test('splits long multi-value Via lists', () => {
    const vias = Array.from({ length: 40 }, (_, i) => `SIP/2.0/UDP 10.0.0.${i}:5060;branch=z9hG4bK${i}`);
    assert.deepEqual(splitHeaderValues(vias.join(' ,  ')), vias);
  });
});

describe('findValueSeparator', () => {
  test('finds the first top-level comma from a position', () => {
    assert.equal(findValueSeparator('a,b,c'), 1);
    assert.equal(findValueSeparator('a,b,c', 2), 3);
    assert.equal(findValueSeparator('"a,b"'), -1);
  });
});

describe('isMultiValuedHeader', () => {
  test('knows the list headers', () => {
    for (const key of [
      'via',
      'route',
      'record-route',
      'contact',
      'allow',
      'supported',
      'require',
      'proxy-require',
      'unsupported',
      'accept',
      'path',
    ]) {
      assert.equal(isMultiValuedHeader(key), true, key);
    }
  });

  test('excludes headers whose single value contains commas', () => {
    for (const key of [
      'www-authenticate',
      'authorization',
      'proxy-authenticate',
      'proxy-authorization',
      'date',
      'subject',
      'x-unknown',
    ]) {
      assert.equal(isMultiValuedHeader(key), false, key);
    }
  });
});
