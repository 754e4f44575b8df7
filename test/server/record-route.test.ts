// Record-Route and loose routing between two real sipsd instances: A takes requests over UDP and
// relays them over TLS to B, asking to stay on the path; B echoes the Record-Route set it received.
// A request that carries A's own entries in its Route set is routed on by loose_route().
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { options, startTestServer, statusOf, udpRequest, type TestServer } from '../helpers/peers.js';

describe('record_route and loose_route', () => {
  let a: TestServer | undefined;
  let b: TestServer | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'sipsd-rr-'));
  before(async () => {
    writeFileSync(
      join(dir, 'echo.ts'),
      `export default {
        async request(ctx) {
          await ctx.reply(200, 'OK', {
            'X-Record-Route': ctx.msg.getHeaders('Record-Route').join(' | ') || 'none',
            'X-Route': ctx.msg.getHeaders('Route').join(' | ') || 'none',
          });
        },
      };\n`,
    );
    b = await startTestServer(`script: ${join(dir, 'echo.ts')}`);
    const relay = join(dir, 'relay.ts');
    writeFileSync(
      relay,
      `export default {
        async request(ctx) {
          if (ctx.checkMaxForwards() === 'too-many-hops') return ctx.reply(483, 'Too Many Hops');
          if (ctx.looseRoute()) return ctx.forward();
          ctx.recordRoute();
          await ctx.forward('tls:127.0.0.1:${b.port('tls')}');
        },
      };\n`,
    );
    a = await startTestServer(`script: ${relay}`, b.pki);
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const header = (res: string, name: string) => new RegExp(`^${name}: (.*)\\r$`, 'm').exec(res)?.[1];

  test('UDP in, TLS out: two r2 entries, the TLS side on top; the reply comes back through A', async () => {
    assert.ok(a && b);
    const res = await udpRequest(a.port('udp'), options('UDP'));
    assert.equal(statusOf(res), 200, res);
    assert.equal(
      header(res, 'X-Record-Route'),
      `<sip:127.0.0.1:${a.port('tls')};transport=tls;lr;r2=on> | <sip:127.0.0.1:${a.port('udp')};transport=udp;lr;r2=on>`,
    );
  });

  test("a request routed through A's entries follows the rest of the Route set", async () => {
    assert.ok(a && b);
    const routed = options('UDP').replace(
      /^(Max-Forwards: .*\r\n)/m,
      `$1Route: <sip:127.0.0.1:${a.port('udp')};transport=udp;lr;r2=on>, <sip:127.0.0.1:${a.port('tls')};transport=tls;lr;r2=on>\r\n` +
        `Route: <sip:127.0.0.1:${b.port('tls')};transport=tls;lr>\r\n`,
    );
    assert.notEqual(routed, options('UDP'), 'the Route headers were inserted');
    const res = await udpRequest(a.port('udp'), routed);
    assert.equal(statusOf(res), 200, res);
    assert.equal(header(res, 'X-Route'), `<sip:127.0.0.1:${b.port('tls')};transport=tls;lr>`);
    assert.equal(header(res, 'X-Record-Route'), 'none', 'in-dialog: no new Record-Route');
  });

  test('Max-Forwards 0 is answered 483 by A', async () => {
    assert.ok(a);
    const res = await udpRequest(
      a.port('udp'),
      options('UDP')
        .replace(/^OPTIONS /, 'MESSAGE ')
        .replace(/CSeq: (\d+) OPTIONS/, 'CSeq: $1 MESSAGE')
        .replace(/^Max-Forwards: \d+/m, 'Max-Forwards: 0'),
    );
    assert.equal(statusOf(res), 483, res);
  });
});
