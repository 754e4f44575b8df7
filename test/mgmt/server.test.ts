import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isLoopbackHost, startMgmtServer, type MgmtServerOptions } from '../../src/mgmt/index.js';
import { silentLogger } from '../../src/log/logger.js';
import { captureLog, http, probeRegistry, rpc, serve, type LogEntry } from './fixture.js';

/** Expects startup to fail; a server that starts anyway is closed so the failed test cannot hang the run. */
const refusesToStart = (options: MgmtServerOptions, message: RegExp) =>
  assert.rejects(
    startMgmtServer(options).then((server) => server.close()),
    message,
  );

test('a single call with named params answers its result and id', async (t) => {
  const { url } = await serve(t);
  const reply = await rpc(url, { jsonrpc: '2.0', id: 7, method: 'add', params: { a: 2, b: 3 } });
  assert.equal(reply.status, 200);
  assert.match(String(reply.headers['content-type']), /^application\/json/);
  assert.deepEqual(reply.json, { jsonrpc: '2.0', id: 7, result: 5 });
});

test('positional params map to the declared names, aliases resolve, /json and /mi work too', async (t) => {
  const { url } = await serve(t);
  for (const path of ['/json', '/mi']) {
    const reply = await rpc(new URL(path, url).href, {
      jsonrpc: '2.0',
      id: 'x',
      method: 'math.add',
      params: [4, 5],
    });
    assert.deepEqual(reply.json, { jsonrpc: '2.0', id: 'x', result: 9 });
  }
});

test('commands without declared params get the raw params, {} when absent', async (t) => {
  const { registry, calls } = probeRegistry();
  const { url } = await serve(t, { registry });
  await rpc(url, { jsonrpc: '2.0', id: 1, method: 'echo', params: ['a', 1] });
  await rpc(url, { jsonrpc: '2.0', id: 2, method: 'echo' });
  assert.deepEqual(calls, [['a', 1], {}]);
});

test('a batch answers each call in order and skips notifications', async (t) => {
  const { registry, calls } = probeRegistry();
  const { url } = await serve(t, { registry });
  const reply = await rpc(url, [
    { jsonrpc: '2.0', id: 1, method: 'add', params: { a: 1 } },
    { jsonrpc: '2.0', method: 'echo', params: ['notified'] },
    { jsonrpc: '2.0', id: 2, method: 'nope' },
    { jsonrpc: '2.0', id: 3, method: 'nothing' },
  ]);
  assert.equal(reply.status, 200);
  assert.deepEqual(reply.json, [
    { jsonrpc: '2.0', id: 1, result: 1 },
    { jsonrpc: '2.0', id: 2, error: { code: -32601, message: "unknown command 'nope' (try 'which')" } },
    { jsonrpc: '2.0', id: 3, result: null },
  ]);
  assert.deepEqual(calls, [['notified']]);
});

test('notifications run but get no body (204), alone or as a whole batch', async (t) => {
  const { registry, calls } = probeRegistry();
  const { url } = await serve(t, { registry });
  const single = await rpc(url, { jsonrpc: '2.0', method: 'echo', params: { n: 1 } });
  const batch = await rpc(url, [
    { jsonrpc: '2.0', method: 'echo', params: { n: 2 } },
    { jsonrpc: '2.0', method: 'nope' },
  ]);
  assert.equal(single.status, 204);
  assert.equal(single.text, '');
  assert.equal(batch.status, 204);
  assert.deepEqual(calls, [{ n: 1 }, { n: 2 }]);
});

test('params that do not fit the declaration are invalid params (-32602)', async (t) => {
  const { url } = await serve(t);
  const cases: Array<[unknown, RegExp]> = [
    [{ b: 1 }, /missing required param a/],
    [[1, 2, 3], /too many params \(expected: a, b\)/],
    [{ a: 1, c: 2 }, /unknown param c/],
    [{ a: 'x' }, /numbers only/],
  ];
  for (const [params, message] of cases) {
    const reply = await rpc(url, { jsonrpc: '2.0', id: 1, method: 'add', params });
    const { error } = reply.json as { error: { code: number; message: string } };
    assert.equal(error.code, -32602, JSON.stringify(params));
    assert.match(error.message, message);
  }
});

