import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normalizeDomain, tlsDomainInputSchema, type TlsDomainInput } from '../../src/tls/domain.js';
import {
  kamailioTlsCfgSource,
  parseKamailioTlsCfg,
  resolveKamailioPath,
  type TlsCfgResult,
} from '../../src/tls/sources/kamailio-tls-cfg.js';

const opts = { mainConfigDir: '/etc/kamailio', cwd: '/run/kamailio' };

/** Seeds 002 §10.31, Example 1.40 "Sample TLS Config File" (without the "..." elisions). */
const SAMPLE = `[server:default]
method = TLSv1
verify_certificate = yes
require_certificate = yes
private_key = default_key.pem
certificate = default_cert.pem
ca_list = default_ca.pem
crl = default_crl.pem

[client:default]
verify_certificate = yes
require_certificate = yes

# more relaxed for connection on the loopback interface
[server:127.0.0.1:5061]
method = TLSv1
verify_certificate = yes
require_certificate = no
private_key = local_kamailio_org_key.pem
certificate = local_kamailio_org_cert.pem
verify_depth = 3
ca_list = local_ca.pem
server_name = kamailio.org

[client:127.0.0.1:5061]
method = TLSv1
verify_certificate = yes
require_certificate = yes
private_key = default_key.pem
certificate = default_cert.pem
ca_list = default_ca.pem
crl = default_crl.pem
server_name = kamailio.org
server_id = kamailio.org

# server profile on any address
[server:any]
method = TLSv1
verify_certificate = yes
require_certificate = no
private_key = kamailio_net_key.pem
certificate = kamailio_net_cert.pem
verify_depth = 3
ca_list = local_ca.pem
server_name = kamailio.net
server_name_mode = 1
`;

function parse(text: string): TlsCfgResult {
  return parseKamailioTlsCfg(text, 'tls.cfg', opts);
}

/** Every produced input is a valid native domain. */
function assertValid(r: TlsCfgResult) {
  for (const d of r.domains) {
    const parsed = tlsDomainInputSchema.safeParse(d.input);
    assert.ok(parsed.success, `${d.input.name}: ${parsed.success ? '' : parsed.error.message}`);
    const n = normalizeDomain(d.input, {
      source: { kind: 'tls.cfg', file: d.file },
      baseDir: opts.mainConfigDir,
      verifyServerNameDefault: false,
    });
    assert.ok(!Array.isArray(n), `${d.input.name}: ${JSON.stringify(n)}`);
  }
}

const byName = (r: TlsCfgResult, type: string, name: string): TlsDomainInput => {
  const d = r.domains.find((x) => x.input.type === type && x.input.name === name);
  assert.ok(d, `no ${type} domain ${name} in ${r.domains.map((x) => x.input.name).join(', ')}`);
  return d.input;
};

test('the seeds sample tls.cfg maps to five native domains', () => {
  const r = parse(SAMPLE);
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.notices, []);
  assert.deepEqual(
    r.domains.map((d) => [d.input.type, d.input.name, d.line]),
    [
      ['server', 'default', 1],
      ['client', 'default', 10],
      ['server', 'server:127.0.0.1:5061/kamailio.org', 15],
      ['client', 'client:127.0.0.1:5061/kamailio.org', 25],
      ['server', 'server:any/kamailio.net', 37],
    ],
  );
  assert.deepEqual(byName(r, 'server', 'default'), {
    name: 'default',
    type: 'server',
    tls_method: 'TLSv1',
    ca_list: '/etc/kamailio/default_ca.pem',
    crl: '/etc/kamailio/default_crl.pem',
    verify_cert: true,
    require_cert: true,
    certificate: '/etc/kamailio/default_cert.pem',
    private_key: '/etc/kamailio/default_key.pem',
  });
  assert.deepEqual(byName(r, 'client', 'default'), {
    name: 'default',
    type: 'client',
    verify_cert: true,
    require_cert: true,
    certificate: '/etc/kamailio/cert.pem',
    verify_server_name: false,
  });
  const loopback = byName(r, 'server', 'server:127.0.0.1:5061/kamailio.org');
  assert.deepEqual(loopback.match_ip_address, ['127.0.0.1:5061']);
  assert.deepEqual(loopback.match_sip_domain, ['kamailio.org']);
  assert.equal(loopback.verify_depth, 3);
  assert.equal(loopback.require_cert, false);
  assert.equal(loopback.server_name, undefined);
  const client = byName(r, 'client', 'client:127.0.0.1:5061/kamailio.org');
  assert.deepEqual(client.match_ip_address, ['127.0.0.1:5061']);
  assert.deepEqual(client.match_sip_domain, ['kamailio.org']);
  assert.equal(client.server_name, 'kamailio.org');
  assert.equal(client.server_id, 'kamailio.org');
  assert.equal(client.verify_server_name, false);
  const any = byName(r, 'server', 'server:any/kamailio.net');
  assert.deepEqual(any.match_ip_address, ['*']);
  assert.deepEqual(any.match_sip_domain, ['kamailio.net', '*.kamailio.net']);
  assertValid(r);
});

