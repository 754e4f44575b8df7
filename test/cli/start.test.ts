// The command line as an operator runs it: first start on the embedded defaults, banner, OPTIONS on
// the default ports, clean shutdown on SIGTERM; `sipsd check` for good and broken configurations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { options, statusOf, udpRequest } from '../helpers/peers.js';

const MAIN = join(import.meta.dirname, '../../src/cli/main.ts');

function run(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
      env: { ...process.env, ...env },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

test('first start creates the data folder, prints the banner, answers OPTIONS, stops on SIGTERM', async () => {
  const home = mkdtempSync(join(tmpdir(), 'sipsd-home-'));
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'start'], {
      env: { ...process.env, SIPSD_HOME: home },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const deadline = Date.now() + 20_000;
    while (!out.includes('stop with Ctrl-C') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    assert.match(out, /first run: created .*sipsd\.yaml and a test PKI/);
    assert.match(out, /listening: {2}udp:127\.0\.0\.1:5060/);
    assert.match(out, /tls:127\.0\.0\.1:5061/);
    assert.match(out, /management: http:\/\/127\.0\.0\.1:8888\//);
    assert.ok(existsSync(join(home, 'sipsd.yaml')));
    assert.equal(statSync(join(home, 'sipsd.yaml')).mode & 0o077, 0, 'config is private to its owner');
    assert.equal(statusOf(await udpRequest(5060, options('UDP'))), 200);
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.doesNotMatch(out, /BEGIN (EC |RSA )?PRIVATE KEY/, 'no key material is printed');
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('sipsd check: OK for the generated config, precise errors for broken ones', async () => {
  const home = mkdtempSync(join(tmpdir(), 'sipsd-check-'));
  try {
    const good = await run(['check'], { SIPSD_HOME: home });
    assert.equal(good.code, 0, good.err);
    assert.match(good.out, /sipsd\.yaml: OK/);

    const file = join(home, 'sipsd.yaml');
    const text = readFileSync(file, 'utf8');
    writeFileSync(
      join(home, 'missing-cert.yaml'),
      text.replace(/certificate: pki\/server\.pem/, 'certificate: pki/nope.pem'),
    );
    const missing = await run(['check', '-c', join(home, 'missing-cert.yaml')], {});
    assert.equal(missing.code, 1);
    assert.match(missing.err, /TLS domain "default" \(server\): certificate \(.*nope\.pem\): file not found/);

    writeFileSync(join(home, 'typo.yaml'), text.replace('tls_send_timeout: 100', 'tls_sendtimeout: 100'));
    const typo = await run(['check', '-c', join(home, 'typo.yaml')], {});
    assert.equal(typo.code, 2);
    assert.match(typo.err, /typo\.yaml:\d+: tls_sendtimeout: unknown key; did you mean "tls_send_timeout"\?/);

    // A Kamailio parameter without an effect here is accepted, and named.
    writeFileSync(join(home, 'kamailio.yaml'), `${text}\nssl_read_ahead: 1\n`);
    const compat = await run(['check', '-c', join(home, 'kamailio.yaml')], {});
    assert.equal(compat.code, 0, compat.err);
    assert.match(compat.out, /^notice: ssl_read_ahead: cannot be turned on: /m);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
