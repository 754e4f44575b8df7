// The peer the operators use to poke a TLS port: `openssl s_client` sends OPTIONS and gets 200 OK.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { options, startTestServer, type TestServer } from '../helpers/peers.js';

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(async () => {
  await t.stop();
});

function sClient(port: number, caFile: string, input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'openssl',
      [
        's_client',
        '-connect',
        `127.0.0.1:${port}`,
        '-CAfile',
        caFile,
        '-servername',
        'localhost',
        '-verify_return_error',
        '-quiet',
      ],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    let out = '';
    const timer = setTimeout(() => child.kill(), 5000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Content-Length: 0\r\n\r\n')) child.kill();
    });
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    child.stdin.write(input);
  });
}

test('openssl s_client: OPTIONS over TLS gets 200 OK, certificate verified against the test CA', async () => {
  const out = await sClient(t.port('tls'), t.pki.caFile, options('TLS'));
  assert.match(out, /^SIP\/2\.0 200 OK\r$/m);
});

test('openssl s_client: CRLFCRLF keepalive gets CRLF', async () => {
  const out = await sClient(t.port('tls'), t.pki.caFile, '\r\n\r\n' + options('TLS'));
  assert.ok(out.startsWith('\r\nSIP/2.0 200 OK'), JSON.stringify(out.slice(0, 40)));
});
