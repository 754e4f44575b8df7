import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { certCommand } from '../../src/cli/cert.js';
import { hasOpenssl, openssl, tempDir } from './helpers.js';

async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await certCommand(argv, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  // Whatever happens, key material never reaches the terminal.
  assert.doesNotMatch(stdout + stderr, /-----BEGIN/);
  return { code, stdout, stderr };
}

test('init-ca, issue, revoke, crl, list and show work end to end', async () => {
  const dir = path.join(tempDir(), 'ca');
  const init = await run(
    'init-ca',
    '--dir',
    dir,
    '--subject',
    '/C=AT/ST=Vienna/O=sipsd test/CN=sipsd Test CA',
  );
  assert.equal(init.code, 0, init.stderr);
  assert.match(init.stdout, new RegExp(`certificate: ${path.join(dir, 'ca.pem')}`));
  assert.match(init.stdout, new RegExp(`private key: ${path.join(dir, 'ca.key')} +\\(mode 0600\\)`));

  const server = await run(
    'issue',
    '--dir',
    dir,
    '--name',
    'server',
    '--cn',
    'localhost',
    '--ip',
    '127.0.0.1,::1',
  );
  assert.equal(server.code, 0, server.stderr);
  assert.match(server.stdout, /issued server certificate 'server', serial \d+/);
  assert.match(server.stdout, /alt names: +DNS:localhost, IP:127\.0\.0\.1, IP:::1/);
  assert.match(server.stdout, new RegExp(`chain: +${path.join(dir, 'server-chain.pem')}`));
  const serverCert = new X509Certificate(readFileSync(path.join(dir, 'server.pem')));
  assert.equal(serverCert.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');

  const passFile = path.join(dir, 'pass.txt');
  writeFileSync(passFile, 'client secret\n');
  const client = await run(
    ...[
      'issue',
      '--dir',
      dir,
      '--name',
      'alice',
      '--client',
      '--cn',
      'alice',
      '--uri',
      'sip:alice@example.com',
    ],
    ...['--key', 'ec384', '--days', '30', '--passphrase-file', passFile],
  );
  assert.equal(client.code, 0, client.stderr);
  assert.match(client.stdout, /\(mode 0600, encrypted\)/);
  assert.match(readFileSync(path.join(dir, 'alice.key'), 'utf8'), /ENCRYPTED PRIVATE KEY/);
  const aliceCert = new X509Certificate(readFileSync(path.join(dir, 'alice.pem')));
  assert.equal(aliceCert.subjectAltName, 'URI:sip:alice@example.com');
  assert.equal(aliceCert.publicKey.asymmetricKeyDetails?.namedCurve, 'secp384r1');
  const aliceSerial = BigInt(`0x${aliceCert.serialNumber}`).toString();

  const revoked = await run('revoke', '--dir', dir, 'alice', '--reason', 'keyCompromise');
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.match(
    revoked.stdout,
    new RegExp(`revoked 'alice' \\(serial ${aliceSerial}, reason keyCompromise\\)`),
  );
  assert.match(revoked.stdout, /sipsd cert crl --dir/);

  const crl = await run('crl', '--dir', dir, '--days', '7');
  assert.equal(crl.code, 0, crl.stderr);
  assert.equal(
    crl.stdout,
    `wrote CRL number 2 with 1 revoked certificate(s) to ${path.join(dir, 'crl.pem')}\n`,
  );

  const listed = await run('list', '--dir', dir);
  assert.equal(listed.code, 0, listed.stderr);
  const rows = listed.stdout.trim().split('\n');
  assert.match(rows[0] ?? '', /^NAME +STATUS +SERIAL +NOT AFTER +SUBJECT$/);
  assert.match(rows[1] ?? '', /^server +valid +\d+ +\d{4}-\d\d-\d\d +CN=localhost$/);
  assert.match(rows[2] ?? '', new RegExp(`^alice +revoked +${aliceSerial} `));

  const shown = await run('show', path.join(dir, 'server-chain.pem'));
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /\[1\/2\] certificate\n +subject: +CN=localhost\n/);
  assert.match(shown.stdout, /issuer: +C=AT, ST=Vienna, O=sipsd test, CN=sipsd Test CA\n/);
  assert.match(shown.stdout, /issuer: +C=AT, ST=Vienna, O=sipsd test, CN=sipsd Test CA \(self-signed\)/);
  assert.match(shown.stdout, new RegExp(`serial: +\\d+ \\(0x${serverCert.serialNumber}\\)`));
  assert.match(shown.stdout, /not after: .*\(valid, 36\d days left\)/);
  assert.match(shown.stdout, /purposes: +serverAuth\n/);
  assert.match(shown.stdout, /alt names: +DNS:localhost, IP Address:127\.0\.0\.1/);
  assert.match(shown.stdout, new RegExp(`SHA-256: +${serverCert.fingerprint256}`));

  const shownCrl = await run('show', path.join(dir, 'crl.pem'));
  assert.match(shownCrl.stdout, /CRL number: +2\n/);
  assert.match(shownCrl.stdout, new RegExp(`${aliceSerial} at .* \\(keyCompromise\\)`));

  const shownKey = await run('show', path.join(dir, 'server.key'));
  assert.deepEqual(shownKey, { code: 0, stdout: 'PRIVATE KEY (contents not shown)\n', stderr: '' });

  if (hasOpenssl) {
    const ca = path.join(dir, 'ca.pem');
    assert.ok(openssl('verify', '-CAfile', ca, path.join(dir, 'server.pem')).ok);
    const check = ['verify', '-crl_check', '-CAfile', ca, '-CRLfile', path.join(dir, 'crl.pem')];
    assert.match(openssl(...check, path.join(dir, 'alice.pem')).output, /certificate revoked/);
    assert.ok(openssl(...check, path.join(dir, 'server.pem')).ok);
  }
});

