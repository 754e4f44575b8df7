// The pure parts of running several workers: who owns a connection id, a branch or a UDP Call-ID;
// how the primary joins the workers' management answers; how registrar changes replicate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  branchMark,
  connectionIds,
  ownerOfBranchToken,
  ownerOfCallId,
  ownerOfConnection,
} from '../../src/cluster/identity.js';
import { joinAnswers } from '../../src/cluster/primary.js';
import type { Binding } from '../../src/features/registrar/binding.js';
import { Location, type LocationChange } from '../../src/features/registrar/location.js';

test('connection ids are unique over the workers and name their owner', () => {
  const w1 = connectionIds({ index: 1, count: 3 });
  const w3 = connectionIds({ index: 3, count: 3 });
  const ids1 = [w1(), w1(), w1()];
  const ids3 = [w3(), w3()];
  assert.equal(new Set([...ids1, ...ids3]).size, 5);
  for (const id of ids1) assert.equal(ownerOfConnection(id, { index: 1, count: 3 }), 1);
  for (const id of ids3) assert.equal(ownerOfConnection(id, { index: 2, count: 3 }), 3);
  // One process keeps counting 1, 2, 3 and never asks anyone else.
  const single = connectionIds({ index: 1, count: 1 });
  assert.deepEqual([single(), single(), single()], [1, 2, 3]);
  assert.equal(ownerOfConnection(2, { index: 1, count: 1 }), undefined);
});

test('branch marks name the worker; other branches name none', () => {
  assert.equal(branchMark({ index: 1, count: 1 }), '');
  const mark = branchMark({ index: 12, count: 16 });
  assert.equal(mark, 'w12.');
  assert.equal(ownerOfBranchToken(`${mark}AbC-123`), 12);
  assert.equal(ownerOfBranchToken('AbC-123'), undefined);
  assert.equal(ownerOfBranchToken('w.abc'), undefined);
  assert.equal(ownerOfBranchToken('wx1.abc'), undefined);
  assert.equal(ownerOfBranchToken('w99.abc'), undefined);
});

test('a Call-ID always hashes to the same worker, and Call-IDs spread over all of them', () => {
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < 4000; i++) {
    const owner = ownerOfCallId(`call-${i}@host`, 4);
    assert.equal(ownerOfCallId(`call-${i}@host`, 4), owner);
    counts[owner - 1]!++;
  }
  for (const c of counts) assert.ok(c > 800 && c < 1200, `uneven spread ${counts.join('/')}`);
});

test('joining answers: lists concatenated with their worker, counts added, changes answered once', () => {
  const parts = [
    { worker: 1, result: [{ id: 1 }, { id: 65 }] },
    { worker: 2, result: [{ id: 2 }] },
  ];
  assert.deepEqual(joinAnswers({ join: 'concat' }, parts), [
    { worker: 1, id: 1 },
    { worker: 1, id: 65 },
    { worker: 2, id: 2 },
  ]);
  const info = [
    { worker: 1, result: { inbound: 3, outbound: 1, domains: 7 } },
    { worker: 2, result: { inbound: 2, outbound: 0, domains: 7 } },
  ];
  assert.deepEqual(joinAnswers({ join: 'sum', fields: ['inbound', 'outbound'] }, info), {
    inbound: 5,
    outbound: 1,
    domains: 7,
  });
  assert.deepEqual(joinAnswers({ join: 'same' }, info), info[0]!.result);
});

const binding = (id: string, contact: string): Binding => ({
  id,
  username: 'alice',
  domain: 'example.com',
  contact,
  params: '',
  q: undefined,
  expires: Math.floor(Date.now() / 1000) + 300,
  callId: `cid-${id}`,
  cseq: 1,
  path: [],
  received: undefined,
  socket: undefined,
  userAgent: undefined,
  instance: undefined,
  regId: undefined,
  lastModified: Math.floor(Date.now() / 1000),
});

test('registrar changes replicate as differences: two workers changing one AoR both keep theirs', async () => {
  const one = new Location({ useDomain: false });
  const two = new Location({ useDomain: false });
  const fromOne: LocationChange[] = [];
  const fromTwo: LocationChange[] = [];
  one.onChange = (c) => void fromOne.push(c);
  two.onChange = (c) => void fromTwo.push(c);
  const aor = { key: 'alice', username: 'alice', domain: 'example.com' };
  // Both phones register at once, each on its own worker, neither seeing the other's yet.
  await one.replace(aor, [binding('desk', 'sip:alice@10.0.0.1')]);
  await two.replace(aor, [binding('mobile', 'sip:alice@10.0.0.2')]);
  for (const c of fromOne) two.apply(c);
  for (const c of fromTwo) one.apply(c);
  const contacts = (l: Location) =>
    l
      .lookup('alice')
      .map((b) => b.contact)
      .sort();
  assert.deepEqual(contacts(one), ['sip:alice@10.0.0.1', 'sip:alice@10.0.0.2']);
  assert.deepEqual(contacts(two), contacts(one));
  // An unregister on one worker removes only that binding everywhere.
  fromOne.length = 0;
  await one.replace(
    aor,
    one.bindings('alice').filter((b) => b.id !== 'desk'),
  );
  for (const c of fromOne) two.apply(c);
  assert.deepEqual(contacts(two), ['sip:alice@10.0.0.2']);
  // Applying a change does not echo it back.
  assert.equal(fromTwo.length, 1);
});
