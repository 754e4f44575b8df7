// sipsd with `workers: 2`, started as an operator does (`sipsd start`): connections are handed to
// both workers at accept; a call between phones connected to different workers crosses over (the
// INVITE written by the callee's worker, the 200 taken back to the caller's); UDP requests stay with
// the worker their Call-ID belongs to, responses reach the worker of their transaction; tls_reload
// is all-or-nothing over the workers; /metrics adds the workers up; a killed worker is replaced.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { callMgmt } from '../../src/mgmt/index.js';
import { createTestPki, type TestPkiFiles } from '../../src/pki/index.js';
import { freePort } from '../helpers/ports.js';
import { StreamPeer, options, statusOf, tlsClientOptions, udpRequest } from '../helpers/peers.js';
import { Phone } from '../helpers/phone.js';

const MAIN = join(import.meta.dirname, '../../src/cli/main.ts');

// Registers anyone (no auth), answers OPTIONS to itself, looks up and relays the rest statefully;
// an INVITE to the UDP callee's user goes to the port in its user part.
const SCRIPT = `export default {
  async request(ctx) {
    const m = ctx.msg.method;
    if (m === 'REGISTER') return void (await ctx.save());
    if (m === 'OPTIONS' && ctx.pv('$rU') === undefined) return ctx.reply(200, 'OK');
    if (ctx.msg.to().tag !== undefined) { if (ctx.looseRoute()) return ctx.relay(); return; }
    const user = ctx.pv('$rU') ?? '';
    if (/^udp\\d+$/.test(user)) return ctx.relay('udp:127.0.0.1:' + user.slice(3));
    if (!ctx.lookup()) return ctx.reply(404, 'Not Found');
    await ctx.relay();
  },
};\n`;

interface Conn {
  worker: number;
  remote: string;
}

