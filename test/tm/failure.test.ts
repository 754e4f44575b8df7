// How branches fail and what the script can do about it: transport failures (connection refused,
// TLS handshake failed, no TLS client domain) become 503 with a Warning, timeouts 408; the failure
// hook sees them and may relay elsewhere (serial forking) or answer itself; with several branches
// the best final response wins (§16.7 step 6); and the limits (tm_max_transactions, Max-Forwards).
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestPki } from '../../src/pki/index.js';
import type { RelayFailure } from '../../src/tm/index.js';
import {
  answer,
  isRequest,
  isStatus,
  sleep,
  startProxy,
  StreamUas,
  UacRequest,
  UdpPeer,
  type Proxy,
  type Received,
  type Route,
} from './peers.js';
import { freePort as closedPort } from '../helpers/ports.js';

describe('failures and the failure hook', () => {
  let proxy: Proxy;
  let uac: UdpPeer;
  let uas: UdpPeer;
  let route: Route = () => undefined;
  let refused: string;
  before(async () => {
    uas = await UdpPeer.open();
    uac = await UdpPeer.open();
    refused = `tcp:127.0.0.1:${await closedPort()}`;
    proxy = await startProxy((ctx, tm) => route(ctx, tm), { finalTimeout: 300 });
  });

  /** Sends a request from the UAC; returns it and a filter for its messages. */
  function send(method = 'INVITE') {
    const request = new UacRequest(method, uac.port);
    uac.send(request.text(), proxy.udp);
    return { request, mine: (r: Received) => r.msg.callId === request.callId };
  }
  const finalFor = (mine: (r: Received) => boolean) => (r: Received) =>
    mine(r) && !r.msg.isRequest && r.msg.status >= 200;

  test('connection refused: the branch ends with 503 and a Warning saying why', async () => {
    route = async (ctx, tm) => {
      const result = await tm.relay(ctx.msg, ctx.inbound, refused);
      assert.equal(result.sent, false);
    };
    for (const method of ['INVITE', 'OPTIONS']) {
      const { request, mine } = send(method);
      const final = await uac.next(finalFor(mine));
      assert.equal(final.response.status, 503, final.text);
      assert.match(final.msg.getHeader('Warning') ?? '', /^399 sipsd ".*(ECONNREFUSED|refused).*"$/);
      if (method === 'INVITE') uac.send(request.ack(final.msg), proxy.udp);
    }
  });

  test('the failure hook sees the 503 and relays to a second destination (serial forking)', async () => {
    const seen: RelayFailure[] = [];
    route = async (ctx, tm) => {
      await tm.relay(ctx.msg, ctx.inbound, refused, {
        onFailure: async (failure) => {
          seen.push(failure);
          await failure.relay(`udp:127.0.0.1:${uas.port}`);
        },
      });
    };
    const { request, mine } = send();
    const atUas = await uas.next((r) => mine(r) && isRequest('INVITE')(r));
    answer(atUas, 200);
    const final = await uac.next(finalFor(mine));
    assert.equal(final.response.status, 200);
    assert.equal(seen.length, 1);
    const failure = seen[0]!;
    assert.equal(failure.status, 503);
    assert.equal(failure.local, true);
    assert.match(failure.warning ?? '', /ECONNREFUSED|refused/);
    assert.equal(failure.destination, refused);
    assert.equal(failure.branches, 1);
    uac.send(request.ack(final.msg, true), proxy.udp);
  });

  test('a TLS handshake that fails, and a TLS client domain that does not exist, give 503 too', async () => {
    // A server whose certificate comes from a CA the proxy does not trust.
    const dir = mkdtempSync(join(tmpdir(), 'sipsd-tm-pki-'));
    try {
      const other = await createTestPki(dir);
      const untrusted = await StreamUas.listen({
        cert: readFileSync(other.serverCertFile),
        key: readFileSync(other.serverKeyFile),
      });
      const warnings: string[] = [];
      const hook = (failure: RelayFailure) => {
        warnings.push(failure.warning ?? '');
      };
      for (const options of [
        { dest: `tls:127.0.0.1:${untrusted.port}`, tls: {} },
        { dest: `tls:127.0.0.1:${proxy.tls}`, tls: { domain: 'no-such-domain' } },
      ]) {
        route = async (ctx, tm) => {
          await tm.relay(ctx.msg, ctx.inbound, options.dest, { tls: options.tls, onFailure: hook });
        };
        const { mine } = send('OPTIONS');
        const final = await uac.next(finalFor(mine));
        assert.equal(final.response.status, 503, final.text);
        assert.ok(final.msg.getHeader('Warning'), 'with a Warning');
      }
      assert.equal(warnings.length, 2);
      assert.match(warnings[0]!, /certificate|verif|handshake|self.signed|issuer/i);
      assert.match(warnings[1]!, /no-such-domain/);
      assert.equal(untrusted.all(() => true).length, 0, 'nothing was sent over the failed handshake');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a timeout (408) is seen by the hook too; the hook runs once unless relay() arms it again', async () => {
    const blackhole = await UdpPeer.open();
    const calls: Array<{ status: number; destination: string }> = [];
    route = async (ctx, tm) => {
      await tm.relay(ctx.msg, ctx.inbound, `udp:127.0.0.1:${blackhole.port}`, {
        onFailure: async (first) => {
          calls.push(first);
          // Armed again: it runs for the second failure too, then relays to the UAS.
          await first.relay(refused, {
            onFailure: async (second) => {
              calls.push(second);
              await second.relay(`udp:127.0.0.1:${uas.port}`);
            },
          });
        },
      });
    };
    const { mine } = send('MESSAGE');
    const atUas = await uas.next((r) => mine(r) && isRequest('MESSAGE')(r));
    answer(atUas, 202);
    const final = await uac.next(finalFor(mine));
    assert.equal(final.response.status, 202);
    assert.deepEqual(
      calls.map((c) => [c.status, c.destination]),
      [
        [408, `udp:127.0.0.1:${blackhole.port}`],
        [503, refused],
      ],
    );
    assert.ok(blackhole.all(isRequest('MESSAGE')).length >= 1);

    // Not armed again: the second failure goes upstream.
    calls.length = 0;
    route = async (ctx, tm) => {
      await tm.relay(ctx.msg, ctx.inbound, refused, {
        onFailure: async (failure) => {
          calls.push(failure);
          await failure.relay(refused);
        },
      });
    };
    const second = send('MESSAGE');
    const final2 = await uac.next(finalFor(second.mine));
    assert.equal(final2.response.status, 503);
    assert.equal(calls.length, 1);
  });

  test('the hook may answer itself instead', async () => {
    route = async (ctx, tm) => {
      await tm.relay(ctx.msg, ctx.inbound, refused, {
        onFailure: (failure) => failure.reply(480, 'Nobody Home', [['Retry-After', '60']]),
      });
    };
    const { request, mine } = send();
    const final = await uac.next(finalFor(mine));
    assert.equal(final.response.status, 480);
    assert.equal(final.response.reason, 'Nobody Home');
    assert.equal(final.msg.getHeader('Retry-After'), '60');
    uac.send(request.ack(final.msg), proxy.udp);
  });

  test('parallel branches: the lowest class wins; a 6xx wins over all and cancels the others', async () => {
    const second = await UdpPeer.open();
    route = async (ctx, tm) => {
      await tm.relay(ctx.msg, ctx.inbound, [`udp:127.0.0.1:${uas.port}`, `udp:127.0.0.1:${second.port}`]);
    };
    let call = send();
    let a = await uas.next((r) => call.mine(r) && isRequest('INVITE')(r));
    let b = await second.next((r) => call.mine(r) && isRequest('INVITE')(r));
    assert.notEqual(a.msg.topVia().branch, b.msg.topVia().branch, 'a branch id per branch');
    answer(b, 500);
    await sleep(50);
    assert.equal(uac.all(finalFor(call.mine)).length, 0, 'waits for every branch');
    answer(a, 404);
    let final = await uac.next(finalFor(call.mine));
    assert.equal(final.response.status, 404);
    uac.send(call.request.ack(final.msg), proxy.udp);

    call = send();
    a = await uas.next((r) => call.mine(r) && isRequest('INVITE')(r));
    b = await second.next((r) => call.mine(r) && isRequest('INVITE')(r));
    answer(a, 180);
    await uac.next((r) => call.mine(r) && isStatus(180)(r));
    answer(b, 603);
    const cancel = await uas.next((r) => call.mine(r) && isRequest('CANCEL')(r));
    answer(cancel, 200);
    answer(a, 487);
    final = await uac.next(finalFor(call.mine));
    assert.equal(final.response.status, 603);
    uac.send(call.request.ack(final.msg), proxy.udp);

    // A 2xx goes upstream at once and cancels the branches still ringing (§16.7 step 10).
    call = send();
    a = await uas.next((r) => call.mine(r) && isRequest('INVITE')(r));
    b = await second.next((r) => call.mine(r) && isRequest('INVITE')(r));
    answer(a, 180);
    await uac.next((r) => call.mine(r) && isStatus(180)(r));
    answer(b, 200, 'second-tag');
    final = await uac.next(finalFor(call.mine));
    assert.equal(final.response.status, 200);
    const cancelled = await uas.next((r) => call.mine(r) && isRequest('CANCEL')(r));
    answer(cancelled, 200);
    answer(a, 487);
    await uas.next((r) => call.mine(r) && isRequest('ACK')(r));
    await sleep(50);
    assert.equal(uac.all(finalFor(call.mine)).length, 1, 'the 487 of the cancelled branch stays here');
    uac.send(call.request.ack(final.msg, true), proxy.udp);
  });

  test('a 503 from downstream goes upstream as 500 (§16.7 step 6)', async () => {
    route = async (ctx, tm) => {
      await tm.relay(ctx.msg, ctx.inbound, `udp:127.0.0.1:${uas.port}`);
    };
    const { mine } = send('OPTIONS');
    answer(await uas.next((r) => mine(r) && isRequest('OPTIONS')(r)), 503);
    const final = await uac.next(finalFor(mine));
    assert.equal(final.response.status, 500);
  });

  test('Max-Forwards 0 is answered 483, not relayed', async () => {
    route = async (ctx, tm) => {
      await tm.relay(ctx.msg, ctx.inbound, `udp:127.0.0.1:${uas.port}`);
    };
    const request = new UacRequest('OPTIONS', uac.port);
    uac.send(request.text().replace('Max-Forwards: 70', 'Max-Forwards: 0'), proxy.udp);
    const final = await uac.next(finalFor((r) => r.msg.callId === request.callId));
    assert.equal(final.response.status, 483);
    assert.equal(uas.all((r) => r.msg.callId === request.callId).length, 0);
  });
});

describe('tm_max_transactions', () => {
  test('a request beyond the limit is answered 503 while the others go on', async () => {
    const uas = await UdpPeer.open();
    const uac = await UdpPeer.open();
    const proxy = await startProxy(
      async (ctx, tm) => {
        await tm.relay(ctx.msg, ctx.inbound, `udp:127.0.0.1:${uas.port}`);
      },
      { maxTransactions: 1 },
    );
    const first = new UacRequest('INVITE', uac.port);
    uac.send(first.text(), proxy.udp);
    const atUas = await uas.next(isRequest('INVITE'));
    const second = new UacRequest('OPTIONS', uac.port);
    uac.send(second.text(), proxy.udp);
    const refusal = await uac.next((r) => r.msg.callId === second.callId);
    assert.equal(refusal.response.status, 503);
    assert.match(refusal.msg.getHeader('Warning') ?? '', /tm_max_transactions/);
    answer(atUas, 486);
    const busy = await uac.next((r) => r.msg.callId === first.callId && isStatus(486)(r));
    uac.send(first.ack(busy.msg), proxy.udp);
    assert.equal(proxy.tm.counts().server, 1);
  });
});

describe('targets and Record-Route', () => {
  test('a branch tries the next target after a transport failure (RFC 3263 §4.3)', async () => {
    const uas = await UdpPeer.open();
    const uac = await UdpPeer.open();
    // Chosen once the proxy listens: a port freed before its listeners open could become one of
    // them, and the "dead" target would then answer.
    let dead = 0;
    const asked: string[] = [];
    const failures: RelayFailure[] = [];
    // What the DNS layer would give for one name: two servers, the first of them down.
    const proxy = await startProxy(
      async (ctx, tm) => {
        await tm.relay(ctx.msg, ctx.inbound, 'sip:service.example.test', {
          onFailure: (failure) => {
            failures.push(failure);
          },
        });
      },
      {},
      (_req, destination) => {
        asked.push(destination ?? '');
        const targets = [
          { proto: 'tcp' as const, address: '127.0.0.1', port: dead },
          { proto: 'udp' as const, address: '127.0.0.1', port: uas.port },
        ];
        return { next: () => Promise.resolve(targets.shift()) };
      },
    );
    dead = await closedPort();
    const request = new UacRequest('OPTIONS', uac.port);
    uac.send(request.text(), proxy.udp);
    answer(await uas.next(isRequest('OPTIONS')), 200);
    const final = await uac.next((r) => r.msg.callId === request.callId);
    assert.equal(final.response.status, 200);
    assert.deepEqual(asked, ['sip:service.example.test']);
    assert.equal(failures.length, 0, 'a failover is not a failure of the branch');

    // When every target fails, the branch ends with 503 and the last reason.
    const none = await startProxy(
      async (ctx, tm) => {
        await tm.relay(ctx.msg, ctx.inbound, 'sip:service.example.test');
      },
      {},
      () => {
        const targets = [{ proto: 'tcp' as const, address: '127.0.0.1', port: dead }];
        return { next: () => Promise.resolve(targets.shift()) };
      },
    );
    const second = new UacRequest('OPTIONS', uac.port);
    uac.send(second.text(), none.udp);
    const refused = await uac.next((r) => r.msg.callId === second.callId);
    assert.equal(refused.response.status, 503);
    assert.match(refused.response.getHeader('Warning') ?? '', /ECONNREFUSED|refused/);
  });

  test('record_route: each branch gets the Record-Route of the socket it leaves from, later branches too', async () => {
    const uas = await UdpPeer.open();
    const uac = await UdpPeer.open();
    const refused = `tcp:127.0.0.1:${await closedPort()}`;
    const proxy = await startProxy(async (ctx, tm) => {
      await tm.relay(ctx.msg, ctx.inbound, refused, {
        recordRoute: (out) => [`<sip:${out.address}:${out.port};transport=${out.proto};lr>`],
        onFailure: async (failure) => {
          await failure.relay(`udp:127.0.0.1:${uas.port}`);
        },
      });
    });
    const request = new UacRequest('INVITE', uac.port);
    uac.send(request.text(), proxy.udp);
    const atUas = await uas.next(isRequest('INVITE'));
    assert.deepEqual(atUas.msg.getHeaders('Record-Route'), [`<sip:127.0.0.1:${proxy.udp};transport=udp;lr>`]);
    assert.equal(
      proxy.routed.at(-1)!.getHeaders('Record-Route').length,
      0,
      "the script's message is unchanged",
    );
    answer(atUas, 486);
    const busy = await uac.next((r) => r.msg.callId === request.callId && isStatus(486)(r));
    uac.send(request.ack(busy.msg), proxy.udp);
  });
});