test('a throwing handler gives -32603 with its message, logged with the command but not the params', async (t) => {
  const { log, entriesUntil } = captureLog();
  const { url } = await serve(t, { log });
  const reply = await rpc(url, { jsonrpc: '2.0', id: 1, method: 'boom', params: { secret: 'hunter2' } });
  assert.deepEqual(reply.json, { jsonrpc: '2.0', id: 1, error: { code: -32603, message: 'disk on fire' } });
  const isFailure = (e: LogEntry) => e.msg === 'management command failed';
  const entries = await entriesUntil(isFailure);
  const failure = entries.find(isFailure);
  assert.equal(failure?.command, 'boom');
  assert.match(JSON.stringify(failure?.err), /disk on fire/);
  assert.doesNotMatch(JSON.stringify(entries), /hunter2/);
});

test('a MgmtError keeps its code, message and data', async (t) => {
  const { url } = await serve(t);
  const reply = await rpc(url, { jsonrpc: '2.0', id: null, method: 'refuse' });
  assert.deepEqual(reply.json, {
    jsonrpc: '2.0',
    id: null,
    error: { code: -32001, message: 'reload refused', data: { domain: 'example.org' } },
  });
});

test('an unserializable result is an internal error, not a broken reply', async (t) => {
  const { url } = await serve(t);
  const reply = await rpc(url, { jsonrpc: '2.0', id: 1, method: 'bigint' });
  const { error } = reply.json as { error: { code: number; message: string } };
  assert.equal(error.code, -32603);
  assert.match(error.message, /not serializable/);
});

test('malformed bodies: parse error, empty batch and invalid requests', async (t) => {
  const { url } = await serve(t);
  const codeOf = async (body: unknown) => {
    const reply = await rpc(url, body);
    assert.equal(reply.status, 200);
    return reply.json as { id: unknown; error: { code: number } };
  };
  assert.deepEqual(await codeOf('{"jsonrpc": "2.0", "method"'), {
    jsonrpc: '2.0',
    id: null,
    error: { code: -32700, message: 'parse error: body is not valid JSON' },
  });
  assert.equal((await codeOf('method=which')).error.code, -32700);
  assert.equal((await codeOf([])).error.code, -32600);
  assert.deepEqual(await codeOf({ id: 4, method: 'echo' }), {
    jsonrpc: '2.0',
    id: 4,
    error: { code: -32600, message: 'invalid request: jsonrpc must be "2.0"' },
  });
  assert.equal((await codeOf({ jsonrpc: '2.0', id: 5, method: 'echo', params: 'x' })).error.code, -32600);
  assert.equal((await codeOf({ jsonrpc: '2.0', id: { no: 1 }, method: 'echo' })).id, null);
  const batch = (await rpc(url, [1, 2])).json as Array<{ error: { code: number } }>;
  assert.deepEqual(
    batch.map((r) => r.error.code),
    [-32600, -32600],
  );
});

test('bodies over the limit get 413, whether declared or streamed', async (t) => {
  const { url } = await serve(t, { maxBodyBytes: 64 });
  const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'echo', params: { pad: 'x'.repeat(100) } });
  const declared = await http(url, { method: 'POST', body: big });
  const streamed = await http(url, { method: 'POST', chunks: [big.slice(0, 50), big.slice(50)] });
  assert.equal(declared.status, 413);
  assert.equal(streamed.status, 413);
  assert.equal((await rpc(url, { jsonrpc: '2.0', id: 1, method: 'nothing' })).status, 200);
});

test('other methods get 405 with Allow, other paths 404', async (t) => {
  const { url } = await serve(t);
  const put = await http(url, { method: 'PUT', body: '{}' });
  assert.equal(put.status, 405);
  assert.equal(put.headers.allow, 'GET, POST');
  assert.equal((await http(url, { path: '/nowhere' })).status, 404);
  assert.equal((await http(url, { path: '/metrics' })).status, 404, 'no metrics hook, no metrics path');
});

