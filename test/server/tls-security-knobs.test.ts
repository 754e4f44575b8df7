// Renegotiation, close_notify and session resumption seen from a real `openssl s_client`.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { options, serverPool, type TestServer } from '../helpers/peers.js';
import { sClient } from '../helpers/openssl.js';

const server = serverPool();

const verified = /Verify return code: 0 \(ok\)/;
const connected = (t: TestServer) => ['-CAfile', t.pki.caFile, '-servername', 'localhost'];

describe('client-initiated renegotiation (TLS 1.2)', () => {
  test('refused by default: the connection is closed', async () => {
    const t = await server('');
    const run = await sClient(
      t.port('tls'),
      [...connected(t), '-tls1_2'],
      [
        { waitFor: verified, write: 'R\n' },
        { waitFor: /RENEGOTIATING/, write: options('TLS') },
      ],
    );
    assert.match(run.output, /RENEGOTIATING/);
    assert.doesNotMatch(run.output, /SIP\/2\.0 200 OK/, 'no message goes through after the attempt');
    assert.notEqual(run.code, null, 's_client ended because the server closed, not by the deadline');
  });

  test('allowed with renegotiation: on; the connection carries SIP afterwards', async () => {
    const t = await server('renegotiation: on');
    const run = await sClient(
      t.port('tls'),
      [...connected(t), '-tls1_2'],
      [
        { waitFor: verified, write: 'R\n' },
        { waitFor: /RENEGOTIATING[\s\S]*verify return:1/, write: options('TLS') },
        { waitFor: /SIP\/2\.0 200 OK/, write: 'Q\n' },
      ],
    );
    assert.match(run.output, /SIP\/2\.0 200 OK/);
  });
});

describe('send_close_notify', () => {
  const closeNotifyFromServer = /<<< TLS 1\.3, Alert \[length 0002\], warning close_notify/;
  const idleClose = async (yaml: string) => {
    const t = await server(`connection_timeout: 1\n${yaml}`);
    return sClient(t.port('tls'), [...connected(t), '-msg'], [], 4000);
  };

  test('off (the default): the idle connection ends without close_notify', async () => {
    const run = await idleClose('');
    assert.notEqual(run.code, null, 'the server closed the idle connection');
    assert.doesNotMatch(run.output, closeNotifyFromServer);
  });

  test('on: close_notify is on the wire before the connection ends', async () => {
    const run = await idleClose('send_close_notify: on');
    assert.match(run.output, closeNotifyFromServer);
  });
});

describe('session resumption', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sipsd-sessions-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;

  /** Connects twice, the second time offering the first session; answers whether it resumed. */
  async function resumes(t: TestServer, version: '-tls1_2' | '-tls1_3'): Promise<boolean> {
    const file = join(dir, `session-${++n}.pem`);
    const args = [...connected(t), version];
    const sessionSaved = /Verify return code: 0 \(ok\)[\s\S]*---\n/;
    // TLS 1.3 tickets arrive after the handshake: wait for the post-handshake block, then quit.
    const first = await sClient(
      t.port('tls'),
      [...args, '-sess_out', file],
      [
        {
          waitFor: version === '-tls1_3' ? /Post-Handshake New Session Ticket|read R BLOCK/ : sessionSaved,
          write: 'Q\n',
        },
      ],
      3000,
    );
    assert.match(first.output, /^New, /m, first.output);
    const again = await sClient(
      t.port('tls'),
      [...args, '-sess_in', file],
      [{ waitFor: /^(Reused|New), /m, write: 'Q\n' }],
    );
    return /^Reused, /m.test(again.output);
  }

  test('off by default: no session resumes, TLS 1.2 or 1.3', async () => {
    const t = await server('');
    assert.equal(await resumes(t, '-tls1_2'), false);
    assert.equal(await resumes(t, '-tls1_3'), false);
  });

  test('session_cache resumes TLS 1.2 sessions by id', async () => {
    const t = await server('session_cache: on\nsession_id: my-context');
    assert.equal(await resumes(t, '-tls1_2'), true);
  });

  test('session_tickets resumes TLS 1.3 sessions', async () => {
    const t = await server('session_tickets: on');
    assert.equal(await resumes(t, '-tls1_3'), true);
  });
});
