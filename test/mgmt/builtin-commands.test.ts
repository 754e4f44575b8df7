import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  bindParams,
  CommandRegistry,
  MgmtError,
  registerBuiltinCommands,
  type MgmtParams,
} from '../../src/mgmt/index.js';

function setup(startedAt = new Date()) {
  const registry = new CommandRegistry();
  const state = { level: 'info' };
  registerBuiltinCommands(registry, {
    version: '1.2.3',
    startedAt,
    getLogLevel: () => state.level,
    setLogLevel: (level) => (state.level = level),
  });
  // The same path the server takes: look up, bind params, run.
  const call = async (name: string, params?: MgmtParams) => {
    const cmd = registry.get(name);
    assert.ok(cmd, `${name} is registered`);
    return cmd.handler(bindParams(cmd, params));
  };
  return { registry, state, call };
}

const invalidParams = (message: RegExp) => (err: unknown) =>
  err instanceof MgmtError && err.code === -32602 && message.test(err.message);

test('which lists every command with aliases and summaries, also as system.listMethods', async () => {
  const { call } = setup();
  const list = (await call('which')) as Array<{ name: string; aliases: string[]; summary: string }>;
  assert.deepEqual(
    list.map((c) => c.name),
    ['help', 'log_level', 'ps', 'uptime', 'version', 'which'],
  );
  assert.deepEqual(list.find((c) => c.name === 'version')?.aliases, ['core.version']);
  assert.ok(list.every((c) => c.summary.length > 0));
  assert.deepEqual(await call('system.listMethods'), list);
});

test('ps lists this one process', async () => {
  const { call } = setup();
  assert.deepEqual(await call('core.psx'), [
    { id: 0, pid: process.pid, type: 'sipsd: SIP, TLS and management' },
  ]);
});

test('version reports sipsd and Node versions', async () => {
  const { call } = setup();
  assert.deepEqual(await call('core.version'), { server: 'sipsd', version: '1.2.3', node: process.version });
});

test('uptime counts whole seconds since the start', async () => {
  const startedAt = new Date(Date.now() - 90_500);
  const { call } = setup(startedAt);
  const up = (await call('core.uptime')) as { now: string; up_since: string; up_time: number };
  assert.equal(up.up_since, startedAt.toISOString());
  assert.ok(up.up_time >= 90 && up.up_time <= 92, String(up.up_time));
  assert.ok(Math.abs(Date.parse(up.now) - Date.now()) < 5_000);
});

test('log_level shows, sets and validates the level', async () => {
  const { call, state } = setup();
  assert.deepEqual(await call('log_level'), { level: 'info' });
  assert.deepEqual(await call('log_level', ['debug']), { level: 'debug', previous: 'info' });
  assert.equal(state.level, 'debug');
  await assert.rejects(call('log_level', { level: 'verbose' }), invalidParams(/invalid level "verbose"/));
  await assert.rejects(call('log_level', { level: 3 }), invalidParams(/invalid level 3/));
  assert.equal(state.level, 'debug', 'a refused level changes nothing');
});

test('help describes a command by name or alias', async () => {
  const { call } = setup();
  assert.deepEqual(await call('help', { command: 'core.version' }), {
    name: 'version',
    aliases: ['core.version'],
    summary: 'Show the sipsd and Node.js versions',
    params: [],
  });
  const logLevel = (await call('help', ['log_level'])) as { params: Array<{ name: string }> };
  assert.deepEqual(
    logLevel.params.map((p) => p.name),
    ['level'],
  );
  await assert.rejects(call('help', ['nope']), invalidParams(/unknown command "nope"/));
  await assert.rejects(call('help'), invalidParams(/missing required param command/));
});