test('GET / lists the command names', async (t) => {
  const { url } = await serve(t);
  const reply = await http(url, {});
  assert.equal(reply.status, 200);
  const { commands } = JSON.parse(reply.text) as { commands: string[] };
  assert.deepEqual(commands, ['add', 'bigint', 'boom', 'echo', 'nothing', 'refuse']);
});

test('GET /metrics serves the hook in the Prometheus text format', async (t) => {
  const { url } = await serve(t, { metrics: async () => 'sipsd_up 1\n' });
  const reply = await http(url, { path: '/metrics' });
  assert.equal(reply.status, 200);
  assert.equal(reply.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  assert.equal(reply.text, 'sipsd_up 1\n');
  assert.equal((await http(url, { method: 'POST', path: '/metrics' })).status, 405);
});

test('with a token, every request needs the right bearer token', async (t) => {
  const { log, entriesUntil } = captureLog();
  const token = 's3cret-token';
  const { url } = await serve(t, { token, log });
  const call = { jsonrpc: '2.0', id: 1, method: 'nothing' };
  const missing = await rpc(url, call);
  assert.equal(missing.status, 401);
  assert.equal(missing.headers['www-authenticate'], 'Bearer');
  assert.equal((await rpc(url, call, { Authorization: 'Bearer wrong' })).status, 401);
  assert.equal((await rpc(url, call, { Authorization: token })).status, 401, 'the Bearer scheme is required');
  assert.equal((await http(url, { path: '/nowhere' })).status, 401, 'no route discovery without the token');
  const ok = await rpc(url, call, { Authorization: `Bearer ${token}` });
  assert.deepEqual(ok.json, { jsonrpc: '2.0', id: 1, result: null });
  const entries = await entriesUntil((e) => e.msg === 'management interface listening');
  assert.equal(entries.find((e) => e.msg === 'management interface listening')?.auth, true);
  assert.doesNotMatch(JSON.stringify(entries), /s3cret/);
});

test('refuses non-loopback hosts unless allowRemote and a token are both set', async () => {
  const base = { port: 0, registry: probeRegistry().registry, log: silentLogger };
  for (const options of [
    { host: '0.0.0.0' },
    { host: '::', token: 't' },
    { host: '0.0.0.0', allowRemote: true },
    { host: 'sip.example.org', allowRemote: false, token: 't' },
  ]) {
    await refusesToStart(
      { ...base, ...options },
      /not a loopback address; set allowRemote: true and a token/,
    );
  }
  await refusesToStart({ ...base, host: '127.0.0.1', token: '' }, /token is set but empty/);
});

test('allowRemote with a token binds 0.0.0.0, and still demands the token', async (t) => {
  const server = await serve(t, { host: '0.0.0.0', allowRemote: true, token: 'tok' });
  assert.equal(server.address.host, '0.0.0.0');
  const local = `http://127.0.0.1:${server.address.port}/`;
  assert.equal((await rpc(local, { jsonrpc: '2.0', id: 1, method: 'nothing' })).status, 401);
  const ok = await rpc(
    local,
    { jsonrpc: '2.0', id: 1, method: 'add', params: [1] },
    { Authorization: 'Bearer tok' },
  );
  assert.deepEqual(ok.json, { jsonrpc: '2.0', id: 1, result: 1 });
});

test('a taken port is a clear startup error', async (t) => {
  const first = await serve(t);
  await refusesToStart(
    { host: '127.0.0.1', port: first.address.port, registry: probeRegistry().registry, log: silentLogger },
    /cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/,
  );
});

test('isLoopbackHost knows loopback spellings from the rest', () => {
  for (const host of [
    'localhost',
    'LOCALHOST',
    '127.0.0.1',
    '127.8.9.10',
    '::1',
    '0:0:0:0:0:0:0:1',
    '::ffff:127.0.0.1',
  ]) {
    assert.equal(isLoopbackHost(host), true, host);
  }
  for (const host of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', 'localhost.example.org', '']) {
    assert.equal(isLoopbackHost(host), false, host);
  }
});
