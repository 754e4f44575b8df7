import { test } from 'node:test';
import assert from 'node:assert/strict';
import { importOpensips } from '../../src/config/import/opensips.js';
import { formatReport } from '../../src/config/import/common.js';
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

const FILE = '/etc/opensips/opensips.cfg';
const run = (text: string) => importOpensips(text, FILE);
const ROUTING = /routing logic \(lines \d+-\d+\) is not imported: write it as a TypeScript routing script/;
const ELLIPSIS = /not a configuration statement sipsd imports/;
const SQL_2X = /not a column of the OpenSIPS 3\.x tls_mgm table/;

test('3.x: the six domains of seeds 000 §1.8.35 with their filters, files and verify flags', () => {
  const text = fixture('opensips3-domains.cfg');
  const r = run(text);
  assert.deepEqual(r.config['listen'], ['tls:10.0.0.10:5061']);
  assert.equal(r.config['client_sip_domain_avp'], 'tls_sip_dom');
  assert.deepEqual(
    domains(r).map((d) => `${d.type}:${d.name}`),
    ['server:dom1', 'server:dom2', 'server:dom3', 'client:dom4', 'client:dom5', 'client:dom6'],
  );
  assert.deepEqual(domain(r, 'server', 'dom1'), {
    name: 'dom1',
    type: 'server',
    match_ip_address: ['10.0.0.10:5061'],
    match_sip_domain: ['atlanta.com'],
    tls_method: 'tlsv1',
    certificate: '/certs/atlanta.com/cert.pem',
    private_key: '/certs/atlanta.com/privkey.pem', // wrapped across two lines in the seed
    ca_list: '/certs/wellknownCAs',
    verify_cert: true,
    require_cert: true,
  });
  assert.deepEqual(domain(r, 'server', 'dom2').match_sip_domain, ['biloxy.com']);
  assert.deepEqual(domain(r, 'server', 'dom3').match_sip_domain, ['none']);
  assert.deepEqual(domain(r, 'client', 'dom4').match_ip_address, ['*']);
  assert.deepEqual(domain(r, 'client', 'dom4').match_sip_domain, ['atlanta.com']);
  assert.equal(domain(r, 'client', 'dom5').private_key, '/certs/biloxy.com/privkey.pem');
  const gw = domain(r, 'client', 'dom6');
  assert.deepEqual(gw.match_ip_address, ['1.2.3.4:6677']);
  assert.deepEqual(gw.match_sip_domain, ['*']);
  assert.equal(gw.verify_cert, false);
  assert.equal(gw.require_cert, undefined, 'not set in the seed: the native default applies');
  for (const d of domains(r)) assert.equal(d.verify_server_name, d.type === 'client' ? false : undefined);
  assertUnmapped(r, [
    ...linesMatching(text, /^\.\.\.$/)
      .filter((l) => l < 86)
      .map((l): [number, RegExp] => [l, ELLIPSIS]),
    [86, ROUTING],
  ]);
  assertLoads(r);
});

test('3.x: every tls_mgm parameter of seeds 000 §1.8 maps or is reported', () => {
  const text = fixture('opensips3-params.cfg');
  const r = run(text);
  assert.deepEqual(domain(r, 'server', 'dom'), {
    name: 'dom',
    type: 'server',
    tls_method: 'TLSv1-TLSv1_3', // the range example comes last
    certificate: '/mycerts/certs/opensips_server_cert.pem',
    private_key: '/mycerts/private/prik.pem',
    ca_list: '/mycerts/certs/ca_list.pem',
    ca_dir: '/mycerts/certs',
    crl_dir: '/mycerts/crls',
    crl_check_all: true,
    cipher_list: 'NULL',
    dh_params: '/etc/pki/CA/dh1024.pem',
    verify_cert: false,
    require_cert: false,
  });
  const dom1 = domain(r, 'client', 'dom1');
  assert.deepEqual(dom1.match_ip_address, ['10.0.0.10:5061', '10.0.0.11:5061']);
  assert.deepEqual(dom1.match_sip_domain, ['foo.com', 'bar.com', '*.baz.com']);
  // tls_mgm's defaults, written out so the output does not depend on where it is saved.
  assert.equal(dom1.certificate, '/etc/opensips/tls/cert.pem');
  assert.equal(dom1.private_key, '/etc/opensips/tls/ckey.pem');
  assert.equal(r.config['client_tls_domain_avp'], 'tls_match_dom');
  assert.equal(r.config['client_sip_domain_avp'], 'sip_match_dom');
  assertUnmapped(r, [
    [linesMatching(text, /default_dom/)[0]!, /no server_domain or client_domain is named "default_dom"/],
  ]);
  // The SQL settings carry over under the same names (the URL needs its password to connect).
  assert.equal(r.config['db_url'], 'mysql://root:admin@localhost/opensips');
  assert.equal(r.config['db_table'], 'tls_mgm');
  assert.equal(r.config['certificate_col'], 'certificate');
  assertLoads(r);
});

