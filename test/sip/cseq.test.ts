import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatCSeq,
  parseCallId,
  parseContentLength,
  parseCSeq,
  parseMaxForwards,
} from '../../src/sip/cseq.js';

describe('parseCSeq', () => {
  test('number and method, any whitespace between', () => {
    assert.deepEqual(parseCSeq('314159 INVITE'), { ok: true, value: { seq: 314159, method: 'INVITE' } });
    assert.deepEqual(parseCSeq('  1 \t  OPTIONS  '), { ok: true, value: { seq: 1, method: 'OPTIONS' } });
    assert.deepEqual(parseCSeq('0 NEWMETHOD'), { ok: true, value: { seq: 0, method: 'NEWMETHOD' } });
  });

  test('the number must be below 2**31', () => {
    assert.equal(parseCSeq('2147483647 BYE').ok, true);
    assert.equal(parseCSeq('2147483648 BYE').ok, false);
  });

  test('rejects garbage', () => {
    for (const value of [
      '',
      'INVITE',
      '1',
      '-1 INVITE',
      '1.5 INVITE',
      'x1 INVITE',
      '1 INV ITE',
      '1 INVITE,',
      '99999999999999999999 INVITE',
    ]) {
      const result = parseCSeq(value);
      assert.equal(result.ok, false, value);
      if (!result.ok) assert.equal(result.error.code, 'bad-cseq');
    }
  });

  test('formats back', () => {
    assert.equal(formatCSeq({ seq: 42, method: 'REGISTER' }), '42 REGISTER');
  });
});

describe('parseMaxForwards', () => {
  test('digits only', () => {
    assert.deepEqual(parseMaxForwards('70'), { ok: true, value: 70 });
    assert.deepEqual(parseMaxForwards(' 0 '), { ok: true, value: 0 });
    for (const value of ['', '-1', '+5', 'ten', '7 0', '1e2'])
      assert.equal(parseMaxForwards(value).ok, false, value);
  });
});

describe('parseContentLength', () => {
  test('accepts plain non-negative integers, leading zeros and surrounding whitespace', () => {
    assert.deepEqual(parseContentLength('0'), { ok: true, value: 0 });
    assert.deepEqual(parseContentLength(' 0129 '), { ok: true, value: 129 });
    assert.deepEqual(parseContentLength('\r\n 42'), { ok: true, value: 42 });
  });

  test('rejects anything a lenient parser might misread', () => {
    for (const value of [
      '',
      '-1',
      '+5',
      '5 5',
      '0x10',
      '1e3',
      '5;x',
      'abc',
      '12abc',
      '99999999999999999999',
      '4294967296',
    ]) {
      const result = parseContentLength(value);
      assert.equal(result.ok, false, value);
      if (!result.ok) assert.equal(result.error.code, 'bad-content-length');
    }
  });
});

describe('parseCallId', () => {
  test('one word, optionally word@word', () => {
    assert.deepEqual(parseCallId(' a84b4c76e66710@pc33.atlanta.example.com '), {
      ok: true,
      value: 'a84b4c76e66710@pc33.atlanta.example.com',
    });
    assert.deepEqual(parseCallId('j2qu348ek2328ws'), { ok: true, value: 'j2qu348ek2328ws' });
  });

  test('rejects empty and whitespace-split values', () => {
    assert.equal(parseCallId('').ok, false);
    assert.equal(parseCallId('a b').ok, false);
  });
});
