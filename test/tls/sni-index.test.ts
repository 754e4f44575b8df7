import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SniIndex } from '../../src/tls/sni-index.js';

function index(...filters: string[]): SniIndex<string> {
  const idx = new SniIndex<string>();
  for (const f of filters) idx.add(f, f);
  return idx;
}

test('exact > longest wildcard suffix > shorter suffix > *', () => {
  const idx = index('*', '*.example.com', '*.a.example.com', 'x.a.example.com');
  assert.equal(idx.match('x.a.example.com')?.value, 'x.a.example.com');
  assert.equal(idx.match('y.a.example.com')?.value, '*.a.example.com');
  assert.equal(idx.match('b.example.com')?.value, '*.example.com');
  assert.equal(idx.match('deep.b.example.com')?.value, '*.example.com');
  assert.equal(idx.match('example.org')?.value, '*');
  // `*.example.com` does not match the bare domain.
  assert.equal(idx.match('example.com')?.value, '*');
});

test('definition order decides between equal filters, never hash order', () => {
  const idx = new SniIndex<number>();
  idx.add('*.example.com', 1);
  idx.add('*.EXAMPLE.com', 2);
  assert.equal(idx.match('a.example.com')?.value, 1);
});

test('general shell patterns rank by literal characters', () => {
  const idx = index('*.example.com', 'sip?.example.com', 'sip[0-9][0-9].example.com', '*');
  assert.equal(idx.match('sip1.example.com')?.value, 'sip?.example.com');
  assert.equal(idx.match('sip12.example.com')?.value, 'sip[0-9][0-9].example.com');
  assert.equal(idx.match('web.example.com')?.value, '*.example.com');
  const negated = index('[!a]*.net');
  assert.equal(negated.match('bob.net')?.value, '[!a]*.net');
  assert.equal(negated.match('alice.net'), undefined);
});

test('none matches only a handshake without SNI; * matches both; explicit names never match no SNI', () => {
  assert.equal(index('none', '*').match(undefined)?.value, 'none');
  assert.equal(index('none', '*').match('a.b')?.value, '*');
  assert.equal(index('*').match(undefined)?.value, '*');
  assert.equal(index('a.example.com').match(undefined), undefined);
  assert.equal(index('none').match('a.example.com'), undefined);
});

test('names are compared case-insensitively (callers lower-case the SNI)', () => {
  assert.equal(index('Atlanta.COM').match('atlanta.com')?.value, 'Atlanta.COM');
  assert.equal(index('*.Biloxi.com').match('sip.biloxi.com')?.value, '*.Biloxi.com');
});

test('stays flat with 100,000 names', () => {
  const idx = new SniIndex<number>();
  for (let i = 0; i < 100_000; i++) {
    idx.add(`host${i}.customer${i % 1000}.example.net`, i);
    if (i % 10 === 0) idx.add(`*.c${i}.example.net`, -i);
  }
  assert.equal(idx.match('host99999.customer999.example.net')?.value, 99_999);
  assert.equal(idx.match('x.y.c500.example.net')?.value, -500);
  assert.equal(idx.match('nobody.example.org'), undefined);
});
