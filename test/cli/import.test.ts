// `sipsd import opensips|kamailio FILE [-o out.yaml]` as an operator runs it: YAML on stdout or in
// a file, the unmapped lines on stderr, exit codes 0 / 1 (unreadable) / 2 (usage).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importCommand } from '../../src/cli/import.js';
import { validateConfigText } from '../../src/config/load.js';

async function run(args: string[]) {
  let out = '';
  let err = '';
  const code = await importCommand(args, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
  return { code, out, err };
}

function withDir(fn: (dir: string) => Promise<void>) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sipsd-import-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test(
  'opensips: YAML on stdout, unmapped lines and a summary on stderr',
  withDir(async (dir) => {
    const cfg = join(dir, 'opensips.cfg');
    writeFileSync(
      cfg,
      [
        'listen = tls:10.0.0.1:5061',
        'mhomed = 1',
        'modparam("tls_mgm", "server_domain", "dom1")',
        'modparam("tls_mgm", "certificate", "[dom1]/etc/tls/dom1.pem")',
        'modparam("tls_mgm", "private_key", "[dom1]/etc/tls/dom1.key")',
        '',
      ].join('\n'),
    );
    const r = await run(['opensips', cfg]);
    assert.equal(r.code, 0);
    const loaded = validateConfigText(r.out, join(dir, 'sipsd.yaml'));
    assert.ok(loaded.ok, r.out);
    assert.deepEqual(loaded.config.listen, ['tls:10.0.0.1:5061']);
    assert.equal(loaded.config.tls_domains[0]?.name, 'dom1');
    assert.match(
      r.err,
      new RegExp(`^${cfg}:2: mhomed = 1: not mapped: core parameter "mhomed" has no sipsd equivalent$`, 'm'),
    );
    assert.match(r.err, /imported 1 TLS domain\(s\); 1 line\(s\) not mapped\n$/);
  }),
);

test(
  'kamailio with -o: writes the file; a tls.cfg named by config is checked now',
  withDir(async (dir) => {
    const cfg = join(dir, 'kamailio.cfg');
    const out = join(dir, 'sipsd.yaml');
    writeFileSync(cfg, 'loadmodule "tls.so"\nmodparam("tls", "config", "tls.cfg")\n');
    writeFileSync(join(dir, 'tls.cfg'), '[server:default]\ncertificate = cert.pem\nverify_cert = perhaps\n');
    const r = await run(['kamailio', cfg, '-o', out]);
    assert.equal(r.code, 0);
    assert.equal(r.out, '');
    const yaml = readFileSync(out, 'utf8');
    assert.match(yaml, new RegExp(`^tls_config: ${join(dir, 'tls.cfg')}$`, 'm'));
    assert.ok(validateConfigText(yaml, out).ok, yaml);
    assert.match(r.err, /tls\.cfg:3: verify_cert: "perhaps" is not a boolean/);
    assert.match(r.err, new RegExp(`imported 0 TLS domain\\(s\\) into ${out}; 0 line\\(s\\) not mapped`));
  }),
);

test(
  'exit codes: 2 for usage errors, 1 for an unreadable file',
  withDir(async (dir) => {
    for (const args of [
      [],
      ['opensips'],
      ['ser', 'x.cfg'],
      ['kamailio', 'a.cfg', 'b.cfg'],
      ['opensips', 'x', '--bogus'],
    ]) {
      const r = await run(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.err, /usage: sipsd import opensips\|kamailio FILE \[-o out\.yaml\]/);
    }
    assert.match((await run(['ser', 'x.cfg'])).err, /unknown source "ser"/);
    const help = await run(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.out, /^usage: sipsd import/);
    const missing = await run(['kamailio', join(dir, 'missing.cfg')]);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /missing\.cfg: cannot read \(ENOENT\)/);
    const cfg = join(dir, 'k.cfg');
    writeFileSync(cfg, 'listen=udp:10.0.0.1:5060\n');
    const unwritable = await run(['kamailio', cfg, '-o', join(dir, 'no/such/dir/out.yaml')]);
    assert.equal(unwritable.code, 1);
    assert.match(unwritable.err, /cannot write \(ENOENT\)/);
  }),
);
