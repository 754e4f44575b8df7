import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig, formatProblem, loadConfigFile, validateConfigText } from '../../src/config/load.js';

test('an empty file gives every default', () => {
  const r = validateConfigText('', 'x.yaml');
  assert.ok(r.ok);
  assert.deepEqual(r.config, defaultConfig());
  assert.equal(r.config.tls_crlf_pingpong, true);
  assert.equal(r.config.tls_crlf_drop, false);
  assert.equal(r.config.tls_max_msg_chunks, 4);
  assert.equal(r.config.connection_timeout, 600);
  assert.equal(r.config.tls_handshake_timeout, 100);
  assert.equal(r.config.tls_send_timeout, 100);
  assert.equal(r.config.tls_port, 5061);
  assert.equal(r.config.mi.listen, '127.0.0.1:8888');
});

test('OpenSIPS 0/1 and Kamailio yes/no booleans are accepted', () => {
  const r = validateConfigText('tls_crlf_pingpong: 0\ntls_crlf_drop: "yes"\n', 'x.yaml');
  assert.ok(r.ok);
  assert.equal(r.config.tls_crlf_pingpong, false);
  assert.equal(r.config.tls_crlf_drop, true);
});

test('problems name the file, line and key, and suggest the intended key', () => {
  const text = [
    'listen:',
    '  - udp:127.0.0.1:5060',
    '  - tls:localhost:5061',
    'tls_crlf_pinpong: 1',
    'tls_send_timeout: -5',
    '',
  ].join('\n');
  const r = validateConfigText(text, 'conf/sipsd.yaml');
  assert.equal(r.ok, false);
  if (r.ok) return;
  const lines = r.problems.map(formatProblem);
  assert.ok(
    lines.some((l) => l.startsWith('conf/sipsd.yaml:3: listen[1]:') && l.includes('not an IP address')),
    lines.join('\n'),
  );
  assert.ok(
    lines.some(
      (l) => l === 'conf/sipsd.yaml:4: tls_crlf_pinpong: unknown key; did you mean "tls_crlf_pingpong"?',
    ),
    lines.join('\n'),
  );
  assert.ok(
    lines.some((l) => l.startsWith('conf/sipsd.yaml:5: tls_send_timeout:') && l.includes('at least 1')),
    lines.join('\n'),
  );
});

test('YAML syntax errors carry the line', () => {
  const r = validateConfigText('listen:\n  - udp:127.0.0.1\n bad: [\n', 'y.yaml');
  assert.equal(r.ok, false);
  if (!r.ok) assert.ok(r.problems.some((p) => p.line !== undefined && p.message.startsWith('YAML syntax')));
});

test('a key given twice is a problem on its second line', () => {
  const r = validateConfigText('tls_port: 5061\nconnection_timeout: 30\ntls_port: 5062\n', 'd.yaml');
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.equal(r.problems.length, 1);
    assert.equal(r.problems[0]!.line, 3);
    assert.match(r.problems[0]!.message, /^YAML syntax: .*unique/);
  }
});

test('YAML 1.2 core schema: on/off and dates stay text, numbers are numbers', () => {
  // A YAML 1.1 reader would turn `off` into false and a date into a Date: both would break fields.
  const r = validateConfigText(
    'tls_domains:\n  - name: 2026-01-01\n    type: server\n    verify_client: off\ntls_port: 0x13c5\n',
    'c.yaml',
  );
  assert.ok(r.ok, r.ok ? '' : r.problems.map(formatProblem).join('\n'));
  assert.equal(r.config.tls_domains[0]!.name, '2026-01-01');
  assert.equal(r.config.tls_port, 5061);
});

test('relative paths are resolved against the config file folder', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sipsd-config-'));
  try {
    const file = join(dir, 'sipsd.yaml');
    writeFileSync(file, 'script: route.ts\ntls_config: kamailio/tls.cfg\n');
    const r = await loadConfigFile(file);
    assert.ok(r.ok, r.ok ? '' : r.problems.map(formatProblem).join('\n'));
    assert.equal(r.config.script, join(dir, 'route.ts'));
    assert.equal(r.config.tls_config, join(dir, 'kamailio/tls.cfg'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('TLS domain problems name the line and field; names are unique per type; remote management needs a token', () => {
  const text = [
    'tls_domains:',
    '  - name: s',
    '    type: server',
    "    match_ip_address: 'localhost:5061'",
    '    tls_method: TLSv9',
    '  - name: s',
    '    type: server',
    'mi:',
    '  listen: 0.0.0.0:8888',
    '  allow_remote: true',
    '',
  ].join('\n');
  const r = validateConfigText(text, 'z.yaml');
  assert.equal(r.ok, false);
  if (r.ok) return;
  const out = r.problems.map(formatProblem).join('\n');
  assert.match(out, /z\.yaml:4: tls_domains\[0\]\.match_ip_address: "localhost" is not an IP address/);
  assert.match(out, /z\.yaml:5: tls_domains\[0\]\.tls_method: unknown TLS method "TLSv9"/);
  assert.match(out, /z\.yaml:6: tls_domains\[1\]\.name: a second server domain named "s"/);
  assert.match(out, /z\.yaml:10: mi\.allow_remote: .*needs mi\.token/);
});

test('a missing file says how to get a default one', async () => {
  const r = await loadConfigFile('/nonexistent/sipsd.yaml');
  assert.equal(r.ok, false);
  if (!r.ok) assert.match(r.problems[0]!.message, /file not found; run `sipsd start` without -c/);
});
