import assert from 'node:assert/strict';
import { test } from 'node:test';
import { miCommand } from '../../src/cli/mi.js';
import { CommandRegistry, registerBuiltinCommands } from '../../src/mgmt/index.js';
import { deadUrl, probeRegistry, serve } from './fixture.js';

/** Runs `sipsd mi` with captured output. */
async function mi(argv: string[], defaults: { url: string; token?: string }) {
  let stdout = '';
  let stderr = '';
  const code = await miCommand(
    argv,
    { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) },
    defaults,
  );
  return { code, stdout, stderr };
}

test('mi runs a builtin and prints indented JSON', async (t) => {
  const registry = new CommandRegistry();
  let level = 'info';
  registerBuiltinCommands(registry, {
    version: '9.9.9',
    startedAt: new Date(),
    getLogLevel: () => level,
    setLogLevel: (l) => (level = l),
  });
  const { url } = await serve(t, { registry });
  const version = await mi(['version'], { url });
  assert.equal(version.code, 0);
  assert.equal(
    version.stdout,
    `${JSON.stringify({ server: 'sipsd', version: '9.9.9', node: process.version }, null, 2)}\n`,
  );
  const set = await mi(['log_level', 'level=debug'], { url });
  assert.deepEqual(JSON.parse(set.stdout), { level: 'debug', previous: 'info' });
  assert.equal(level, 'debug');
  const help = await mi(['--json', 'help', 'log_level'], { url });
  assert.equal(help.stdout.trim().split('\n').length, 1, '--json prints one line');
  assert.equal((JSON.parse(help.stdout) as { name: string }).name, 'log_level');
});

test('mi sends JSON literals as such and everything else as strings', async (t) => {
  const { registry, calls } = probeRegistry();
  const { url } = await serve(t, { registry });
  await mi(
    ['echo', 'a=1', 'b=true', 'c=null', 'd=abc', 'e="42"', 'f=123456789012345678901', 'g=1.5', 'h=x=y'],
    { url },
  );
  // A JSON-quoted value keeps its `=` from reading as key=value.
  await mi(['echo', '--', '-5', '"abc=="', '--json', '[1]'], { url });
  assert.deepEqual(calls, [
    { a: 1, b: true, c: null, d: 'abc', e: '42', f: '123456789012345678901', g: 1.5, h: 'x=y' },
    [-5, 'abc==', '--json', [1]],
  ]);
});

test('mi reports command errors with their code and exit status 1', async (t) => {
  const { url } = await serve(t);
  const unknown = await mi(['nope'], { url });
  assert.equal(unknown.code, 1);
  assert.equal(unknown.stdout, '');
  assert.equal(unknown.stderr, "error -32601: unknown command 'nope' (try 'which')\n");
  const refused = await mi(['refuse'], { url });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^error -32001: reload refused\n\{\n {2}"domain": "example.org"\n\}\n$/);
});

test('mi uses the default token, or --token, and --url over the default', async (t) => {
  const { url } = await serve(t, { token: 'tok' });
  assert.equal((await mi(['add', '1', '2'], { url, token: 'tok' })).stdout, '3\n');
  assert.equal((await mi(['--token=tok', 'add', '1'], { url })).code, 0);
  const missing = await mi(['add', '1'], { url });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^error: .*wrong or missing token/);
  const elsewhere = await mi(['--url', url, '--token', 'tok', 'add', '5'], { url: await deadUrl() });
  assert.equal(elsewhere.stdout, '5\n');
});

test('mi explains that nothing is running at the URL', async () => {
  const url = await deadUrl();
  const result = await mi(['which'], { url });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /no sipsd management server is running at .*--url URL/);
});

test('mi usage errors exit 2 with the usage; --help exits 0', async () => {
  const url = await deadUrl();
  const none = await mi([], { url });
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^no command given\n\nusage: sipsd mi /);
  assert.match(none.stderr, /sipsd mi which/);
  for (const [argv, message] of [
    [['--verbose', 'which'], /unknown option --verbose/],
    [['which', '--url'], /--url needs a value/],
    [['--json=yes', 'which'], /--json takes no value/],
    [['--url', 'not a url', 'which'], /invalid management URL: not a url/],
    [['echo', 'a=1', 'b'], /mixed key=value and positional args/],
  ] as const) {
    const result = await mi([...argv], { url });
    assert.equal(result.code, 2, argv.join(' '));
    assert.match(result.stderr, message);
  }
  const help = await mi(['--help'], { url });
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage: sipsd mi \[--url URL\]/);
  assert.match(help.stdout, new RegExp(`default ${url}`));
});
