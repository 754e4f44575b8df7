// Client domain selection on real outbound TLS connections: sipsd forwards to TLS peers that
// require a client certificate and record which one they got.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { validateConfigText } from '../../src/config/load.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { TestCa } from '../helpers/domains.js';
import { options, udpRequest, testLog } from '../helpers/peers.js';

/** A TLS peer that requires a client certificate and reports the CN of each one it gets. */
class Peer {
  readonly seen: string[] = [];
  private waiters: Array<() => void> = [];
  constructor(readonly server: Server) {
    server.on('secureConnection', (s: TLSSocket) => {
      this.seen.push(String(s.getPeerCertificate().subject?.CN));
      for (const w of this.waiters.splice(0)) w();
      s.on('error', () => undefined);
    });
  }
  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }
  async next(count: number): Promise<string> {
    const deadline = Date.now() + 3000;
    while (this.seen.length < count && Date.now() < deadline) {
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
    return this.seen[count - 1] ?? 'nothing';
  }
}

describe('client domain selection', () => {
  let ca: TestCa;
  let server: RunningServer;
  const peers: Peer[] = [];

  before(async () => {
    ca = await TestCa.create();
    // Valid for the SIP domain the tests route to: outgoing connections check the server's name.
    const serverCert = await ca.issue('peer', 'localhost', 'server', ['localhost', 'atlanta.com']);
    for (let i = 0; i < 5; i++) {
      const s = createServer({
        cert: readFileSync(serverCert.cert),
        key: readFileSync(serverCert.key),
        ca: readFileSync(ca.caFile),
        requestCert: true,
        rejectUnauthorized: true,
      });
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      peers.push(new Peer(s));
    }
    const c = async (name: string) => ca.issue(name, `${name}-client`, 'client');
    const dom = async (name: string, extra: string) => {
      const f = await c(name);
      return `  - { name: ${name}, type: client, certificate: ${f.cert}, private_key: ${f.key}, ca_list: ${ca.caFile}, ${extra} }`;
    };
    // The script forwards over TLS to the port in X-Port, with the choices the request carries.
    const script = join(ca.dir, 'route.ts');
    writeFileSync(
      script,
      `export default {
        async request(ctx) {
          const dest = 'tls:127.0.0.1:' + ctx.msg.getHeader('X-Port');
          const domain = ctx.msg.getHeader('X-Domain');
          if (ctx.msg.getHeader('X-Sip-Domain')) ctx.avp.set('tls_sip_dom', ctx.msg.getHeader('X-Sip-Domain'));
          try { await ctx.forward(dest, domain ? { domain } : {}); } catch (e) { await ctx.reply(503, String(e.message).slice(0, 100)); }
        },
      };\n`,
    );
    const text = [
      // Sending over TLS needs a TLS socket of our own (its address goes in the Via).
      "listen: ['udp:127.0.0.1:0', 'tls:127.0.0.1:0']",
      'mi: { enabled: false }',
      `script: ${script}`,
      'client_sip_domain_avp: tls_sip_dom',
      'tls_domains:',
      await dom('by-name', 'match_sip_domain: [nothing.invalid]'),
      await dom('by-id', 'match_sip_domain: [nothing.invalid], server_id: pstn-7'),
      await dom('atlanta', 'match_sip_domain: [atlanta.com]'),
      await dom('gw', `match_ip_address: ['127.0.0.1:${peers[3]!.port}']`),
      await dom('default', ''),
      `  - { name: srv, type: server, certificate: ${serverCert.cert}, private_key: ${serverCert.key} }`,
    ].join('\n');
    const file = join(ca.dir, 'sipsd.yaml');
    const loaded = validateConfigText(text, file);
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
    server = await startServer(loaded.config, file, testLog);
  });
  after(async () => {
    await server?.stop();
    for (const p of peers) p.server.close();
    ca?.remove();
  });

  const send = (headers: string) =>
    udpRequest(server.listeners.find((l) => l.proto === 'udp')!.port, options('UDP', headers), 1500).catch(
      (e: Error) => e.message,
    );

  test('an explicit name (or Kamailio server_id) wins', async () => {
    void send(`X-Port: ${peers[0]!.port}\r\nX-Domain: by-name\r\nX-Sip-Domain: atlanta.com\r\n`);
    assert.equal(await peers[0]!.next(1), 'by-name-client');
    void send(`X-Port: ${peers[1]!.port}\r\nX-Domain: pstn-7\r\n`);
    assert.equal(await peers[1]!.next(1), 'by-id-client');
  });

  test('the SIP domain chooses the domain; destination only next; else the default', async () => {
    void send(`X-Port: ${peers[2]!.port}\r\nX-Sip-Domain: ATLANTA.com\r\n`);
    assert.equal(await peers[2]!.next(1), 'atlanta-client');
    void send(`X-Port: ${peers[3]!.port}\r\n`);
    assert.equal(await peers[3]!.next(1), 'gw-client');
    void send(`X-Port: ${peers[4]!.port}\r\n`);
    assert.equal(await peers[4]!.next(1), 'default-client');
  });

  test('an unknown explicit name fails the send with a clear error', async () => {
    // A destination with no connection yet: the domain is chosen before connecting.
    const reply = await send(`X-Port: 9\r\nX-Domain: nope\r\n`);
    assert.match(reply, /^SIP\/2\.0 503 .*no TLS client domain named "nope"/);
  });
});
