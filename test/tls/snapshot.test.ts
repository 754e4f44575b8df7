// Snapshots of many domains: checked at load, OpenSSL contexts shared by domains whose material and
// settings are the same, built at load for file-defined domains and on first use for database rows,
// a context OpenSSL refuses failing the load (files) or reported once and refused alone (rows), and
// a reload keeping what did not change.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type { TlsDomainError } from '../../src/tls/context.js';
import type { TlsDomainInput } from '../../src/tls/domain.js';
import type { SessionSettings } from '../../src/tls/session-cache.js';
import { TlsSnapshot, type SnapshotReport } from '../../src/tls/store.js';
import { domainOf, makePki, tempDir, write, writePki } from './helpers.js';

const pki = await makePki();
const dir = tempDir();
const files = writePki(pki, dir);
const local = { address: '127.0.0.1', port: 5061 };

const server = (name: string, extra: Partial<TlsDomainInput> = {}): TlsDomainInput => ({
  name,
  type: 'server',
  certificate: files.serverCert,
  private_key: files.serverKey,
  ca_list: files.root,
  match_sip_domain: [`${name}.example.com`],
  ...extra,
});

const snapshot = (
  inputs: TlsDomainInput[],
  report: Partial<SnapshotReport> = {},
  previous?: TlsSnapshot,
  session?: SessionSettings,
  source: 'config' | 'db' = 'config',
) =>
  TlsSnapshot.build(
    inputs.map((i, row) => {
      const d = domainOf(i);
      return source === 'db' ? { ...d, source: { kind: 'db' as const, row } } : d;
    }),
    dir,
    { warnings: [], ...report },
    previous,
    { session },
  );

async function acceptorOf(s: TlsSnapshot, name: string) {
  const choice = await s.serverFor(local, `${name}.example.com`);
  assert.ok(choice.ok, choice.ok ? '' : choice.reason);
  assert.equal(choice.domain, name);
  return choice.acceptor;
}

const slot = (s: TlsSnapshot, name: string) => s.domains.find((d) => d.domain.name === name)!;

test('domains with the same files and settings share one context, built at load', async () => {
  const s = await snapshot([server('a'), server('b'), server('c', { verify_client: 'off' })]);
  assert.ok(slot(s, 'a').built && slot(s, 'b').built, 'file-defined domains are built at load');
  const a = await acceptorOf(s, 'a');
  assert.equal(await acceptorOf(s, 'b'), a);
  assert.notEqual(await acceptorOf(s, 'c'), a, 'another client-certificate request: another context');
});

test('database rows are checked at load and built on first use', async () => {
  const s = await snapshot([server('a'), server('b')], {}, undefined, undefined, 'db');
  assert.equal(slot(s, 'a').built, undefined, 'nothing built at load');
  assert.equal(slot(s, 'a').leaf?.subject, 'CN=sip.example.com', 'the certificate is known at load');
  assert.equal(await acceptorOf(s, 'a'), await acceptorOf(s, 'b'));
  assert.ok(slot(s, 'a').built && slot(s, 'b').built);
});

test('with session resumption on, every server domain has its own context', async () => {
  const session = { cache: true, idContext: 'ctx', tickets: false, lifetimeSeconds: 60, maxEntries: 10 };
  const s = await snapshot([server('a'), server('b')], {}, undefined, session);
  assert.notEqual(await acceptorOf(s, 'a'), await acceptorOf(s, 'b'));
});

test('a problem in a shared file is reported for every domain using it, each by its own name', async () => {
  const missing = path.join(dir, 'missing.pem');
  await assert.rejects(
    snapshot([server('a', { ca_list: missing }), server('b', { ca_list: missing })]),
    (err) => {
      assert.ok(err instanceof AggregateError);
      assert.deepEqual(
        err.errors.map((e: Error) => e.message),
        ['a', 'b'].map((n) => `TLS domain "${n}" (server): ca_list (${missing}): file not found`),
      );
      return true;
    },
  );
});

// Valid on its own, but a P-256 key is below security level 5: only the full context finds out.
const weak = server('weak', { cipher_list: 'DEFAULT:@SECLEVEL=5' });
const weakReason = `TLS domain "weak" \\(server\\): certificate \\(${files.serverCert}\\): ee key too small`;

test('a notice shared by many domains is told once, naming a few and counting the rest', async () => {
  const warnings: string[] = [];
  // verify on without a CA: the same notice for every domain.
  const noCa = (name: string) => server(name, { ca_list: undefined, ca_dir: undefined, verify_client: 'on' });
  await snapshot([noCa('n1'), noCa('n2'), noCa('n3'), noCa('n4'), noCa('n5'), noCa('solo'), server('ok')], {
    warnings,
  });
  const about = warnings.filter((w) => w.includes('no client certificate can verify'));
  assert.equal(about.length, 1, warnings.join('\n'));
  assert.match(about[0]!, /^TLS domains "n1", "n2", "n3" and 3 more \(server\): verify on but no CA/);
});

test('a context OpenSSL refuses fails the load of file-defined domains, naming the domain', async () => {
  await assert.rejects(snapshot([weak, server('fine')]), (err) => {
    assert.ok(err instanceof AggregateError);
    assert.match(err.message, new RegExp(`^${weakReason}$`));
    return true;
  });
});

test('a database row OpenSSL refuses on first use is reported once; its handshakes are refused, others go on', async () => {
  const failed: TlsDomainError[] = [];
  const s = await snapshot(
    [weak, server('fine')],
    { contextFailed: (e) => failed.push(e) },
    undefined,
    undefined,
    'db',
  );
  for (let i = 0; i < 2; i++) {
    const choice = await s.serverFor(local, 'weak.example.com');
    assert.equal(choice.ok, false);
    assert.match(choice.ok ? '' : choice.reason, new RegExp(`^${weakReason}$`));
  }
  assert.equal(failed.length, 1);
  assert.ok(await acceptorOf(s, 'fine'));
});

test('a reload keeps built domains and contexts whose files did not change, and rebuilds the others', async () => {
  const renewed = write(dir, 'renewed.pem', pki.server.chainPem + pki.server.privateKeyPem);
  const inputs = [server('same'), server('renewed', { certificate: renewed, private_key: undefined })];
  const first = await snapshot(inputs);
  const same = await acceptorOf(first, 'same');
  const before = await acceptorOf(first, 'renewed');
  const builtSame = slot(first, 'same').built;
  const builtRenewed = slot(first, 'renewed').built;

  // Nothing changed: the files are read again and found the same.
  const second = await snapshot(inputs, {}, first);
  assert.equal(slot(second, 'same').built, builtSame);
  assert.equal(await acceptorOf(second, 'renewed'), before);

  write(dir, 'renewed.pem', pki.clients.valid.chainPem + pki.clients.valid.privateKeyPem);
  const third = await snapshot(inputs, {}, second);
  assert.equal(await acceptorOf(third, 'same'), same);
  assert.notEqual(slot(third, 'renewed').built, builtRenewed);
  assert.notEqual(await acceptorOf(third, 'renewed'), before);
});
