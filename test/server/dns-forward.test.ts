// RFC 3263 on the forwarding path: sipsd A relays a request for sips:bob@domb.test; a DNS server on
// loopback answers NAPTR → SRV → A. The first SRV target refuses connections, so A fails over to
// the second, sipsd B, whose answer comes back.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestPki } from '../../src/pki/index.js';
import { TestDnsServer } from '../dns/dns-server.js';
import { options, startTestServer, statusOf, udpRequest, type TestServer } from '../helpers/peers.js';
import { freePort as closedPort } from '../helpers/ports.js';

describe('forwarding by NAPTR and SRV with failover', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sipsd-dns-fwd-'));
  const dns = new TestDnsServer();
  let a: TestServer | undefined;
  let b: TestServer | undefined;

  before(async () => {
    const server = await dns.start();
    const pki = await createTestPki(join(dir, 'pki'));
    b = await startTestServer('', pki);
    dns.set('domb.test', 'NAPTR', [
      {
        order: 10,
        preference: 10,
        flags: 's',
        services: 'SIPS+D2T',
        regexp: '',
        replacement: '_sips._tcp.domb.test',
      },
    ]);
    dns.set('_sips._tcp.domb.test', 'SRV', [
      { priority: 1, weight: 1, port: await closedPort(), target: 'down.domb.test' },
      { priority: 2, weight: 1, port: b.port('tls'), target: 'up.domb.test' },
    ]);
    dns.set('down.domb.test', 'A', ['127.0.0.1']);
    dns.set('up.domb.test', 'A', ['127.0.0.1']);
    // B's certificate names localhost, not domb.test: this client domain checks the chain only.
    const relay = join(dir, 'relay.ts');
    writeFileSync(relay, 'export default { async request(ctx) { await ctx.forward(); } };\n');
    a = await startTestServer(
      `script: ${relay}\ndns_servers: ['${server}']\ntls_handshake_timeout: 2000`,
      pki,
      `  - { name: domb, type: client, certificate: ${pki.clientCertFile}, private_key: ${pki.clientKeyFile}, ca_list: ${pki.caFile}, match_sip_domain: [domb.test], verify_server_name: false }`,
    );
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await dns.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the request reaches B through the second SRV target; B answers', async () => {
    assert.ok(a && b);
    const relayed = options('UDP').replace('OPTIONS sip:127.0.0.1 ', 'OPTIONS sips:bob@domb.test ');
    const res = await udpRequest(a.port('udp'), relayed, 5000);
    assert.equal(statusOf(res), 200, res);
    assert.equal(dns.count('NAPTR', 'domb.test'), 1);
    assert.equal(dns.count('SRV', '_sips._tcp.domb.test'), 1);
    const out = [...a.server.transport.connections.all()].filter((c) => c.direction === 'out');
    assert.deepEqual(
      out.map((c) => [c.remote.port, c.tls?.domain]),
      [[b.port('tls'), 'domb']],
    );
  });
});
