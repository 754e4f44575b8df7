// Interoperability of the TLS layer with an independent implementation: Kamailio's tls module.
// sipsd → Kamailio: sipsd's client domain presents its certificate and Kamailio, requiring one,
// verifies it. Kamailio → sipsd: Kamailio's client profile connects to sipsd's server domain,
// which verifies Kamailio's certificate. Both answers come back along the Via path over UDP.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kamailio, kamailioSkip } from '../helpers/kamailio.js';
import { freePort } from '../helpers/ports.js';
import { options, startTestServer, statusOf, udpRequest, type TestServer } from '../helpers/peers.js';

describe('TLS interop with Kamailio', { skip: kamailioSkip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'sipsd-interop-'));
  let sipsd: TestServer | undefined;
  let kamailio: Kamailio | undefined;
  let kamailioUdp = 0;

  before(async () => {
    const kamailioTls = await freePort();
    kamailioUdp = await freePort();
    const script = join(dir, 'route.ts');
    writeFileSync(
      script,
      `export default {
        async request(ctx) {
          if (ctx.msg.requestUri.user === 'to-kamailio') return ctx.forward('tls:127.0.0.1:${kamailioTls}');
          await ctx.reply(200, 'OK from sipsd', {
            'X-Sipsd-Peer': ctx.expand('$tls_peer_subject_cn verified=$tls_peer_verified'),
          });
        },
      };\n`,
    );
    // A cold Kamailio can take longer than the 100 ms default to finish its first handshake.
    sipsd = await startTestServer(`script: ${script}\ntls_handshake_timeout: 3000`);
    const pki = sipsd.pki;
    // Kamailio uses sipsd's test PKI: the server certificate (usable as a client one too) and CA.
    const profile = `certificate = ${pki.serverCertFile}\nprivate_key = ${pki.serverKeyFile}\nca_list = ${pki.caFile}\n`;
    kamailio = await Kamailio.start({
      udpPort: kamailioUdp,
      tlsPort: kamailioTls,
      tlsCfg:
        `[server:default]\nmethod = TLSv1.2+\n${profile}verify_certificate = yes\nrequire_certificate = yes\n\n` +
        `[client:default]\nmethod = TLSv1.2+\n${profile}verify_certificate = yes\nrequire_certificate = yes\n`,
      route: `
  if ($rU == "to-sipsd") {
    $du = "sip:127.0.0.1:${sipsd.port('tls')};transport=tls";
    forward();
    exit;
  }
  if (proto != TLS) { sl_send_reply("400", "Expected TLS"); exit; }
  if (!is_peer_verified()) { sl_send_reply("403", "Peer not verified"); exit; }
  append_to_reply("X-Kamailio-Peer: $tls_peer_subject_cn\\r\\n");
  sl_send_reply("200", "OK from Kamailio");`,
    });
  });
  after(async () => {
    await kamailio?.stop();
    await sipsd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const to = (user: string) =>
    options('UDP').replace('OPTIONS sip:127.0.0.1 ', `OPTIONS sip:${user}@127.0.0.1 `);
  const header = (res: string, name: string) => new RegExp(`^${name}: (.*)\\r$`, 'm').exec(res)?.[1];

  test('sipsd → Kamailio: Kamailio verifies the certificate sipsd presents', async () => {
    assert.ok(sipsd && kamailio);
    const res = await udpRequest(sipsd.port('udp'), to('to-kamailio'), 5000).catch((e: Error) => {
      throw new Error(`${e.message}; Kamailio log:\n${kamailio!.log}`);
    });
    assert.equal(statusOf(res), 200, res);
    assert.match(res, /^SIP\/2\.0 200 OK from Kamailio\r$/m);
    assert.equal(header(res, 'X-Kamailio-Peer'), 'sipsd-test-client');
  });

  test('Kamailio → sipsd: sipsd verifies the certificate Kamailio presents', async () => {
    assert.ok(sipsd && kamailio);
    const res = await udpRequest(kamailioUdp, to('to-sipsd'), 5000).catch((e: Error) => {
      throw new Error(`${e.message}; Kamailio log:\n${kamailio!.log}`);
    });
    assert.equal(statusOf(res), 200, res);
    assert.match(res, /^SIP\/2\.0 200 OK from sipsd\r$/m);
    assert.equal(header(res, 'X-Sipsd-Peer'), 'localhost verified=1');
  });
});
