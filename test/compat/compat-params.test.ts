// Kamailio tls parameters without a sipsd counterpart elsewhere (seeds 002 §10): each loads under
// its Kamailio name, those without a meaning on Node's OpenSSL 3 produce one notice each at
// startup, wrong values get a precise error with the line, tls_debug logs TLS I/O at its level and
// `config` is Kamailio's name for tls_config.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { formatProblem, validateConfigText } from '../../src/config/load.js';
import { silentLogger } from '../../src/log/logger.js';
import { createTestPki, type TestPkiFiles } from '../../src/pki/index.js';
import { loadTls, startServer } from '../../src/server.js';
import { compatNotices, withTlsConfigAlias } from '../../src/tls/compat-params.js';
import { messageLevel } from '../../src/config/fields.js';
import { options, StreamPeer, statusOf, tlsClientOptions } from '../helpers/peers.js';

/** Every parameter of this file, as a converted kamailio.cfg would carry it. */
const ALL_PARAMS = `
tls_disable_compression: 1
ssl_release_buffers: 1
ssl_freelist_max_len: 0
ssl_read_ahead: 0
ct_wq_blk_size: 4096
tls_force_run: 11
rand_engine: cryptorand
tls_debug: 3
engine: NONE
`;

const NO_EFFECT_KEYS = [
  'tls_disable_compression',
  'ssl_release_buffers',
  'ssl_freelist_max_len',
  'ssl_read_ahead',
  'ct_wq_blk_size',
  'tls_force_run',
  'rand_engine',
];

function load(yaml: string) {
  return validateConfigText(yaml, 'sipsd.yaml');
}

/** A logger whose JSON lines land in `lines`. */
function capturingLogger(level: string) {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n'))
        if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level }, sink), lines };
}

test('every parameter loads under its Kamailio name, with its value typed', () => {
  const r = load(ALL_PARAMS);
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  const c = r.config;
  assert.equal(c.tls_disable_compression, true);
  assert.equal(c.tls_force_run, true); // Kamailio's example writes 11: any non-zero is on
  assert.equal(c.ssl_release_buffers, 'on');
  assert.equal(c.ssl_read_ahead, 'off');
  assert.equal(c.ssl_freelist_max_len, 0);
  assert.equal(c.ct_wq_blk_size, 4096);
  assert.equal(c.rand_engine, 'cryptorand');
  assert.equal(c.tls_debug, 'debug');
  assert.equal(c.engine, 'NONE');
  // Kamailio's other spellings of the same values.
  const words = load('ssl_read_ahead: -1\nssl_release_buffers: "no"\ntls_disable_compression: off\n');
  assert.ok(words.ok);
  assert.equal(words.config.ssl_read_ahead, 'default');
  assert.equal(words.config.ssl_release_buffers, 'off');
  assert.equal(words.config.tls_disable_compression, false);
});

test('one notice per parameter without effect, worded for the value set', () => {
  const r = load(ALL_PARAMS);
  assert.ok(r.ok);
  const notices = compatNotices(r.config);
  // log_level defaults to info, which hides tls_debug 3 (debug): that is said too.
  assert.deepEqual(
    notices.map((n) => n.split(':')[0]),
    [...NO_EFFECT_KEYS, 'tls_debug'],
  );
  for (const n of notices.slice(0, -1)) assert.match(n, /^[a-z_]+: no effect: /);
  // A value asking for what Node cannot do says so.
  const asks = load('tls_disable_compression: 0\nssl_read_ahead: 1\nssl_release_buffers: 0\n');
  assert.ok(asks.ok);
  assert.deepEqual(compatNotices(asks.config), [
    "tls_disable_compression: compression cannot be turned on: TLS compression is always off (Node removes OpenSSL's compression methods)",
    "ssl_release_buffers: cannot be turned off: Node's TLS sockets always release OpenSSL's buffers when idle (SSL_MODE_RELEASE_BUFFERS)",
    'ssl_read_ahead: cannot be turned on: Node feeds OpenSSL from its own buffer and never enables read-ahead',
  ]);
  // Nothing set, nothing said.
  const plain = load('');
  assert.ok(plain.ok);
  assert.deepEqual(compatNotices(plain.config), []);
});

test('tls_debug lines below log_level are announced as hidden', () => {
  assert.deepEqual(compatNotices({ tls_debug: 'debug', log_level: 'info' }), [
    'tls_debug: TLS debug lines are logged at debug, below log_level info: not shown',
  ]);
  assert.deepEqual(compatNotices({ tls_debug: 'debug', log_level: 'debug' }), []);
  assert.deepEqual(compatNotices({ tls_debug: 'warn', log_level: 'info' }), []);
});

test("tls_debug and tls_log map Kamailio's levels (L_DBG = 3) to log levels", () => {
  assert.deepEqual(
    [10, 4, 3, 2, 1, 0, -1, -2, -5, 'trace'].map((v) => messageLevel.parse(v)),
    ['trace', 'trace', 'debug', 'info', 'info', 'warn', 'error', 'fatal', 'fatal', 'trace'],
  );
});