test('3.x script example (seeds 000 §1.10): parameters without [dom] set the default domains', () => {
  const text = fixture('opensips3-script.cfg');
  const r = run(text);
  assert.equal(r.config['log_level'], 'info'); // log_level=3 is L_INFO
  assert.equal(r.config['listen'], undefined, 'placeholder addresses are reported, not invented');
  for (const type of ['server', 'client'] as const) {
    const d = domain(r, type, 'default');
    assert.equal(d.certificate, '/path/opensipsX_cert.pem');
    assert.equal(d.private_key, '/path/privkey.pem');
    assert.equal(d.ca_list, '/path/calist.pem');
    assert.equal(d.verify_cert, true);
    assert.equal(d.require_cert, true);
  }
  const modules = linesMatching(text, /loadmodule/).filter(
    (l) => !/proto_tls|proto_udp|tls_mgm/.test(text.split('\n')[l - 1]!),
  );
  assertUnmapped(r, [
    ...linesMatching(text, /^ {2}(log_stderror|check_via|dns|rev_dns|alias)=/).map((l): [number, RegExp] => [
      l,
      /core parameter "\w+" has no sipsd equivalent/,
    ]),
    ...linesMatching(text, /listen=\w+:your_serv_IP/).map((l): [number, RegExp] => [
      l,
      /"your_serv_IP" is not an IP address/,
    ]),
    ...modules.map((l): [number, RegExp] => [l, /sipsd has no module "\w+"/]),
    ...linesMatching(text, /modparam\("(auth_db|registrar)"/).map((l): [number, RegExp] => [
      l,
      /is not part of sipsd/,
    ]),
    [linesMatching(text, /^ {2}route\{/)[0]!, ROUTING],
  ]);
  assertLoads(r);
});

test('2.x: name=IP:port domains, client_domain_avp and implicit defaults (seeds 001 §1.8.30)', () => {
  const text = fixture('opensips2-domains.cfg');
  const r = run(text);
  assert.equal(r.config['client_tls_domain_avp'], 'tls_cli_dom'); // set through proto_tls in the seed
  assert.deepEqual(
    domains(r).map((d) => `${d.type}:${d.name}`),
    [
      'server:default',
      'client:default',
      'server:dom1',
      'server:dom2',
      'client:dom3',
      'client:dom4',
      'client:dom5',
      'client:dom6',
    ],
  );
  assert.equal(domain(r, 'server', 'default').certificate, '/etc/opensips/tls/cert.pem');
  assert.deepEqual(domain(r, 'client', 'dom6').match_ip_address, ['1.2.3.4:6677']);
  assert.equal(domain(r, 'client', 'dom6').verify_cert, false);
  assert.equal(domain(r, 'server', 'dom1').tls_method, 'tlsv1');
  const placeholders = linesMatching(text, /IP_\d:port\d/);
  assertUnmapped(r, [
    ...linesMatching(text, /^\.\.\.$/)
      .filter((l) => l < 72)
      .map((l): [number, RegExp] => [l, ELLIPSIS]),
    ...placeholders.filter((l) => l < 5).map((l): [number, RegExp] => [l, /is not proto:ip:port/]),
    ...placeholders
      .filter((l) => l > 5)
      .map((l): [number, RegExp] => [l, /match_ip_address: "IP_\d:port\d" is not ip:port/]),
    [72, ROUTING],
  ]);
  assert.deepEqual(
    notes(r).map((n) => n.reason.match(/client domain "(\w+)"/)?.[1]),
    ['dom3', 'dom4', 'dom5'],
    'name-only 2.x client domains are flagged: sipsd would also match them by destination',
  );
  assertLoads(r);
});

test('2.x: every tls_mgm parameter of seeds 001 §1.8 maps or is reported', () => {
  const text = fixture('opensips2-params.cfg');
  const r = run(text);
  assert.equal(r.config['tls_handshake_timeout'], 200);
  assert.equal(r.config['tls_send_timeout'], 200);
  assert.equal(r.config['client_tls_domain_avp'], 'tls_cli_dom');
  const dflt = domain(r, 'server', 'default');
  assert.deepEqual(
    [
      dflt.tls_method,
      dflt.certificate,
      dflt.ca_dir,
      dflt.cipher_list,
      dflt.dh_params,
      dflt.verify_cert,
      dflt.require_cert,
    ],
    [
      'TLSv1',
      '/mycerts/certs/opensips_server_cert.pem',
      '/mycerts/certs',
      'NULL',
      '/etc/pki/CA/dh1024.pem',
      false,
      true,
    ],
  );
  assert.equal(
    domain(r, 'client', 'default').verify_cert,
    false,
    '2.x: un-prefixed values act on both sides',
  );
  const dom = domain(r, 'server', 'dom');
  assert.deepEqual(dom.match_ip_address, ['10.0.0.1:5061']);
  assert.equal(dom.verify_cert, true);
  assertUnmapped(
    r,
    linesMatching(text, /(address_col|type_col)"/).map((l): [number, RegExp] => [l, SQL_2X]),
  );
  assertLoads(r);
});

test('proto_tls: every parameter of seeds 004 §1.5 maps or is reported', () => {
  const text = fixture('proto-tls.cfg');
  const r = run(text);
  assert.deepEqual(r.config, {
    tls_port: 5062,
    tls_handshake_timeout: 200,
    tls_send_timeout: 200,
    tls_crlf_pingpong: false,
    tls_crlf_drop: true,
    tls_max_msg_chunks: 8,
    tls_async: true,
    tls_async_max_postponed_chunks: 16,
    tls_async_local_connect_timeout: 200,
    tls_async_handshake_timeout: 100,
    cert_check_on_conn_reusage: true,
    trace_on: true,
    trace_filter_route: 'tls_filter',
  });
  const line = (re: RegExp) => linesMatching(text, re)[0]!;
  assertUnmapped(r, [
    [line(/^socket= tls:/), /"tls:" is not proto:ip:port/],
    // The docs' hep_id example has no address: the collector cannot be imported.
    [line(/"proto_hep"/), /trace_destination: invalid trace_destination/],
  ]);
  assert.deepEqual(
    notes(r).map((n) => n.line),
    [line(/trace_filter_route/), ...linesMatching(text, /^param\(/)].sort((a, b) => a - b),
    'the docs typo param(...) is read as modparam(...) and noted; the filter route names a script function',
  );
  assertLoads(r);
});

test('OpenSER core settings and tls_domain blocks (seeds 003 §1.5.4)', () => {
  const text = fixture('openser-settings.cfg');
  const r = run(text);
  assert.deepEqual(r.config['listen'], ['tls:1.2.3.4:5061']);
  assert.equal(r.config['tls_port'], 5062);
  assert.equal(r.config['tls_handshake_timeout'], 119_000, 'OpenSER wrote seconds');
  assert.equal(r.config['tls_send_timeout'], 121_000);
  const server = domain(r, 'server', 'default');
  assert.equal(server.tls_method, 'TLSv1');
  assert.equal(server.certificate, '/mycerts/certs/openser_server_cert.pem');
  assert.equal(server.cipher_list, 'NULL-SHA:NULL-MD5:AES256-SHA:AES128-SHA');
  assert.equal(server.verify_cert, true);
  assert.equal(server.require_cert, true);
  const client = domain(r, 'client', 'default');
  assert.equal(client.verify_cert, true, 'tls_verify acts on both sides');
  assert.equal(
    client.require_cert,
    false,
    "tls_require_certificate is the server's; OpenSER's default is off",
  );
  // A block sets some keys and takes the others from the global settings.
  const block = domain(r, 'server', 'server:IP_2:port2');
  assert.equal(block.certificate, '/etc/opensips/new_cert');
  assert.equal(block.ca_list, '/etc/opensips/other ca');
  assert.equal(block.tls_method, 'tlsv1');
  assert.equal(block.cipher_list, server.cipher_list);
  assert.equal(block.verify_cert, true);
  assert.equal(domain(r, 'server', 'server:IP_3:port3').certificate, server.certificate);
  assertUnmapped(r, [
    [linesMatching(text, /tls_domain\[IP_2/)[0]!, /match_ip_address: "IP_2:port2" is not ip:port/],
    [linesMatching(text, /tls_domain\[IP_3/)[0]!, /match_ip_address: "IP_3:port3" is not ip:port/],
    [linesMatching(text, /^ {4}\.\.\.$/)[0]!, /not a tls_domain setting/],
  ]);
  assert.equal(notes(r).filter((n) => /seconds; converted to milliseconds/.test(n.reason)).length, 2);
  assertLoads(r);
});

test('OpenSER script example (seeds 003 §1.6)', () => {
  const text = fixture('openser-script.cfg');
  const r = run(text);
  assert.equal(r.config['log_level'], 'info'); // debug=3 is L_INFO on OpenSER's scale
  const server = domain(r, 'server', 'default');
  assert.equal(server.certificate, '/path/openserX_cert.pem');
  assert.equal(server.verify_cert, true); // tls_verify=on
  assert.equal(server.require_cert, true);
  const reported = new Set(unmapped(r).map((x) => x.line));
  for (const l of linesMatching(text, /^ {2}(fork|log_stderror|check_via|dns|rev_dns|fifo|alias)=/)) {
    assert.ok(reported.has(l), `line ${l} is reported`);
  }
  // children=4: sipsd's workers.
  assert.equal(r.config['workers'], 4);
  for (const l of linesMatching(text, /loadmodule|modparam|^-$|listen=_your_serv_IP_/))
    assert.ok(reported.has(l), `line ${l}`);
  for (const l of linesMatching(text, /^ {2}(debug|port|tls_\w+)=/))
    assert.ok(!reported.has(l), `line ${l} is mapped`);
  assert.ok(unmapped(r).some((x) => ROUTING.test(x.reason)));
  assertLoads(r);
});

test('OpenSER disable_tls and OpenSIPS 1.x tls_server_domain / tls_client_domain blocks', () => {
  const r = run(`disable_tls = 1
listen = tls:1.2.3.4:5061
listen = udp:1.2.3.4
port = 5070
tls_verify_client = 1
tls_server_domain[10.0.0.1:5061] {
  tls_certificate = "/srv.pem"
  tls_verify_server = 1
}
tls_client_domain["gw"] {
  tls_certificate = "/gw.pem"
  tls_verify_server = 0
  tls_verify_client = 1
  children = 4
}
`);
  assert.deepEqual(r.config['listen'], ['udp:1.2.3.4:5070']);
  assert.ok(notes(r).some((n) => n.line === 1 && /tls listen entries are left out/.test(n.reason)));
  const srv = domain(r, 'server', 'server:10.0.0.1:5061');
  assert.deepEqual(srv.match_ip_address, ['10.0.0.1:5061']);
  assert.equal(srv.verify_cert, true, 'inherited from tls_verify_client');
  assert.equal(srv.private_key, '/etc/opensips/prik.pem', "OpenSER's default key");
  const gw = domain(r, 'client', 'gw');
  assert.equal(gw.match_ip_address, undefined);
  assert.equal(gw.verify_cert, false);
  assert.equal(gw.certificate, '/gw.pem');
  assertUnmapped(r, [
    [8, /tls_verify_server applies to client domains only/],
    [13, /tls_verify_client applies to server domains only/],
    [14, /"children" cannot be set per TLS domain/],
  ]);
  assertLoads(r);
});

test('comments, wrapped strings, listen forms, core timeouts and log levels', () => {
  const r = run(`/* a block
   comment */ listen = udp:10.0.0.1:5060 // trailing
listen = tls:[2001:db8::1]:5061 as 192.0.2.1:5061
listen = tcp:10.0.0.1  # port from port=
socket = ws:10.0.0.1:8080
listen = tls:eth0:5061
port = 5062
log_level = -1
tcp_connection_lifetime = 3605
tcp_max_msg_time = 8
tcp_connect_timeout = 250
tls_port_no = 70000
modparam("tls_mgm", "server_domain",
         "wrapped")
modparam("tls_mgm", "certificate", "[wrapped]relative/cert.pem")
modparam("tls_mgm", "tls_method", "[wrapped]SSLv3")
modparam("tls_mgm", "server_domain", "wrapped")
modparam("tls_mgm", "verify_cert", "[wrapped]maybe")
modparam("tls_mgm", "no_such_param", "x")
modparam("tls_mgm", "certificate", "[wrapped]/a.pem
modparam("tls_mgm", "private_key", "[wrapped]/k.pem")
include_file "tls.cfg"
`);
  assert.deepEqual(r.config['listen'], ['udp:10.0.0.1:5060', 'tls:[2001:db8::1]:5061', 'tcp:10.0.0.1:5062']);
  assert.equal(r.config['log_level'], 'error');
  assert.equal(r.config['connection_timeout'], 3605);
  assert.equal(r.config['tcp_max_msg_time'], 8);
  assert.equal(r.config['tcp_connect_timeout'], 250);
  assert.equal(r.config['tls_port'], undefined);
  const d = domain(r, 'server', 'wrapped');
  assert.equal(d.certificate, '/etc/opensips/relative/cert.pem', 'relative to the config folder');
  assert.equal(d.private_key, '/k.pem', 'the line after a missing quote is read on its own');
  assert.equal(d.tls_method, undefined);
  assertUnmapped(r, [
    [5, /sipsd listens on udp, tcp and tls, not ws/],
    [6, /"eth0" is not an IP address: sipsd listens on addresses, not host or interface names/],
    [12, /tls_port: must be at most 65535/],
    [16, /tls_method: SSLv3 is not supported by OpenSSL 3/],
    [17, /server domain "wrapped" is already defined at line 13/],
    [18, /verify_cert: expected a boolean/],
    [19, /tls_mgm has no parameter "no_such_param"/],
    [20, /unterminated string \(a closing quote is missing\)/],
    [22, /included files are not followed; import "tls.cfg" separately/],
  ]);
  assert.ok(notes(r).some((n) => n.line === 3 && /"as 192.0.2.1:5061" is not mapped/.test(n.reason)));
  assert.equal(
    formatReport(unmapped(r)[0]!),
    `${FILE}:5: socket = ws:10.0.0.1:8080: not mapped: sipsd listens on udp, tcp and tls, not ws`,
  );
  assertLoads(r);
});

test('the YAML lists what was not mapped at its end, after a header naming the source', () => {
  const r = run('listen = udp:10.0.0.1:5060\nmhomed = 1\n');
  assert.match(r.yaml, /^# Imported by `sipsd import opensips` from \/etc\/opensips\/opensips\.cfg\./);
  assert.match(r.yaml, /listen:\n {2}- udp:10\.0\.0\.1:5060\n/);
  assert.match(
    r.yaml,
    /# Not mapped:\n# {3}\/etc\/opensips\/opensips\.cfg:2: mhomed = 1: not mapped: core parameter "mhomed" has no sipsd equivalent\n$/,
  );
  assertLoads(r);
});

test('proto_tls trace_destination takes the proto_hep hep_id it names, wherever that is defined', () => {
  const r = run(`modparam("proto_tls", "trace_destination", "hep_dest")
modparam("proto_hep", "hep_id", "[hep_dest]127.0.0.1:9060;transport=tcp;version=3")
`);
  assert.equal(r.config['trace_destination'], '[hep_dest]127.0.0.1:9060;transport=tcp;version=3');
  assertLoads(r);
  const missing = run(`modparam("proto_tls", "trace_destination", "nowhere")\n`);
  assertUnmapped(missing, [[1, /no proto_hep hep_id is named "nowhere"/]]);
});
