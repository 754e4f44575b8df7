// Stateless forwarding between two real sipsd instances: A relays over TLS (as a TLS client with
// its client domain) to B, replies come back along the Via path, and A reuses its connection.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { options, startTestServer, statusOf, udpRequest, type TestServer } from '../helpers/peers.js';

describe('stateless forward over TLS with connection reuse', () => {
  let b: TestServer | undefined;
  let a: TestServer | undefined;
  before(async () => {
    b = await startTestServer();
    const script = join(b.dir, 'relay.ts');
    writeFileSync(
      script,
      `export default {
        async request(ctx) {
          ctx.msg.addHeader('X-Relayed-By', ctx.expand('$Ri over $pr'));
          await ctx.forward('tls:127.0.0.1:${b.port('tls')}');
        },
      };\n`,
    );
    a = await startTestServer(`script: ${script}`, b.pki);
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
  });

  test('replies come back through A, and A opens one TLS connection to B for many requests', async () => {
    assert.ok(a && b);
    for (let i = 0; i < 3; i++) {
      const res = await udpRequest(a.port('udp'), options('UDP'));
      assert.equal(statusOf(res), 200, res);
      // A's Via was removed on the way back: only the client's Via remains.
      assert.equal(res.match(/^Via:/gm)?.length, 1, res);
    }
    const out = [...a.server.transport.connections.all()].filter((c) => c.direction === 'out');
    assert.equal(out.length, 1);
    assert.equal(out[0]!.proto, 'tls');
    assert.equal(out[0]!.tls?.peer.verified, true, 'A verified B against the test CA');
    const inB = [...b.server.transport.connections.all()].filter(
      (c) => c.direction === 'in' && c.proto === 'tls',
    );
    assert.equal(inB.length, 1);
    assert.equal(inB[0]!.tls?.peer.verified, true, 'B verified the client certificate of A');
  });
});
