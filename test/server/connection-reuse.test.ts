// Connection reuse on real sockets: an RFC 5923 Via alias lets sipsd reach a TCP peer over the
// connection the peer opened, with nothing listening at the aliased address; IPv6 loopback works.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  options,
  StreamPeer,
  startTestServer,
  statusOf,
  udpRequest,
  type TestServer,
} from '../helpers/peers.js';
import { freePort as closedPort } from '../helpers/ports.js';

describe('connection reuse by Via alias (RFC 5923)', () => {
  let t: TestServer | undefined;
  let aliasPort = 0;
  before(async () => {
    aliasPort = await closedPort();
    const script = join(mkdtempSync(join(tmpdir(), 'sipsd-alias-')), 'route.ts');
    writeFileSync(
      script,
      `export default {
        async request(ctx) {
          if (ctx.msg.method === 'MESSAGE') {
            try { await ctx.forward('tcp:127.0.0.1:${aliasPort}'); } catch (e) { await ctx.reply(503, 'Unreachable'); }
            return;
          }
          await ctx.reply(200, 'OK');
        },
      };\n`,
    );
    t = await startTestServer(`script: ${script}`);
  });
  after(async () => {
    await t?.stop();
  });

  test('a request to the aliased address goes out over the peer connection', async () => {
    assert.ok(t);
    const peer = await StreamPeer.tcp(t.port('tcp'));
    peer.write(options('TCP').replace('127.0.0.1:9;', `127.0.0.1:${aliasPort};alias;`));
    await peer.until((r) => r.includes('SIP/2.0 200 OK'));
    const message = options('UDP')
      .replace(/^OPTIONS /, 'MESSAGE ')
      .replace(/CSeq: (\d+) OPTIONS/, 'CSeq: $1 MESSAGE');
    // The MESSAGE comes in over UDP; sipsd forwards it over TCP: the only way to the alias is the peer's connection.
    const pending = udpRequest(t.port('udp'), message, 3000).catch((e: Error) => e.message);
    await peer.until((r) => r.includes('MESSAGE sip:127.0.0.1 SIP/2.0'));
    assert.match(peer.received, /^Via: SIP\/2\.0\/TCP 127\.0\.0\.1:\d+;branch=z9hG4bK-sipsd-/m);
    peer.close();
    await pending;
  });

  test('without an alias the same forward fails: nothing listens there', async () => {
    assert.ok(t);
    const message = options('UDP')
      .replace(/^OPTIONS /, 'MESSAGE ')
      .replace(/CSeq: (\d+) OPTIONS/, 'CSeq: $1 MESSAGE');
    assert.equal(statusOf(await udpRequest(t.port('udp'), message)), 503);
  });
});

describe('IPv6 loopback listeners', () => {
  let t: TestServer | undefined;
  before(async () => {
    t = await startTestServer(`listen: ['udp:[::1]:0', 'tcp:[::1]:0', 'tls:[::1]:0']`);
  });
  after(async () => {
    await t?.stop();
  });

  test('UDP over ::1 answers OPTIONS with received=::1; the TLS listener binds ::1', async () => {
    assert.ok(t);
    const sock = createSocket('udp6');
    const res = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no answer over ::1')), 2000);
      sock.on('message', (m) => {
        clearTimeout(timer);
        resolve(m.toString());
      });
      sock.send(options('UDP'), t!.port('udp'), '::1');
    });
    sock.close();
    assert.equal(statusOf(res), 200);
    assert.match(res, /received=::1/);
    assert.equal(t.server.listeners.find((l) => l.proto === 'tls')?.name.startsWith('tls:[::1]:'), true);
  });
});