describe('two workers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sipsd-workers-'));
  let pki: TestPkiFiles;
  let child: ChildProcess;
  let output = '';
  const ports = { udp: 0, tls: 0, mi: 0 };
  const peers: StreamPeer[] = [];
  let mi: (method: string, params?: unknown) => Promise<unknown>;

  before(async () => {
    pki = await createTestPki(join(dir, 'pki'));
    ports.udp = await freePort();
    ports.tls = await freePort();
    ports.mi = await freePort();
    writeFileSync(join(dir, 'script.mjs'), SCRIPT);
    writeFileSync(
      join(dir, 'sipsd.yaml'),
      `workers: 2
listen: [udp:127.0.0.1:${ports.udp}, tls:127.0.0.1:${ports.tls}]
script: ${join(dir, 'script.mjs')}
log_level: warn
T1_timer: 100
mi: { listen: 127.0.0.1:${ports.mi} }
tls_domains:
  - { name: default, type: server, certificate: ${pki.serverCertFile}, private_key: ${pki.serverKeyFile}, ca_list: ${pki.caFile}, verify_cert: false }
`,
    );
    child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'start', '-c', join(dir, 'sipsd.yaml')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const deadline = Date.now() + 30_000;
    while (!output.includes('stop with Ctrl-C')) {
      if (Date.now() > deadline || child.exitCode !== null) assert.fail(`sipsd did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    mi = (method, params) =>
      callMgmt(`http://127.0.0.1:${ports.mi}/`, method, (params ?? {}) as Record<string, unknown>);
  });

  after(async () => {
    for (const p of peers) p.close();
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const connect = async (): Promise<StreamPeer> => {
    const peer = await StreamPeer.tls(ports.tls, tlsClientOptions(pki));
    peers.push(peer);
    return peer;
  };
  const conns = async () => (await mi('list_tcp_conns')) as Conn[];
  const workerOf = async (peer: StreamPeer): Promise<number> => {
    const remote = `127.0.0.1:${peer.socket.localPort}`;
    for (let i = 0; i < 50; i++) {
      const found = (await conns()).find((c) => c.remote === remote);
      if (found) return found.worker;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.fail(`connection from ${remote} not listed`);
  };

  /** Four new connections: both workers get some, and each connection's OPTIONS is answered. */
  const bothWorkersAnswer = async () => {
    const fresh = await Promise.all([1, 2, 3, 4].map(() => connect()));
    for (const peer of fresh) {
      peer.write(options('TLS'));
      await peer.until((r) => statusOf(r) === 200);
    }
    assert.deepEqual(new Set(await Promise.all(fresh.map(workerOf))), new Set([1, 2]));
  };

  test('the banner names the workers; ps lists the primary and both', async () => {
    assert.match(output, /workers: {4}2 /);
    const ps = (await mi('ps')) as Array<{ id: number; pid: number }>;
    assert.deepEqual(
      ps.map((p) => p.id),
      [0, 1, 2],
    );
    assert.ok(ps.every((p) => p.pid > 0));
  });

  test('connections are handed to both workers, and each answers on its own', async () => {
    await bothWorkersAnswer();
  });

  test('a call between phones on different workers: INVITE written by the callee’s worker, 200 back', async () => {
    const alice = await connect();
    const aliceWorker = await workerOf(alice);
    let bob = await connect();
    for (let i = 0; i < 6 && (await workerOf(bob)) === aliceWorker; i++) bob = await connect();
    assert.notEqual(await workerOf(bob), aliceWorker, 'the accepts did not alternate between workers');

    const alicePort = alice.socket.localPort!;
    alice.write(
      `REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:${alicePort};branch=z9hG4bK-reg1\r\n` +
        `Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=a1\r\nTo: <sip:alice@127.0.0.1>\r\n` +
        `Call-ID: reg-alice\r\nCSeq: 1 REGISTER\r\nContact: <sip:alice@127.0.0.1:${alicePort};transport=tls>\r\n` +
        `Expires: 300\r\nContent-Length: 0\r\n\r\n`,
    );
    await alice.until((r) => /SIP\/2\.0 200/.test(r));

    const bobPort = bob.socket.localPort!;
    bob.write(
      `INVITE sip:alice@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:${bobPort};branch=z9hG4bK-inv1\r\n` +
        `Max-Forwards: 70\r\nFrom: <sip:bob@127.0.0.1>;tag=b1\r\nTo: <sip:alice@127.0.0.1>\r\n` +
        `Call-ID: call-bob-alice\r\nCSeq: 1 INVITE\r\nContact: <sip:bob@127.0.0.1:${bobPort};transport=tls>\r\n` +
        `Content-Length: 0\r\n\r\n`,
    );
    const atAlice = await alice.until((r) => r.includes('INVITE sip:alice@'), 3000);
    const invite = atAlice.slice(atAlice.indexOf('INVITE sip:alice@'));
    const vias = invite.split('\r\n').filter((l) => /^Via:/i.test(l));
    const bobWorker = await workerOf(bob);
    assert.match(
      vias[0]!,
      new RegExp(`branch=z9hG4bK-sipsd-w${bobWorker}\\.`),
      'branch of the caller’s worker',
    );
    // Alice answers on her own connection; the 200 must reach the transaction on bob's worker.
    const head = invite.slice(0, invite.indexOf('\r\n\r\n'));
    const keep = head
      .split('\r\n')
      .filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l))
      .map((l) => (/^To:/i.test(l) ? `${l};tag=alice1` : l));
    alice.write(`SIP/2.0 200 OK\r\n${keep.join('\r\n')}\r\nContent-Length: 0\r\n\r\n`);
    const atBob = await bob.until((r) => /SIP\/2\.0 200 OK/.test(r), 3000);
    assert.match(atBob, /SIP\/2\.0 100 Trying/);
    assert.match(atBob.slice(atBob.indexOf('SIP/2.0 200 OK')), /To: <sip:alice@127\.0\.0\.1>;tag=alice1/);
  });

  test('UDP: a retransmitted INVITE stays with its transaction; the response ends it on its worker', async () => {
    const caller = await Phone.open();
    const callee = await Phone.open();
    try {
      for (let call = 0; call < 6; call++) {
        const invite =
          `INVITE sip:udp${callee.port}@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=z9hG4bK-u${call};rport\r\n` +
          `Max-Forwards: 70\r\nFrom: <sip:c@127.0.0.1>;tag=c${call}\r\nTo: <sip:udp@127.0.0.1>\r\n` +
          `Call-ID: udp-call-${call}\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n`;
        // Three copies, as a UAC retransmits: whichever worker reads one, only one INVITE goes on.
        for (let i = 0; i < 3; i++) caller.send(invite, ports.udp);
        const relayed = await callee.next((m) => m.includes(`Call-ID: udp-call-${call}`), `INVITE ${call}`);
        const head = relayed.slice(0, relayed.indexOf('\r\n\r\n'));
        const keep = head
          .split('\r\n')
          .filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l))
          .map((l) => (/^To:/i.test(l) ? `${l};tag=e${call}` : l));
        callee.send(`SIP/2.0 486 Busy Here\r\n${keep.join('\r\n')}\r\nContent-Length: 0\r\n\r\n`, ports.udp);
        await caller.next(
          (m) => m.startsWith('SIP/2.0 486') && m.includes(`udp-call-${call}`),
          `486 ${call}`,
        );
        caller.send(invite.replace(/^INVITE/, 'ACK').replace('CSeq: 1 INVITE', 'CSeq: 1 ACK'), ports.udp);
      }
      // T1 is 100 ms: an INVITE transaction that missed its 486 would have retransmitted by now.
      await new Promise((r) => setTimeout(r, 700));
      for (let call = 0; call < 6; call++) {
        const invites = callee.received.filter(
          (m) => m.startsWith('INVITE') && m.includes(`udp-call-${call}\r`),
        );
        assert.equal(invites.length, 1, `call ${call}: the callee got ${invites.length} INVITEs`);
      }
      // Each 486 reached the client transaction that sent the INVITE, which acknowledged it.
      for (let call = 0; call < 6; call++) {
        assert.ok(
          callee.received.some((m) => m.startsWith('ACK') && m.includes(`udp-call-${call}\r`)),
          `call ${call}: no ACK for the 486`,
        );
      }
    } finally {
      caller.close();
      callee.close();
    }
  });

  test('UDP OPTIONS with many Call-IDs are all answered', async () => {
    for (let i = 0; i < 10; i++) assert.equal(statusOf(await udpRequest(ports.udp, options('UDP'))), 200);
  });

  test('/metrics adds up the handshakes of both workers', async () => {
    const res = await fetch(`http://127.0.0.1:${ports.mi}/metrics`);
    const text = await res.text();
    const m = /sipsd_tls_handshakes_total\{direction="in",domain="default",result="success"\} (\d+)/.exec(
      text,
    );
    assert.ok(m, text);
    assert.equal(Number(m[1]), peers.length);
    assert.match(text, /sipsd_tls_reloads_total\{result="success"\} 1\n/);
  });

  test('tls_reload: in force on every worker, or on none when one file is broken', async () => {
    const ok = (await mi('tls_reload')) as { ok: boolean; domains: number };
    assert.equal(ok.ok, true);
    const certText = readFileSync(pki.serverCertFile);
    writeFileSync(pki.serverCertFile, 'not a certificate\n');
    try {
      await assert.rejects(mi('tls_reload'), /running domains kept on every worker/);
    } finally {
      writeFileSync(pki.serverCertFile, certText);
    }
    await bothWorkersAnswer();
  });

  test('a worker that dies is started again, and takes connections again', async () => {
    const before = (await mi('ps')) as Array<{ id: number; pid: number }>;
    const victim = before.find((p) => p.id === 2)!;
    process.kill(victim.pid, 'SIGKILL');
    let now = before;
    for (let i = 0; i < 100; i++) {
      await new Promise((r) => setTimeout(r, 100));
      now = (await mi('ps')) as typeof before;
      const entry = now.find((p) => p.id === 2)!;
      if (entry.pid !== victim.pid && entry.pid > 0 && !/restarting/.test(JSON.stringify(entry))) break;
    }
    assert.notEqual(now.find((p) => p.id === 2)!.pid, victim.pid);
    await bothWorkersAnswer();
  });

  test('a worker whose restart fails (a broken certificate meanwhile) is tried again until it starts', async () => {
    const ps = async () => (await mi('ps')) as Array<{ id: number; pid: number; type: string }>;
    const victim = (await ps()).find((p) => p.id === 1)!;
    const certText = readFileSync(pki.serverCertFile);
    writeFileSync(pki.serverCertFile, 'not a certificate\n');
    try {
      process.kill(victim.pid, 'SIGKILL');
      // The first restart (after 0.5 s) fails on the certificate: the slot stays restarting.
      await new Promise((r) => setTimeout(r, 1500));
      assert.match((await ps()).find((p) => p.id === 1)!.type, /restarting/);
    } finally {
      writeFileSync(pki.serverCertFile, certText);
    }
    for (let i = 0; i < 100 && /restarting/.test((await ps()).find((p) => p.id === 1)!.type); i++)
      await new Promise((r) => setTimeout(r, 100));
    const back = (await ps()).find((p) => p.id === 1)!;
    assert.match(back.type, /worker 1: SIP and TLS/);
    assert.notEqual(back.pid, victim.pid);
    await bothWorkersAnswer();
  });

  test('SIGTERM stops the primary and every worker', async () => {
    const pids = ((await mi('ps')) as Array<{ pid: number }>).map((p) => p.pid);
    child.kill('SIGTERM');
    const code = await new Promise((r) => child.once('exit', (c) => r(c)));
    assert.equal(code, 0, output);
    const alive = pids.filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    assert.deepEqual(alive, []);
  });
});