test('every key and alias', () => {
  const r = parse(`[client:10.0.0.1:5061]
tls_method = TLSv1.2+
verify_cert = on
require_cert = off
verify_client = optional_no_ca
pkey_file = /k.pem
cert_file = /c.pem
verify_depth = 4
calist_file = /ca.pem
crl = /crl.pem
cipher_list = HIGH:!aNULL
server_name = gw.example.com
server_id = gw1
`);
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.domains[0]!.input, {
    name: 'client:10.0.0.1:5061/gw.example.com',
    type: 'client',
    match_ip_address: ['10.0.0.1:5061'],
    match_sip_domain: ['gw.example.com'],
    server_name: 'gw.example.com',
    tls_method: 'TLSv1.2+',
    cipher_list: 'HIGH:!aNULL',
    ca_list: '/ca.pem',
    crl: '/crl.pem',
    server_id: 'gw1',
    verify_depth: 4,
    verify_client: 'optional_no_ca',
    verify_cert: true,
    require_cert: false,
    certificate: '/c.pem',
    private_key: '/k.pem',
    verify_server_name: false,
  });
  assertValid(r);
});

test('server_name_mode 0, 2 and verify_client without the OpenSIPS pair', () => {
  const r = parse(`[server:10.0.0.1:5061]
server_name = a.example
server_name_mode = 0
[server:10.0.0.1:5061]
server_name = b.example
server_name_mode = 2
verify_client = on
`);
  assert.deepEqual(r.problems, []);
  const [a, b] = r.domains.map((d) => d.input);
  assert.deepEqual(a!.match_sip_domain, ['a.example']);
  assert.deepEqual(b!.match_sip_domain, ['*.b.example']);
  assert.equal(b!.verify_client, 'on');
  assert.equal(b!.verify_cert, undefined, 'verify_client alone decides');
  assert.equal(a!.verify_cert, false, "Kamailio's default: no verification");
  assertValid(r);
});

test('IPv6 profiles, port 0, role and default aliases, case-insensitive keys', () => {
  const r = parse(`[server:[2001:DB8::1]:5061]
[client:[::1]:0]
[srv:def]
[c:*]
[s:all]
CERTIFICATE = /x.pem
`);
  assert.deepEqual(r.problems, []);
  assert.deepEqual(
    r.domains.map((d) => [d.input.type, d.input.name, d.input.match_ip_address]),
    [
      ['server', 'server:[2001:db8::1]:5061', ['[2001:db8::1]:5061']],
      ['client', 'client:[::1]:*', ['[::1]:*']],
      ['server', 'default', undefined],
      ['client', 'default', undefined],
      ['server', 'server:any', ['*']],
    ],
  );
  assert.equal(r.domains[4]!.input.certificate, '/x.pem');
  assertValid(r);
});

test('comments, blank lines, quotes and every boolean spelling', () => {
  const r = parse(`# whole-line comment

  [server:default]   # trailing comment on a header
verify_certificate = true   # trailing
require_certificate = 0
certificate = "/etc/with # hash.pem"
[client:default]
verify_certificate = 1
require_certificate = no
[server:10.0.0.1:5061]
verify_certificate = enabled
require_certificate = off
[server:10.0.0.2:5061]
verify_certificate = false
require_certificate = on
`);
  assert.deepEqual(r.problems, []);
  assert.deepEqual(
    r.domains.map((d) => [d.input.verify_cert, d.input.require_cert]),
    [
      [true, false],
      [true, false],
      [true, false],
      [false, true],
    ],
  );
  assert.equal(r.domains[0]!.input.certificate, '/etc/with # hash.pem');
});

test('path rules: "/" absolute, "." relative to the working directory, else to the main config folder', () => {
  assert.equal(resolveKamailioPath('/abs/c.pem', opts), '/abs/c.pem');
  assert.equal(resolveKamailioPath('./c.pem', opts), '/run/kamailio/c.pem');
  assert.equal(resolveKamailioPath('../c.pem', opts), '/run/c.pem');
  assert.equal(resolveKamailioPath('tls/c.pem', opts), '/etc/kamailio/tls/c.pem');
  const r = parse(`[server:default]
certificate = ./cert.pem
private_key = keys/key.pem
ca_list = /ca.pem
crl = .hidden/crl.pem
`);
  const d = r.domains[0]!.input;
  assert.equal(d.certificate, '/run/kamailio/cert.pem');
  assert.equal(d.private_key, '/etc/kamailio/keys/key.pem');
  assert.equal(d.ca_list, '/ca.pem');
  assert.equal(d.crl, '/run/kamailio/.hidden/crl.pem');
});