test('a passphrase-protected CA key is unlocked with --ca-passphrase-file', async () => {
  const dir = tempDir();
  const passFile = path.join(dir, 'ca-pass');
  writeFileSync(passFile, 'ca secret\n');
  assert.equal((await run('init-ca', '--dir', dir, '--passphrase-file', passFile)).code, 0);
  const locked = await run('issue', '--dir', dir, '--name', 'a', '--cn', 'a');
  assert.equal(locked.code, 1);
  assert.match(locked.stderr, /ca\.key: the private key is encrypted: a passphrase is needed/);
  const unlocked = await run(
    'issue',
    '--dir',
    dir,
    '--name',
    'a',
    '--cn',
    'a',
    '--ca-passphrase-file',
    passFile,
  );
  assert.equal(unlocked.code, 0, unlocked.stderr);
  assert.equal((await run('crl', '--dir', dir, '--ca-passphrase-file', passFile)).code, 0);
});

test('usage errors exit 2 and name the problem', async () => {
  const dir = tempDir();
  const cases: [string[], RegExp][] = [
    [['issue', '--name', 'x', '--cn', 'x'], /missing --dir DIR/],
    [['list'], /missing --dir DIR/],
    [
      ['issue', '--dir', dir, '--name', 'x', '--cn', 'x', '--bogus'],
      /unknown option --bogus \(options: --dir, /,
    ],
    [['init-ca', '--dir'], /--dir needs a value: --dir DIR/],
    [['issue', '--dir', '--name', 'x'], /--dir needs a value/],
    [['issue', '--dir', dir, '--cn', 'x'], /missing --name NAME/],
    [['issue', '--dir', dir, '--name', 'x'], /missing --cn CN/],
    [['issue', '--dir', dir, '--name', 'x', '--cn', 'x', '--subject', 'CN=x'], /either --cn or --subject/],
    [
      ['issue', '--dir', dir, '--name', 'x', '--cn', 'x', '--server', '--client'],
      /choose one of --server, --client/,
    ],
    [['issue', '--dir', dir, '--name', 'x', '--cn', 'x', '--days', 'ten'], /--days must be a whole number/],
    [['issue', '--dir', dir, '--name', 'x', '--cn', 'x', '--key', 'dsa'], /unknown key type 'dsa'/],
    [['issue', '--dir', dir, '--name', 'x', '--cn', 'x', '--server=yes'], /--server takes no value/],
    [
      ['issue', '--dir', dir, '--name', 'x', '--cn', 'x', '--passphrase-file', path.join(dir, 'none')],
      /--passphrase-file: cannot read/,
    ],
    [['revoke', '--dir', dir], /missing NAME .* or --serial S/],
    [['revoke', '--dir', dir, 'a', '--serial', '5'], /either NAME or --serial/],
    [['revoke', '--dir', dir, 'a', '--reason', 'bored'], /unknown revocation reason 'bored'/],
    [['list', '--dir', dir, 'extra'], /unexpected argument 'extra'/],
    [['show'], /missing FILE/],
    [['frobnicate'], /unknown subcommand 'frobnicate'/],
    [[], /usage: sipsd cert <subcommand>/],
  ];
  for (const [argv, message] of cases) {
    const result = await run(...argv);
    assert.equal(result.code, 2, `${argv.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message, argv.join(' '));
    assert.equal(result.stdout, '');
  }
  const unknownFlag = await run('list', '--dir', dir, '--verbose');
  assert.match(unknownFlag.stderr, /see 'sipsd cert help list'/);
});

test('runtime failures exit 1 with the reason', async () => {
  const dir = tempDir();
  const noCa = await run('issue', '--dir', dir, '--name', 'x', '--cn', 'x');
  assert.equal(noCa.code, 1);
  assert.match(noCa.stderr, /no CA in .*: index\.json is missing \(create one with init-ca\)/);
  assert.equal((await run('init-ca', '--dir', dir)).code, 0);
  assert.match((await run('init-ca', '--dir', dir)).stderr, /ca\.pem already exists/);
  assert.match((await run('revoke', '--dir', dir, 'ghost')).stderr, /no certificate named 'ghost'/);
  const missing = await run('show', path.join(dir, 'nope.pem'));
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /ENOENT/);
  const notPem = await run('show', path.join(dir, 'index.json'));
  assert.match(notPem.stderr, /holds no PEM blocks and is not a DER certificate/);
});

test('help lists subcommands and their options', async () => {
  const overview = await run('help');
  assert.equal(overview.code, 0);
  for (const sub of ['init-ca', 'issue', 'revoke', 'crl', 'list', 'show'])
    assert.match(overview.stdout, new RegExp(`\\n  ${sub} `));
  const issueHelp = await run('issue', '--help');
  assert.equal(issueHelp.code, 0);
  assert.match(issueHelp.stdout, /usage: sipsd cert issue --dir DIR --name NAME --cn CN/);
  assert.match(issueHelp.stdout, /--passphrase-file FILE +encrypt NAME\.key/);
  assert.equal((await run('help', 'revoke')).code, 0);
  assert.equal((await run('help', 'nope')).code, 2);
});
