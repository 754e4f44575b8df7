// HEP packets from a real sipsd checked by real decoders. The tshark of Debian 12 (Wireshark 4.0)
// has no HEP dissector, so the chain is: the collector's datagrams → a pcap → sngrep, whose HEP/EEP
// parser unwraps each packet into the frame it describes (addresses, ports, time, payload) → tshark,
// which dissects those frames as SIP, and the connection events as JSON. Then tshark decrypts a
// capture of a traced TLS session with the key log the trace carried.
// Needs the Debian packages `tshark` and `sngrep`; each test skips, saying so, without its tools.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  options,
  startTestServer,
  statusOf,
  StreamPeer,
  tlsClientOptions,
  type TestServer,
} from '../helpers/peers.js';
import { UdpCollector } from './collector.js';
import { writePcap } from './pcap.js';

const has = (tool: string, versionFlag: string) =>
  spawnSync(tool, [versionFlag], { stdio: 'ignore', timeout: 10_000 }).status === 0;
const noTshark = !has('tshark', '--version') && 'tshark is not installed (apt-get install tshark)';
const noSngrep = !has('sngrep', '-V') && 'sngrep is not installed (apt-get install sngrep)';

/** tshark's fields output, one object per frame. */
function tshark(file: string, fields: string[], extra: string[] = []): Array<Record<string, string>> {
  const out = execFileSync(
    'tshark',
    [
      '-r',
      file,
      ...extra,
      '-T',
      'fields',
      '-E',
      'separator=\t',
      '-E',
      'aggregator=\u0001',
      ...fields.flatMap((f) => ['-e', f]),
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
  );
  return out
    .split('\n')
    .filter((l) => l !== '')
    .map((line) => Object.fromEntries(line.split('\t').map((v, i) => [fields[i]!, v])));
}

describe('HEP checked by sngrep and tshark', { skip: noTshark }, () => {
  let collector: UdpCollector;
  let server: TestServer | undefined;

  before(async () => {
    collector = await UdpCollector.start();
    server = await startTestServer(`trace_destination: udp:127.0.0.1:${collector.port}\ntrace_on: true`);
  });
  after(async () => {
    await server?.stop();
    await collector.close();
  });

  test(
    'decoded by sngrep, dissected by tshark: SIP with the connection addresses, ports and time; events as JSON',
    { skip: noSngrep },
    async () => {
      assert.ok(server);
      const tlsPort = server.port('tls');
      const peer = await StreamPeer.tls(tlsPort, tlsClientOptions(server.pki, true));
      const clientPort = peer.socket.localPort!;
      const request = options('TLS');
      const callId = /Call-ID: (\S+)/.exec(request)![1]!;
      peer.write(request);
      await peer.until((r) => statusOf(r) === 200);
      peer.close();
      await collector.until((all) => all.some((r) => r.json?.Event === 'CLOSED'));

      const hepFile = join(server.dir, 'hep.pcap');
      const sipFile = join(server.dir, 'decoded.pcap');
      writePcap(
        hepFile,
        collector.received.map((r) => r.raw),
      );
      // The HEP datagrams themselves are well-formed UDP to the collector.
      const frames = tshark(hepFile, ['udp.dstport', 'udp.length']);
      assert.equal(frames.length, collector.received.length);
      assert.ok(frames.every((f) => f['udp.dstport'] === String(collector.port)));

      execFileSync('sngrep', ['-N', '-q', '-F', '-E', '-I', hepFile, '-O', sipFile], {
        stdio: 'ignore',
        timeout: 20_000,
      });

      const sip = tshark(sipFile, [
        'frame.time_epoch',
        'ip.src',
        'udp.srcport',
        'ip.dst',
        'udp.dstport',
        'sip.Method',
        'sip.Status-Code',
        'sip.Call-ID',
      ]).filter((f) => f['sip.Call-ID'] === callId);
      const optionsFrame = sip.find((f) => f['sip.Method'] === 'OPTIONS');
      const okFrame = sip.find((f) => f['sip.Status-Code'] === '200');
      assert.ok(optionsFrame && okFrame, `OPTIONS and 200 decoded: ${JSON.stringify(sip)}`);
      assert.deepEqual(
        [
          optionsFrame['ip.src'],
          optionsFrame['udp.srcport'],
          optionsFrame['ip.dst'],
          optionsFrame['udp.dstport'],
        ],
        ['127.0.0.1', String(clientPort), '127.0.0.1', String(tlsPort)],
      );
      assert.deepEqual(
        [okFrame['ip.src'], okFrame['udp.srcport'], okFrame['ip.dst'], okFrame['udp.dstport']],
        ['127.0.0.1', String(tlsPort), '127.0.0.1', String(clientPort)],
      );
      // The frame time is the HEP timestamp (seconds and microseconds chunks), to the microsecond.
      const hepOptions = collector.received.find((r) => r.text.startsWith('OPTIONS'))!;
      const hepTime = `${hepOptions.hep.timeSec}.${String(hepOptions.hep.timeUsec).padStart(6, '0')}`;
      assert.equal(optionsFrame['frame.time_epoch']!.replace(/0+$/, ''), hepTime.replace(/0+$/, ''));

      // Connection events: JSON payloads, client → server like the connection.
      const events = tshark(
        sipFile,
        ['udp.srcport', 'json.key', 'json.value.string'],
        ['-d', `udp.port==${tlsPort},json`, '-Y', 'json.key'],
      ).map((f): Record<string, string | undefined> => {
        const keys = f['json.key']!.split('\u0001');
        const values = f['json.value.string']!.split('\u0001');
        return { ...Object.fromEntries(keys.map((k, i) => [k, values[i]])), srcPort: f['udp.srcport'] };
      });
      const accepted = events.find((e) => e.Event === 'ACCEPTED');
      const closed = events.find((e) => e.Event === 'CLOSED');
      assert.ok(accepted && closed, `events decoded: ${JSON.stringify(events)}`);
      assert.equal(accepted.srcPort, String(clientPort));
      assert.equal(accepted.Status, 'SUCCESS');
      assert.equal(accepted.Protocol, 'TLS');
      assert.match(String(accepted['client-subject']), /CN=sipsd-test-client/);
      assert.match(String(accepted['server-subject']), /CN=/);
      assert.match(String(accepted['tls-version']), /^TLSv1\.[23]$/);
      assert.ok(accepted.cipher);
      assert.match(
        String(accepted['key-log']),
        /(CLIENT_RANDOM|CLIENT_TRAFFIC_SECRET_0) [0-9a-f]+ [0-9a-f]+/,
      );
    },
  );

  test('the traced key log decrypts a capture of the same TLS session (tshark on lo)', async (t) => {
    assert.ok(server);
    const tlsPort = server.port('tls');
    const capFile = join(server.dir, 'tls.pcapng');
    const capture = spawn(
      'tshark',
      ['-i', 'lo', '-f', `tcp port ${tlsPort}`, '-a', 'duration:60', '-w', capFile],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    const started = await new Promise<boolean>((resolve) => {
      capture.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (/Capturing on/.test(stderr)) resolve(true);
      });
      capture.on('exit', () => resolve(false));
    });
    const exited = new Promise((resolve) => capture.on('exit', resolve));
    if (!started) {
      t.skip(`tshark cannot capture on lo here: ${stderr.trim().split('\n').at(-1)}`);
      return;
    }
    try {
      // "Capturing on" comes a little before the capture really is.
      await new Promise((r) => setTimeout(r, 1000));
      const peer = await StreamPeer.tls(tlsPort, tlsClientOptions(server.pki));
      const clientPort = peer.socket.localPort!;
      const request = options('TLS');
      peer.write(request);
      await peer.until((r) => statusOf(r) === 200);
      peer.close();
      await collector.until((all) =>
        all.some((r) => r.json?.Event === 'CLOSED' && r.hep.srcPort === clientPort),
      );
      await new Promise((r) => setTimeout(r, 300)); // the capture's last packets
      const accepted = collector.received.find(
        (r) => r.json?.Event === 'ACCEPTED' && r.hep.srcPort === clientPort,
      )!;
      const keys = join(server.dir, 'keys.txt');
      writeFileSync(keys, accepted.json!['key-log'] + '\n');
      capture.kill('SIGINT');
      await exited;
      const decrypted = tshark(
        capFile,
        ['sip.Method', 'sip.Status-Code', 'sip.Call-ID'],
        [
          '-o',
          `tls.keylog_file:${keys}`,
          '-d',
          `tcp.port==${tlsPort},tls`,
          '-d',
          `tls.port==${tlsPort},sip`,
          '-Y',
          'sip',
        ],
      );
      const callId = /Call-ID: (\S+)/.exec(request)![1];
      assert.ok(
        decrypted.some((f) => f['sip.Method'] === 'OPTIONS' && f['sip.Call-ID'] === callId),
        `the OPTIONS inside TLS decrypted: ${JSON.stringify(decrypted)}`,
      );
      assert.ok(decrypted.some((f) => f['sip.Status-Code'] === '200' && f['sip.Call-ID'] === callId));
    } finally {
      capture.kill('SIGINT');
      await exited;
    }
  });
});
