import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionTable } from '../../src/transport/connection-table.js';
import { connectionKey, type StreamConnection } from '../../src/transport/connection.js';
import type { Endpoint } from '../../src/transport/types.js';

let nextId = 1;

/** What the table reads of a connection. */
function fake(proto: 'tcp' | 'tls', remote: Endpoint): StreamConnection {
  const aliases = new Set<string>();
  return {
    id: nextId++,
    proto,
    remote,
    state: 'open',
    get key() {
      return connectionKey(proto, remote);
    },
    aliases,
    addAliasKey: (key: string) => aliases.add(key),
  } as unknown as StreamConnection;
}

const peer = { address: '192.0.2.1', port: 5061 };

test('one connection per peer: found by peer and id, gone once removed', () => {
  const table = new ConnectionTable();
  const a = fake('tls', peer);
  table.add(a);
  assert.equal(table.size, 1);
  assert.equal(table.get(a.id), a);
  assert.equal(table.find('tls', peer), a);
  assert.equal(table.find('tcp', peer), undefined);
  assert.equal(
    table.find('tls', peer, () => false),
    undefined,
  );
  table.remove(a);
  assert.equal(table.size, 0);
  assert.equal(table.find('tls', peer), undefined);
});

test('several connections to one peer: the newest usable one, in any order of removal', () => {
  const table = new ConnectionTable();
  const [a, b, c] = [fake('tls', peer), fake('tls', peer), fake('tls', peer)];
  for (const conn of [a, b, c]) table.add(conn);
  assert.equal(table.find('tls', peer), c);
  assert.equal(
    table.find('tls', peer, (x) => x !== c),
    b,
  );
  (c as { state: string }).state = 'closed';
  assert.equal(table.find('tls', peer), b);
  table.remove(b);
  assert.equal(table.find('tls', peer), a);
  table.remove(c);
  assert.equal(table.find('tls', peer), a);
  table.add(b);
  assert.equal(table.find('tls', peer), b);
  table.remove(a);
  table.remove(b);
  assert.equal(table.find('tls', peer), undefined);
});

test('an alias (RFC 5923) finds the connection until it is removed', () => {
  const table = new ConnectionTable();
  const a = fake('tls', peer);
  const other = fake('tls', { address: '192.0.2.9', port: 5061 });
  table.add(a);
  table.add(other);
  const alias = { address: '192.0.2.9', port: 5061 };
  table.addAlias(a, alias);
  assert.equal(table.find('tls', alias), a, 'the newest under the key');
  table.addAlias(a, peer);
  assert.equal(a.aliases.size, 1, 'its own key is no alias');
  table.remove(a);
  assert.equal(table.find('tls', alias), other);
  assert.equal(table.find('tls', peer), undefined);
});
