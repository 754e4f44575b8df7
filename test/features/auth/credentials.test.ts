// The credentials cache: answers kept for auth_cache_ttl, bounded, shared reads, failures not kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CachedCredentialStore,
  MemoryCredentialStore,
  type CredentialStore,
  type Subscriber,
} from '../../../src/features/auth/credentials.js';
import { TestClock } from '../helpers.js';

const alice: Subscriber = { username: 'alice', domain: 'a.example', password: 'x', ha1Sha256: null };

/** A store that counts its reads and can be told to fail. */
function counting(inner: CredentialStore) {
  const state = { reads: 0, fail: false };
  const store: CredentialStore = {
    async find(u, d) {
      state.reads++;
      if (state.fail) throw new Error('down');
      return inner.find(u, d);
    },
  };
  return { store, state };
}

test('answers, "no such user" too, are kept for the TTL', async () => {
  const clock = new TestClock();
  const { store, state } = counting(new MemoryCredentialStore().add(alice));
  const cache = new CachedCredentialStore(store, 60, clock.now);
  assert.deepEqual(await cache.find('alice', 'a.example'), alice);
  assert.deepEqual(await cache.find('alice', 'a.example'), alice);
  assert.equal(await cache.find('bob', undefined), undefined);
  assert.equal(await cache.find('bob', undefined), undefined);
  assert.equal(state.reads, 2);
  // The domain is part of the key.
  assert.deepEqual(await cache.find('alice', undefined), alice);
  assert.equal(state.reads, 3);
  clock.advance(61);
  await cache.find('alice', 'a.example');
  assert.equal(state.reads, 4);
});

test('ttl 0 reads every time; invalidate forgets', async () => {
  const { store, state } = counting(new MemoryCredentialStore().add(alice));
  const uncached = new CachedCredentialStore(store, 0);
  await uncached.find('alice', undefined);
  await uncached.find('alice', undefined);
  assert.equal(state.reads, 2);
  const cache = new CachedCredentialStore(store, 60);
  await cache.find('alice', 'a.example');
  await cache.find('alice', 'b.example');
  cache.invalidate('alice', 'a.example');
  await cache.find('alice', 'a.example');
  await cache.find('alice', 'b.example');
  assert.equal(state.reads, 5);
  cache.invalidate();
  await cache.find('alice', 'b.example');
  assert.equal(state.reads, 6);
});

test('concurrent misses share one read; failures are not cached', async () => {
  const { store, state } = counting(new MemoryCredentialStore().add(alice));
  const cache = new CachedCredentialStore(store, 60);
  const all = await Promise.all([1, 2, 3].map(() => cache.find('alice', undefined)));
  assert.deepEqual(all, [alice, alice, alice]);
  assert.equal(state.reads, 1);
  state.fail = true;
  await assert.rejects(cache.find('bob', undefined), /down/);
  state.fail = false;
  assert.equal(await cache.find('bob', undefined), undefined);
  assert.equal(state.reads, 3);
});

test('the cache holds at most its capacity, least recently used out first', async () => {
  const { store, state } = counting(new MemoryCredentialStore());
  const cache = new CachedCredentialStore(store, 60, Date.now, 2);
  await cache.find('a', undefined);
  await cache.find('b', undefined);
  await cache.find('a', undefined); // a is now the most recent
  await cache.find('c', undefined); // evicts b
  assert.equal(state.reads, 3);
  await cache.find('a', undefined);
  assert.equal(state.reads, 3);
  await cache.find('b', undefined);
  assert.equal(state.reads, 4);
});