/**
 * Runs `sipsd start` on a two-worker configuration whose TLS domains are `domains(dir)` (YAML list
 * items), until the primary exits: its exit code, its stderr, and whether stdout and stderr then
 * closed (the workers share them, so they close only once no worker is left).
 */
async function startFailing(domains: (dir: string) => string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'sipsd-workers-failing-'));
  try {
    const file = join(dir, 'sipsd.yaml');
    writeFileSync(
      file,
      [
        'workers: 2',
        `listen: [tls:127.0.0.1:${await freePort()}]`,
        'mi: { enabled: false }',
        'tls_domains:',
        ...domains(dir).map((d) => `  - ${d}`),
        '',
      ].join('\n'),
    );
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'start', '-c', file]);
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const closed = new Promise<boolean>((r) => child.once('close', () => r(true)));
    const code = await new Promise((r) => child.once('exit', (c) => r(c)));
    const timeout = new Promise<boolean>((r) => setTimeout(() => r(false), 10_000).unref());
    return { code, err, closed: await Promise.race([closed, timeout]) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a worker that cannot start stops the others; the error names the worker and the file', async () => {
  const { code, err } = await startFailing((dir) => [
    `{ name: default, type: server, certificate: ${join(dir, 'missing.pem')}, private_key: ${join(dir, 'missing.key')} }`,
  ]);
  assert.equal(code, 1);
  assert.match(err, /sipsd\.yaml: cannot start: worker \d: .*missing\.pem.*file not found/);
});

// Bounded: a primary that kept its workers would never exit.
test(
  'workers forked ahead of a configuration that fails its checks are stopped; start exits 2',
  { timeout: 30_000 },
  async () => {
    // `workers` is read from the parsed file, so the workers are forked; the second domain of the
    // same name then fails the checks that follow.
    const { code, err, closed } = await startFailing((dir) =>
      ['a', 'b'].map(
        (f) =>
          `{ name: twice, type: server, certificate: ${join(dir, `${f}.pem`)}, private_key: ${join(dir, `${f}.key`)} }`,
      ),
    );
    assert.equal(code, 2);
    assert.match(err, /a second server domain named "twice"/);
    assert.equal(closed, true, 'a worker forked ahead outlived the primary');
  },
);
