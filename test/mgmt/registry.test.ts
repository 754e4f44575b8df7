import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  bindParams,
  CommandRegistry,
  MgmtError,
  namedParams,
  type MgmtCommand,
} from '../../src/mgmt/index.js';

const cmd = (name: string, extra: Partial<MgmtCommand> = {}): MgmtCommand => ({
  name,
  summary: `${name} summary`,
  handler: () => name,
  ...extra,
});

test('commands are found by name and alias, and listed once each, sorted', () => {
  const registry = new CommandRegistry();
  registry.register(cmd('tls_list', { aliases: ['tls.list'] }));
  registry.register(cmd('core_x'));
  assert.equal(registry.get('tls.list')?.name, 'tls_list');
  assert.equal(registry.get('tls_list'), registry.get('tls.list'));
  assert.equal(registry.get('tls'), undefined);
  assert.deepEqual(
    registry.list().map((c) => c.name),
    ['core_x', 'tls_list'],
  );
});

test('a name or alias taken twice is a registration error', () => {
  const registry = new CommandRegistry();
  registry.register(cmd('tls_list', { aliases: ['tls.list'] }));
  assert.throws(() => registry.register(cmd('tls_list')), /'tls_list' registered twice/);
  assert.throws(
    () => registry.register(cmd('other', { aliases: ['tls.list'] })),
    /'tls.list' registered twice/,
  );
  assert.throws(() => registry.register(cmd('tls.list')), /registered twice/);
  assert.throws(() => registry.register(cmd('self', { aliases: ['self'] })), /repeats a name/);
  assert.throws(() => registry.register(cmd('')), /empty name/);
  assert.equal(registry.get('other'), undefined, 'a rejected command leaves nothing behind');
});

test('bindParams maps, checks and passes through params', () => {
  const declared = cmd('set', {
    params: [
      { name: 'key', required: true, summary: 'k' },
      { name: 'value', summary: 'v' },
    ],
  });
  assert.deepEqual(bindParams(declared, ['a']), { key: 'a' });
  assert.deepEqual(bindParams(declared, { key: 'a', value: null }), { key: 'a', value: null });
  const invalid = (raw: Record<string, unknown> | unknown[] | undefined, message: RegExp) =>
    assert.throws(
      () => bindParams(declared, raw),
      (err: unknown) => err instanceof MgmtError && err.code === -32602 && message.test(err.message),
    );
  invalid(undefined, /set: missing required param key/);
  invalid(['a', 'b', 'c'], /too many params \(expected: key, value\)/);
  invalid({ key: 'a', other: 1, more: 2 }, /unknown param other, more/);
  assert.throws(() => bindParams(cmd('none', { params: [] }), [1]), /expected: none/);
  const raw = cmd('raw');
  assert.deepEqual(bindParams(raw, [1, 2]), [1, 2]);
  assert.deepEqual(bindParams(raw, undefined), {});
});

test('namedParams narrows objects and rejects arrays', () => {
  assert.deepEqual(namedParams({ a: 1 }), { a: 1 });
  assert.throws(() => namedParams([1]), /declare its params/);
});
