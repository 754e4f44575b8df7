// Outbound TLS connection reuse with and without the domain check (cert_check_on_conn_reusage /
// tls_connection_match_domain), and the script's connection hooks on real loopback connections.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { TestCa, type CertFiles } from '../helpers/domains.js';
import { options, StreamPeer, serverPool, tlsClientOptions, type TestServer } from '../helpers/peers.js';

/** A TLS server that records the subject of each client certificate and what each connection received. */
class RecordingPeer {
  readonly connections: Array<{ subject: string; received: string }> = [];
  readonly sockets = new Set<tls.TLSSocket>();
  private constructor(readonly server: tls.Server) {}

  static async start(ca: TestCa, files: CertFiles): Promise<RecordingPeer> {
    const server = tls.createServer({
      cert: readFileSync(files.cert),
      key: readFileSync(files.key),
      ca: readFileSync(ca.caFile),
      requestCert: true,
      rejectUnauthorized: false,
    });
    const peer = new RecordingPeer(server);
    server.on('secureConnection', (s) => {
      peer.sockets.add(s);
      const entry = { subject: s.getPeerX509Certificate()?.subject ?? '', received: '' };
      peer.connections.push(entry);
      s.on('data', (d: Buffer) => (entry.received += d.toString()));
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return peer;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Stops listening and cuts what sipsd still has open (close() alone would wait for it). */
  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((r) => this.server.close(() => r()));
  }
}

let ca: TestCa;
let peer: RecordingPeer;
let alice: CertFiles;
let bob: CertFiles;

before(async () => {
  ca = await TestCa.create();
  peer = await RecordingPeer.start(ca, await ca.issue('peer', '127.0.0.1', 'server'));
  alice = await ca.issue('alice', 'alice.example.com', 'client');
  bob = await ca.issue('bob', 'bob.example.com', 'client');
});
after(async () => {
  await peer.close();
  ca.remove();
});

const clientDomains = () => `
  - { name: alice, type: client, certificate: ${alice.cert}, private_key: ${alice.key}, ca_list: ${ca.caFile}, match_ip_address: ['1.1.1.1:1'] }
  - { name: bob, type: client, certificate: ${bob.cert}, private_key: ${bob.key}, ca_list: ${ca.caFile}, match_ip_address: ['1.1.1.1:1'] }`;

const sipsd = serverPool();

async function sendAs(t: TestServer, domain: string, body: string): Promise<void> {
  await t.server.transport.send(
    { proto: 'tls', address: '127.0.0.1', port: peer.port, tlsDomain: domain, serverName: '127.0.0.1' },
    Buffer.from(body),
  );
}

async function until(pred: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!pred()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('outbound connection reuse', () => {
  test('by default any TLS connection to the address is reused, whatever domain is chosen', async () => {
    peer.connections.length = 0;
    const t = await startWithClients('');
    await sendAs(t, 'alice', 'one');
    await sendAs(t, 'bob', 'two');
    await until(() => peer.connections.some((c) => c.received.includes('two')), 'the second message');
    assert.equal(peer.connections.length, 1);
    assert.match(peer.connections[0]!.subject, /CN=alice\.example\.com/);
  });

  for (const key of ['cert_check_on_conn_reusage', 'tls_connection_match_domain']) {
    test(`${key}: a connection made with another client domain is not reused`, async () => {
      peer.connections.length = 0;
      const t = await startWithClients(`${key}: on`);
      await sendAs(t, 'alice', 'one');
      await sendAs(t, 'bob', 'two');
      await sendAs(t, 'alice', 'three');
      await until(
        () => peer.connections.length === 2 && peer.connections[0]!.received.includes('three'),
        'both',
      );
      assert.deepEqual(
        peer.connections.map((c) => [/CN=(\w+)/.exec(c.subject)?.[1], c.received]),
        [
          ['alice', 'onethree'],
          ['bob', 'two'],
        ],
      );
    });
  }

  test('cert_check_on_conn_reusage: a connection the peer opened to us is reused whatever the domain', async () => {
    const t = await startWithClients('cert_check_on_conn_reusage: on');
    const inbound = await StreamPeer.tls(t.port('tls'), tlsClientOptions(t.pki));
    inbound.write(options('TLS'));
    await inbound.until((r) => r.includes('SIP/2.0 200 OK'));
    const port = inbound.socket.localPort!;
    await t.server.transport.send(
      { proto: 'tls', address: '127.0.0.1', port, tlsDomain: 'bob' },
      Buffer.from('over the accepted connection'),
    );
    await inbound.until((r) => r.includes('over the accepted connection'));
    inbound.close();
  });

  const startWithClients = (extra: string) => sipsd(extra, clientDomains());
});

describe('connection hooks', () => {
  function script(name: string, body: string): string {
    const file = join(ca.dir, `${name}.ts`);
    writeFileSync(file, `export default { async request(ctx) { await ctx.reply(200, 'OK'); }, ${body} };\n`);
    return file;
  }

  test('tlsConnectionOut sees the $tls_* variables and can drop the connection before any data', async () => {
    peer.connections.length = 0;
    const file = script(
      'out-hook',
      `tlsConnectionOut(ctx) {
         globalThis.seen = ctx.pv('$tls_peer_subject_cn') + ' ' + ctx.expand('$tls_version') + ' ' + ctx.direction;
         if (ctx.tls.domain === 'bob') ctx.drop();
       },`,
    );
    const t = await sipsd(`script: ${file}`, clientDomains());
    await assert.rejects(sendAs(t, 'bob', 'never sent'), /dropped by the tls:connection-out hook/);
    assert.match((globalThis as { seen?: string }).seen ?? '', /^127\.0\.0\.1 TLSv1\.3 out$/);
    await sendAs(t, 'alice', 'sent');
    await until(() => peer.connections.some((c) => c.received === 'sent'), 'the allowed message');
    // The dropped connection was opened and closed without a byte of SIP.
    assert.equal(peer.connections.filter((c) => c.received.includes('never sent')).length, 0);
  });

  test('tlsConnectionIn can refuse an accepted connection before its first message is read', async () => {
    const file = script(
      'in-hook',
      `tlsConnectionIn(ctx) { if (ctx.remote.address === '127.0.0.1') ctx.drop(); },`,
    );
    const t = await sipsd(`script: ${file}`);
    const inbound = await StreamPeer.tls(t.port('tls'), tlsClientOptions(t.pki));
    inbound.write(options('TLS'));
    await inbound.untilClosed(3000);
    assert.doesNotMatch(inbound.received, /SIP\/2\.0/);
  });
});
