import { test } from 'node:test';
import assert from 'node:assert/strict';
import { importKamailio } from '../../src/config/import/kamailio.js';
import {
  assertLoads,
  assertUnmapped,
  domain,
  domains,
  fixture,
  linesMatching,
  notes,
  unmapped,
} from './import-helpers.js';

const FILE = '/etc/kamailio/kamailio.cfg';
const run = (text: string) => importKamailio(text, FILE, { cwd: '/var/run/kamailio' });

test('the quick start of seeds 002 §2: the tls modparams define the default profiles', () => {
  const text = fixture('kamailio-quickstart.cfg');
  const r = run(text);
  assert.deepEqual(
    domains(r).map((d) => `${d.type}:${d.name}`),
    ['server:default', 'client:default'],
  );
  const server = domain(r, 'server', 'default');
  assert.deepEqual(server, {
    name: 'default',
    type: 'server',
    // "./" is relative to Kamailio's working directory
    certificate: '/var/run/kamailio/server-test.pem',
    private_key: '/var/run/kamailio/server-test.pem',
    ca_list: '/var/run/kamailio/calist.pem',
    // Kamailio's defaults: no certificate verification
    verify_cert: false,
    require_cert: false,
  });
  assert.equal(domain(r, 'client', 'default').verify_server_name, false);
  assertUnmapped(r, [
    [linesMatching(text, /sl\.so/)[0]!, /sipsd has no module "sl"/],
    [linesMatching(text, /^request_route/)[0]!, /routing logic \(lines 12-18\) is not imported/],
  ]);
  assert.equal(notes(r).filter((n) => /relative to Kamailio's working directory/.test(n.reason)).length, 3);
  assertLoads(r);
});

test('every tls parameter of seeds 002 §9-10 maps or is reported; config keeps the tls.cfg path', () => {
  const text = fixture('kamailio-params.cfg');
  const r = run(text);
  // The global parameters keep their Kamailio names (docs/configuration.md, docs/kamailio-compat.md).
  assert.deepEqual(r.config, {
    connection_timeout: 60,
    con_ct_wq_max: 1048576,
    ct_wq_max: 4194304,
    ct_wq_blk_size: 2048,
    renegotiation: true,
    send_close_notify: true,
    session_cache: true,
    session_id: 'my-session-id-context',
    low_mem_threshold1: -1,
    low_mem_threshold2: -1,
    ssl_max_send_fragment: 4096,
    tls_log: 'trace',
    tls_debug: 'trace',
    tls_config: '/usr/local/etc/kamailio/tls.cfg',
    engine: 'pkcs11',
    engine_config: '/usr/local/etc/kamailio/openssl.cnf',
    engine_algorithms: 'ALL',
    tls_disable_compression: false,
    ssl_release_buffers: 'on',
    ssl_freelist_max_len: 0,
    ssl_read_ahead: 'on',
    tls_force_run: true,
    rand_engine: 'fastrand',
  });
  assert.deepEqual(domains(r), [], 'with config, the profiles come from the tls.cfg');
  const line = (re: RegExp) => linesMatching(text, re);
  const profile =
    /with modparam\("tls", "config"\) at line 34, Kamailio uses this only for keys a tls\.cfg profile leaves unset/;
  const broken = line(/"ALL\)$/)[0]!; // the HSM example's missing quote
  assertUnmapped(r, [
    [broken, /unterminated string/],
    ...line(
      /"(tls_method|certificate|ca_list|crl|verify_certificate|verify_depth|require_certificate|cipher_list|server_name|verify_client)"/,
    ).map((l): [number, RegExp] => [l, profile]),
    ...line(/"private_key"/).map((l): [number, RegExp] => [l, profile]),
    [line(/xavp_cfg/)[0]!, /client_tls_domain_avp/],
    [line(/event_callback/)[0]!, /KEMI callbacks/],
  ]);
  assert.ok(notes(r).some((n) => /applies it to TLS connections only/.test(n.reason)));
  assertLoads(r);
});

test('without config, every profile parameter lands on the default server and client domains', () => {
  const r = run(`loadmodule "tls.so"
modparam("tls", "tls_method", "TLSv1.2+")
modparam("tls", "certificate", "certs/kamailio.pem")
modparam("tls", "private_key", "/etc/ssl/private/kamailio.key")
modparam("tls", "ca_list", "/etc/ssl/ca.pem")
modparam("tls", "crl", "path/my_crl.pem")
modparam("tls", "verify_certificate", 1)
modparam("tls", "require_certificate", 0)
modparam("tls", "verify_depth", 9)
modparam("tls", "cipher_list", "HIGH")
modparam("tls", "server_name", "kamailio.org")
modparam("tls", "verify_client", "optional_no_ca")
modparam("tls", "send_timeout", 30)
modparam("tls", "no_such", 1)
modparam("tls", "private_key", "/engine:label")
`);
  const common = {
    tls_method: 'TLSv1.2+',
    certificate: '/etc/kamailio/certs/kamailio.pem', // relative to the main config folder
    private_key: '/engine:label', // the later statement wins: a key held by the OpenSSL engine
    ca_list: '/etc/ssl/ca.pem',
    crl: '/etc/kamailio/path/my_crl.pem',
    cipher_list: 'HIGH',
    verify_cert: true,
    require_cert: false,
    verify_depth: 9,
  };
  assert.deepEqual(domain(r, 'server', 'default'), {
    name: 'default',
    type: 'server',
    ...common,
    verify_client: 'optional_no_ca',
  });
  assert.deepEqual(domain(r, 'client', 'default'), {
    name: 'default',
    type: 'client',
    ...common,
    server_name: 'kamailio.org',
    verify_server_name: false,
  });
  assertUnmapped(r, [
    [13, /obsolete since Kamailio 3\.0/],
    [14, /the tls module has no parameter "no_such"/],
  ]);
  assertLoads(r);
});

test('the preprocessor: #!define, #!ifdef/#!ifndef/#!else/#!endif, #!trydef, substitutions', () => {
  const r = run(`#!KAMAILIO
#!define WITH_TLS
#!define TLSCFG "/etc/kamailio/tls-prod.cfg"
#!trydef TLSCFG "/never.cfg"
#!ifdef WITH_TLS
enable_tls=yes
loadmodule "tls.so"
modparam("tls", "config", TLSCFG)
#!else
enable_tls=no
modparam("tls", "config", "/etc/kamailio/tls-off.cfg")
#!endif
#!ifndef WITH_DEBUG
debug=2
#!else
debug=3
#!endif
#!substdef "/MYIP/10.0.0.1/"
#!undef WITH_TLS
#!ifdef WITH_TLS
listen=udp:10.0.0.9
#!endif
#!endif
listen=10.0.0.1:5080
listen=tls:[::1]
tcp_connection_lifetime=3605
tcp_connect_timeout=5
tcp_send_timeout=3
log_stderror=no
`);
  assert.equal(r.config['tls_config'], '/etc/kamailio/tls-prod.cfg');
  assert.equal(r.config['log_level'], 'info'); // Kamailio's debug=2 is L_INFO
  // A listen entry without a protocol opens every enabled one (TLS is enabled here).
  assert.deepEqual(r.config['listen'], [
    'udp:10.0.0.1:5080',
    'tcp:10.0.0.1:5080',
    'tls:10.0.0.1:5080',
    'tls:[::1]',
  ]);
  assert.equal(r.config['connection_timeout'], 3605);
  assert.equal(r.config['tcp_connect_timeout'], 5000, 'Kamailio counts seconds');
  assert.equal(r.config['tls_send_timeout'], 3000);
  assert.deepEqual(domains(r), []);
  assertUnmapped(r, [
    [18, /preprocessor directive #!substdef is not applied/],
    [23, /#!endif without #!ifdef/],
    [29, /core parameter "log_stderror" has no sipsd equivalent/],
  ]);
  assertLoads(r);
});

test('enable_tls=no leaves TLS out; debug levels on the Kamailio scale', () => {
  const levels = [
    [-3, 'fatal'],
    [-1, 'error'],
    [0, 'warn'],
    [1, 'info'],
    [3, 'debug'],
  ] as const;
  for (const [n, level] of levels) assert.equal(run(`debug=${n}`).config['log_level'], level);
  const r = run('enable_tls=no\nlisten=10.0.0.1\nlisten=tls:10.0.0.1:5061\nport=5070\n');
  assert.deepEqual(r.config['listen'], ['udp:10.0.0.1:5070', 'tcp:10.0.0.1:5070']);
  assert.ok(notes(r).some((n) => n.line === 1 && /TLS is disabled/.test(n.reason)));
});

test('children and tcp_children become workers: the larger, with a note', () => {
  const r = run('children=2\ntcp_children=6\nlisten=udp:10.0.0.1:5060\n');
  assert.equal(r.config['workers'], 6);
  assert.ok(notes(r).some((n) => n.line === 2 && /workers is the largest process count/.test(n.reason)));
  assert.equal(run('children=500\n').config['workers'], 63);
  assert.ok(unmapped(run('children=none\n')).some((u) => /not a number of processes/.test(u.reason)));
});