test('errors name the line and say how to fix it', () => {
  const r = parse(`verify_certificate = yes
[server:default]
verify_certificate = maybe
colour = blue
certificate
certificate =
method = SSLv3
verify_depth = deep
verify_client = sometimes
[server:default]
[server:10.0.0.1]
[server:host.example:5061]
[server:::1:5061]
[server:10.0.0.1:99999]
[peer:default]
[server:default
[server:10.0.0.1:5061]
[server:10.0.0.1:5061]
[server:any]
server_name = a.example
[server:any]
server_name = A.example
`);
  const got = r.problems.map((p) => `${p.line}: ${p.message}`);
  const expect: Array<[number, RegExp]> = [
    [1, /"verify_certificate" is outside a profile; start one with a header such as \[server:default\]/],
    [3, /verify_certificate: "maybe" is not a boolean; use yes\/no/],
    [4, /unknown key "colour"; valid keys: method, tls_method, .*server_id/],
    [5, /missing "=": expected key = value/],
    [6, /certificate: missing value/],
    [7, /method: SSLv3 is not supported/],
    [8, /verify_depth: "deep" is not a whole number/],
    [9, /verify_client: "sometimes" is not one of off, on, optional, optional_no_ca/],
    [11, /"10.0.0.1" is not default, any or IP:port \(the port is required\)/],
    [12, /"host.example" is not an IPv4 address/],
    [13, /"::1:5061" is not default, any or IP:port|is not an IPv4 address/],
    [14, /"99999" is not a port number/],
    [15, /"peer" is not a role \(server or client\)/],
    [16, /section header without a closing "\]"/],
    [10, /duplicate \[server:default\] \(first at line 2\); there can be only one/],
    [
      18,
      /duplicate \[server:10.0.0.1:5061\] \(first at line 17\); profiles for the same address need different server_name values/,
    ],
    [21, /duplicate \[server:any\] \(first at line 19\)/],
  ];
  assert.equal(got.length, expect.length, got.join('\n'));
  for (const [line, re] of expect) {
    assert.ok(
      r.problems.some((p) => p.line === line && re.test(p.message)),
      `no problem at line ${line} matching ${re}:\n${got.join('\n')}`,
    );
  }
  assert.ok(r.problems.every((p) => p.file === 'tls.cfg'));
});

test('a repeated key is a notice; the last value wins', () => {
  const r = parse('[server:default]\ncertificate = /a.pem\ncertificate = /b.pem\n');
  assert.deepEqual(r.problems, []);
  assert.equal(r.domains[0]!.input.certificate, '/b.pem');
  assert.deepEqual(
    r.notices.map((n) => [n.line, n.message]),
    [[3, 'certificate repeats line 2; the last value wins']],
  );
});

test('the source reads a file or a folder, normalizes, and fails on any problem', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sipsd-tlscfg-'));
  try {
    const file = join(dir, 'tls.cfg');
    writeFileSync(file, SAMPLE);
    const ok = await kamailioTlsCfgSource(file, { mainConfigDir: dir, cwd: dir }).read();
    assert.equal(ok.domains.length, 5);
    assert.ok(ok.domains.every((d) => d.source.kind === 'tls.cfg' && d.source.file === file));
    const client = ok.domains.find((d) => d.type === 'client' && d.name !== 'default')!;
    assert.equal(client.verifyServerName, false);
    assert.equal(client.serverName, 'kamailio.org');

    const folder = join(dir, 'tls.d');
    mkdirSync(folder);
    writeFileSync(join(folder, '10-default.cfg'), '[server:default]\ncertificate = /c.pem\n');
    writeFileSync(join(folder, '20-again.cfg'), '[server:default]\n');
    await assert.rejects(
      kamailioTlsCfgSource(folder, { mainConfigDir: dir, cwd: dir }).read(),
      (err: Error) => {
        assert.match(
          err.message,
          /20-again\.cfg:1: duplicate \[server:default\] \(first at .*10-default\.cfg:1\)/,
        );
        return true;
      },
    );
    await assert.rejects(
      kamailioTlsCfgSource(join(dir, 'missing.cfg'), { mainConfigDir: dir, cwd: dir }).read(),
      /missing\.cfg: cannot read \(ENOENT\)/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
