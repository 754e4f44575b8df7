import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { callMgmt, CommandRegistry, MgmtError } from '../../src/mgmt/index.js';
import { deadUrl, serve } from './fixture.js';

test('callMgmt returns results and throws JSON-RPC errors as MgmtError', async (t) => {
  const { url } = await serve(t);
  assert.equal(await callMgmt(url, 'add', { a: 40, b: 2 }), 42);
  assert.equal(await callMgmt(url, 'add', [1, 1]), 2);
  assert.equal(await callMgmt(url, 'nothing'), null);
  await assert.rejects(
    callMgmt(url, 'refuse'),
    (err: unknown) =>
      err instanceof MgmtError &&
      err.code === -32001 &&
      err.message === 'reload refused' &&
      (err.data as { domain: string }).domain === 'example.org',
  );
  await assert.rejects(callMgmt(url, 'nope'), { name: 'MgmtError', code: -32601 });
});

test('callMgmt sends the token, and says so when it is refused', async (t) => {
  const { url } = await serve(t, { token: 'tok' });
  assert.equal(await callMgmt(url, 'add', [1], { token: 'tok' }), 1);
  await assert.rejects(
    callMgmt(url, 'add', [1], { token: 'bad' }),
    /rejected the request: wrong or missing token/,
  );
  await assert.rejects(callMgmt(url, 'add', [1]), /wrong or missing token/);
});

test('callMgmt explains a refused connection and how to point elsewhere', async () => {
  const url = await deadUrl();
  await assert.rejects(callMgmt(url, 'which'), (err: unknown) => {
    assert.ok(err instanceof Error && !(err instanceof MgmtError));
    assert.match(err.message, new RegExp(`no sipsd management server is running at ${url}`));
    assert.match(err.message, /--url/);
    return true;
  });
});

test('callMgmt gives up after timeoutMs', async (t) => {
  const registry = new CommandRegistry();
  let release = (): void => {};
  registry.register({
    name: 'stall',
    summary: 'Hang',
    handler: () => new Promise<void>((r) => (release = r)),
  });
  const server = await serve(t, { registry });
  // The client drops its socket on timeout, so close() does not wait; this only ends the stalled handler.
  t.after(() => release());
  await assert.rejects(
    callMgmt(server.url, 'stall', undefined, { timeoutMs: 50 }),
    /no answer .* within 50 ms/,
  );
});

test('callMgmt rejects answers that are not JSON-RPC, and non-http URLs', async (t) => {
  const impostor = createServer((_req, res) => res.end('<html>hello</html>'));
  await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => impostor.close(resolve)));
  const { port } = impostor.address() as { port: number };
  await assert.rejects(
    callMgmt(`http://127.0.0.1:${port}/`, 'which'),
    /is it the sipsd management interface\?/,
  );
  await assert.rejects(callMgmt('https://127.0.0.1:1/', 'which'), /must start with http:\/\//);
});

test('callMgmt reports HTTP errors with their status', async (t) => {
  const { url } = await serve(t, { maxBodyBytes: 10 });
  await assert.rejects(
    callMgmt(url, 'echo', ['x'.repeat(20)]),
    /answered HTTP 413: request body larger than 10 bytes/,
  );
});