test('a wrong value gets a precise error naming the file, line and key', () => {
  const cases: Array<[string, string]> = [
    ['ssl_release_buffers: 2', 'ssl_release_buffers: expected -1 (keep the OpenSSL default), 0 or 1'],
    ['ssl_read_ahead: maybe', 'ssl_read_ahead: expected -1 (keep the OpenSSL default), 0 or 1'],
    ['ssl_freelist_max_len: -2', 'ssl_freelist_max_len: must be at least -1'],
    ['ct_wq_blk_size: 0', 'ct_wq_blk_size: must be at least 1'],
    ['ct_wq_blk_size: 70000', 'ct_wq_blk_size: must be at most 65536'],
    [
      'tls_debug: 2.5',
      'tls_debug: expected a Kamailio log level (a whole number from -5, L_DBG = 3) or trace',
    ],
    [
      'tls_debug: -6',
      'tls_debug: expected a Kamailio log level (a whole number from -5, L_DBG = 3) or trace',
    ],
    [
      'tls_debug: verbose',
      'tls_debug: expected a Kamailio log level (a whole number from -5, L_DBG = 3) or trace',
    ],
    ['tls_force_run: maybe', 'tls_force_run: expected a boolean (true/false, yes/no, on/off or 1/0)'],
    [
      'tls_disable_compression: 0.5',
      'tls_disable_compression: expected a boolean (true/false, yes/no, on/off or 1/0)',
    ],
    ['rand_engine: urandom', 'rand_engine: expected one of krand, fastrand, cryptorand, kxlibssl'],
    ['engine: /usr/lib/engines-3/pkcs11.so', 'engine: expected an OpenSSL engine id such as pkcs11, or NONE'],
    [
      'engine_algorithms: RSA,FOO',
      'engine_algorithms: unknown method "FOO"; expected a comma-separated list of ALL, RSA',
    ],
    ['engine_algorithms: ","', 'engine_algorithms: expected a comma-separated list of ALL, RSA'],
    ['config: ""', 'config: expected a file path'],
  ];
  for (const [yaml, expected] of cases) {
    const r = load(`log_level: info\n${yaml}\n`);
    assert.ok(!r.ok, `${yaml} should be refused`);
    assert.equal(r.problems.length, 1, JSON.stringify(r.problems));
    const text = formatProblem(r.problems[0]!);
    assert.ok(text.startsWith(`sipsd.yaml:2: ${expected}`), `${yaml}: got "${text}"`);
  }
});

describe('at startup', () => {
  let dir: string;
  let pki: TestPkiFiles;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sipsd-compat-'));
    pki = await createTestPki(join(dir, 'pki'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const serverDomain = () =>
    `tls_domains:\n  - { name: default, type: server, certificate: ${pki.serverCertFile}, private_key: ${pki.serverKeyFile}, verify_client: off }\n`;

  test('notices are logged, and tls_debug logs TLS sessions, reads and writes at its level', async () => {
    const file = join(dir, 'debug.yaml');
    const yaml = `listen: [tls:127.0.0.1:0]\nmi: { enabled: false }\nlog_level: debug\n${ALL_PARAMS}${serverDomain()}`;
    const loaded = validateConfigText(yaml, file);
    assert.ok(loaded.ok, JSON.stringify(!loaded.ok && loaded.problems));
    const { log, lines } = capturingLogger('debug');
    const server = await startServer(loaded.config, file, log);
    try {
      const warned = lines.filter((l) => l['level'] === 40).map((l) => String(l['msg']));
      assert.deepEqual(
        NO_EFFECT_KEYS.map((k) => warned.filter((w) => w.startsWith(`${k}: no effect`)).length),
        NO_EFFECT_KEYS.map(() => 1),
        warned.join('\n'),
      );

      const port = server.listeners.find((l) => l.proto === 'tls')!.port;
      const peer = await StreamPeer.tls(port, tlsClientOptions(pki));
      const request = options('TLS');
      peer.write(request);
      assert.equal(statusOf(await peer.until((r) => r.includes('\r\n\r\n'))), 200);
      peer.close();
      const deadline = Date.now() + 2000;
      const debug = () => lines.filter((l) => l['level'] === 20 && String(l['msg']).startsWith('TLS debug:'));
      while (!debug().some((l) => l['msg'] === 'TLS debug: connection closed') && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const byMsg = (m: string) => debug().find((l) => l['msg'] === `TLS debug: ${m}`);
      assert.equal(byMsg('session established')?.['domain'], 'default');
      assert.equal(byMsg('session established')?.['direction'], 'in');
      assert.equal(byMsg('read')?.['bytes'], Buffer.byteLength(request));
      assert.ok(Number(byMsg('write')?.['bytes']) > 0);
      assert.ok(byMsg('connection closed'));
      // Sizes only: the SIP message itself is never in a debug line.
      assert.ok(!JSON.stringify(debug()).includes('OPTIONS sip:'));
    } finally {
      await server.stop();
    }
  });

  test('config is an alias of tls_config, relative to the config file', async () => {
    writeFileSync(
      join(dir, 'tls.cfg'),
      `[client:127.0.0.1:5061]\nverify_certificate = no\ncertificate = ${pki.clientCertFile}\nprivate_key = ${pki.clientKeyFile}\n`,
    );
    const file = join(dir, 'alias.yaml');
    const loaded = validateConfigText(`listen: [udp:127.0.0.1:0]\nconfig: tls.cfg\n`, file);
    assert.ok(loaded.ok);
    const tls = await loadTls(loaded.config, file, silentLogger);
    try {
      const fromCfg = tls.snapshot.domains.filter((d) => d.domain.source.kind === 'tls.cfg');
      assert.deepEqual(
        fromCfg.map((d) => d.domain.source.file),
        [join(dir, 'tls.cfg')],
      );
    } finally {
      await tls.close();
    }
    // Both, naming different files: refused, naming both.
    assert.throws(
      () => withTlsConfigAlias({ config: 'tls.cfg', tls_config: '/etc/other/tls.cfg' }, file),
      new RegExp(
        `config \\(${join(dir, 'tls.cfg')}\\) and tls_config \\(/etc/other/tls.cfg\\) name different`,
      ),
    );
    // Both, naming the same file: fine.
    assert.equal(
      withTlsConfigAlias({ config: 'tls.cfg', tls_config: join(dir, 'tls.cfg') }, file).tls_config,
      join(dir, 'tls.cfg'),
    );
  });
});
