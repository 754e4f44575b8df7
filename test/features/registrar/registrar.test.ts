// The registrar in memory, on real REGISTER text (RFC 3261 §10.3): register, refresh, unregister
// one or all, 423, expiry, CSeq ordering, q order, Path, received, instance and reg-id.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { defaultRegistrarConfig, type RegistrarConfig } from '../../../src/features/registrar/config.js';
import { Location } from '../../../src/features/registrar/location.js';
import { Registrar, type SaveOptions, type SaveResult } from '../../../src/features/registrar/registrar.js';
import { applyBinding } from '../../../src/features/registrar/binding.js';
import { register, sipRequest, TestClock, wire, type RegisterSpec } from '../helpers.js';

const AOR = 'sip:alice@atlanta.example.com';

function setup(overrides: Partial<RegistrarConfig> = {}) {
  const clock = new TestClock();
  const config = { ...defaultRegistrarConfig(), ...overrides };
  let ids = 0;
  const location = new Location({ useDomain: config.use_domain, now: clock.now });
  const registrar = new Registrar(config, location, { now: clock.now, newId: () => `b${++ids}` });
  let cseq = 100;
  /** Saves a REGISTER (CSeq counting up unless given) and returns the result and the 200 as parsed. */
  const save = async (spec: RegisterSpec = {}, options: SaveOptions = {}) => {
    const req = register({ cseq: ++cseq, ...spec });
    const result = await registrar.save(req, options);
    return { result, res: wire(req, result) };
  };
  return { clock, registrar, location, save };
}

function expiresOf(result: SaveResult): Record<string, number> {
  assert.ok(result.ok, result.ok ? '' : result.detail);
  return Object.fromEntries(result.bindings.map((b) => [b.contact, b.expires]));
}

describe('registering', () => {
  test('a first REGISTER creates the binding; the 200 lists it with expires and a Date', async () => {
    const { save, registrar, clock } = setup();
    const { result, res } = await save({
      contacts: ['<sip:alice@192.0.2.10:5060>'],
      extra: ['User-Agent: ExamplePhone/1.0'],
    });
    assert.ok(result.ok);
    assert.equal(res.status, 200);
    assert.deepEqual(res.getHeaders('Contact'), ['<sip:alice@192.0.2.10:5060>;expires=3600']);
    assert.equal(res.getHeader('Date'), new Date(clock.ms).toUTCString());
    assert.match(res.getHeader('Date')!, /^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/);
    const [binding, ...rest] = registrar.lookup(AOR);
    assert.equal(rest.length, 0);
    assert.deepEqual(binding, {
      id: 'b1',
      username: 'alice',
      domain: 'atlanta.example.com',
      contact: 'sip:alice@192.0.2.10:5060',
      params: '',
      q: undefined,
      expires: clock.ms / 1000 + 3600,
      callId: '843817637684230@998sdasdh09',
      cseq: 101,
      path: [],
      received: undefined,
      socket: undefined,
      userAgent: 'ExamplePhone/1.0',
      instance: undefined,
      regId: undefined,
      lastModified: clock.ms / 1000,
    });
    // The AoR is found from a Request-URI, user@domain, or the user alone (use_domain off).
    assert.equal(registrar.lookup('sip:alice@atlanta.example.com;transport=udp').length, 1);
    assert.equal(registrar.lookup('alice').length, 1);
    assert.equal(registrar.lookup('sip:bob@atlanta.example.com').length, 0);
  });

  test('expiry: the contact parameter, else the Expires header, else default_expires; max_expires caps', async () => {
    const { save } = setup({ default_expires: 1800, max_expires: 7200 });
    const { result } = await save({
      contacts: ['<sip:a@192.0.2.1>;expires=600', '<sip:b@192.0.2.2>', '<sip:c@192.0.2.3>;expires=99999'],
      expires: 900,
    });
    const now = result.ok ? result.bindings[0]!.lastModified : 0;
    assert.deepEqual(expiresOf(result), {
      'sip:a@192.0.2.1': now + 600,
      'sip:b@192.0.2.2': now + 900,
      'sip:c@192.0.2.3': now + 7200,
    });
    const { result: byDefault } = await save({ contacts: ['<sip:d@192.0.2.4>'] });
    assert.equal(expiresOf(byDefault)['sip:d@192.0.2.4'], now + 1800);
    // A malformed Expires header counts as the default; a malformed parameter falls back to it too.
    const { result: malformed } = await save({ contacts: ['<sip:e@192.0.2.5>;expires=soon'], expires: 'x' });
    assert.equal(expiresOf(malformed)['sip:e@192.0.2.5'], now + 1800);
  });

  test('423 Interval Too Brief with Min-Expires below min_expires; above an hour it is raised instead', async () => {
    const { save, registrar } = setup({ min_expires: 60 });
    const { result, res } = await save({ contacts: ['<sip:alice@192.0.2.10>;expires=30'] });
    assert.equal(result.ok, false);
    assert.equal(res.status, 423);
    assert.equal(res.reason, 'Interval Too Brief');
    assert.equal(res.getHeader('Min-Expires'), '60');
    assert.equal(registrar.lookup(AOR).length, 0, 'nothing is saved');
    // 0 is not "brief": it removes.
    assert.ok((await save({ contacts: ['<sip:alice@192.0.2.10>'], expires: 0 })).result.ok);
    const { save: save2 } = setup({ min_expires: 7200 });
    const { result: raised } = await save2({ contacts: ['<sip:alice@192.0.2.10>'], expires: 5000 });
    const b = raised.ok ? raised.bindings[0]! : undefined;
    assert.equal(b && b.expires - b.lastModified, 7200);
    assert.equal((await save2({ contacts: ['<sip:alice@192.0.2.10>'], expires: 3599 })).res.status, 423);
  });

  test('a REGISTER without Contact is a query: the bindings, unchanged', async () => {
    const { save, clock } = setup();
    await save({ contacts: ['<sip:alice@192.0.2.10>'] });
    clock.advance(100);
    const { result, res } = await save({});
    assert.ok(result.ok);
    assert.deepEqual(res.getHeaders('Contact'), ['<sip:alice@192.0.2.10>;expires=3500']);
  });

  test('several contacts: ordered by q, then the most recent; a bad q is 400', async () => {
    const { save, registrar, clock } = setup();
    await save({ contacts: ['<sip:desk@192.0.2.1>;q=0.5', '<sip:mobile@192.0.2.2>;q=1.0'] });
    clock.advance(5);
    const { res } = await save({ contacts: ['<sip:laptop@192.0.2.3>', '<sip:old@192.0.2.4>;q=0.1'] });
    assert.deepEqual(
      registrar.lookup(AOR).map((b) => [b.contact, b.q]),
      [
        ['sip:laptop@192.0.2.3', undefined],
        ['sip:mobile@192.0.2.2', 1],
        ['sip:desk@192.0.2.1', 0.5],
        ['sip:old@192.0.2.4', 0.1],
      ],
    );
    assert.deepEqual(res.getHeaders('Contact'), [
      '<sip:laptop@192.0.2.3>;expires=3600',
      '<sip:mobile@192.0.2.2>;q=1;expires=3595',
      '<sip:desk@192.0.2.1>;q=0.5;expires=3595',
      '<sip:old@192.0.2.4>;q=0.1;expires=3600',
    ]);
    for (const q of ['1.5', '0.1234', 'high']) {
      const { result, res: bad } = await save({ contacts: [`<sip:x@192.0.2.9>;q=${q}`] });
      assert.equal(bad.status, 400, q);
      assert.match(result.ok ? '' : result.detail, /bad q value/);
      assert.match(bad.getHeader('Warning')!, /^399 sipsd "bad q value/);
    }
  });

  test('max_contacts: a REGISTER adding beyond it is refused with 503; refreshes still pass', async () => {
    const { save, registrar } = setup({ max_contacts: 2 });
    await save({ contacts: ['<sip:a@192.0.2.1>', '<sip:b@192.0.2.2>'] });
    const { res } = await save({ contacts: ['<sip:c@192.0.2.3>'] });
    assert.equal(res.status, 503);
    assert.equal(registrar.lookup(AOR).length, 2);
    assert.ok((await save({ contacts: ['<sip:a@192.0.2.1>'] })).result.ok);
  });
});

describe('refreshing and unregistering', () => {
  test('a refresh keeps the binding (same id) with a new expiry', async () => {
    const { save, registrar, clock } = setup();
    await save({ contacts: ['<sip:alice@192.0.2.10>'] });
    clock.advance(1000);
    const { res } = await save({ contacts: ['<sip:alice@192.0.2.10>'] });
    assert.deepEqual(res.getHeaders('Contact'), ['<sip:alice@192.0.2.10>;expires=3600']);
    const [b] = registrar.lookup(AOR);
    assert.equal(b?.id, 'b1');
    assert.equal(b?.expires, clock.ms / 1000 + 3600);
  });

  test('an equivalent URI refreshes; a different one adds', async () => {
    const { save, registrar } = setup();
    await save({ contacts: ['<sip:alice@PC33.atlanta.example.com;transport=UDP>'] });
    await save({ contacts: ['<sip:alice@pc33.atlanta.example.com;transport=udp>'] });
    assert.equal(registrar.lookup(AOR).length, 1);
    await save({ contacts: ['<sip:alice@pc33.atlanta.example.com:5070;transport=udp>'] });
    assert.equal(registrar.lookup(AOR).length, 2);
  });

  test('Call-ID and CSeq rules: lower CSeq refused, same CSeq is a retransmission, new Call-ID updates', async () => {
    const { registrar } = setup();
    const send = (cseq: number, callId: string, expires = 3600) =>
      registrar.save(register({ cseq, callId, contacts: [`<sip:alice@192.0.2.10>;expires=${expires}`] }));
    assert.ok((await send(10, 'call-1')).ok);
    const older = await send(9, 'call-1');
    assert.equal(older.status, 400);
    assert.match(older.ok ? '' : older.detail, /CSeq 9 is not above 10/);
    // The same request again (a UDP retransmission to a stateless registrar) is answered alike.
    const again = await send(10, 'call-1', 60);
    assert.ok(again.ok);
    assert.equal(again.bindings[0]!.cseq, 10);
    assert.equal(again.bindings[0]!.expires - again.bindings[0]!.lastModified, 3600, 'not applied twice');
    // After a reboot the phone has a new Call-ID and starts its CSeq over.
    const rebooted = await send(1, 'call-2', 120);
    assert.ok(rebooted.ok);
    assert.equal(rebooted.bindings[0]!.callId, 'call-2');
    assert.equal(registrar.lookup(AOR)[0]!.cseq, 1);
  });

  test('expires=0 removes one binding and keeps the others', async () => {
    const { save, registrar } = setup();
    await save({ contacts: ['<sip:desk@192.0.2.1>', '<sip:mobile@192.0.2.2>'] });
    const { res } = await save({ contacts: ['<sip:desk@192.0.2.1>;expires=0'] });
    assert.deepEqual(res.getHeaders('Contact'), ['<sip:mobile@192.0.2.2>;expires=3600']);
    assert.deepEqual(
      registrar.lookup(AOR).map((b) => b.contact),
      ['sip:mobile@192.0.2.2'],
    );
    const { res: viaHeader } = await save({ contacts: ['<sip:mobile@192.0.2.2>'], expires: 0 });
    assert.equal(viaHeader.status, 200);
    assert.ok(!viaHeader.hasHeader('Contact'));
    assert.equal(registrar.lookup(AOR).length, 0);
  });

  test('Contact: * with Expires: 0 removes every binding; otherwise it is 400', async () => {
    const { save, registrar } = setup();
    await save({ contacts: ['<sip:desk@192.0.2.1>', '<sip:mobile@192.0.2.2>'] });
    await save({ contacts: ['<sip:other@192.0.2.3>'], callId: 'another-call-id' });
    for (const expires of [undefined, 60]) {
      const { res } = await save({ contacts: ['*'], expires });
      assert.equal(res.status, 400, String(expires));
      assert.match(res.getHeader('Warning')!, /needs Expires: 0/);
    }
    const { res: mixed } = await save({ contacts: ['*', '<sip:desk@192.0.2.1>'], expires: 0 });
    assert.equal(mixed.status, 400);
    assert.equal(registrar.lookup(AOR).length, 3);
    const { result, res } = await save({ contacts: ['*'], expires: 0 });
    assert.ok(result.ok);
    assert.equal(res.status, 200);
    assert.ok(!res.hasHeader('Contact'));
    assert.equal(registrar.lookup(AOR).length, 0);
  });

  test('Contact: * with a CSeq not above a binding of the same Call-ID fails and removes nothing', async () => {
    const { registrar } = setup();
    await registrar.save(register({ cseq: 5, contacts: ['<sip:alice@192.0.2.10>'] }));
    const result = await registrar.save(register({ cseq: 5, contacts: ['*'], expires: 0 }));
    assert.equal(result.status, 400);
    assert.equal(registrar.lookup(AOR).length, 1);
  });
});

describe('expiry', () => {
  test('expired bindings are not looked up, not listed, and are swept from memory', async () => {
    const { save, registrar, location, clock } = setup();
    await save({ contacts: ['<sip:short@192.0.2.1>;expires=120', '<sip:long@192.0.2.2>;expires=600'] });
    clock.advance(119);
    assert.equal(registrar.lookup(AOR).length, 2);
    clock.advance(1);
    assert.deepEqual(
      registrar.lookup(AOR).map((b) => b.contact),
      ['sip:long@192.0.2.2'],
    );
    const { res } = await save({});
    assert.deepEqual(res.getHeaders('Contact'), ['<sip:long@192.0.2.2>;expires=480']);
    assert.equal(location.bindings('alice').length, 1, 'the save dropped the expired one');
    clock.advance(480);
    assert.equal(registrar.lookup(AOR).length, 0);
    assert.equal(await location.sweep(), 1);
    assert.equal(location.bindings('alice').length, 0);
    assert.deepEqual([...location.entries()], []);
  });

  test('the sweep timer does not keep the process alive', () => {
    const script = `
      import { Location } from './src/features/registrar/location.ts';
      const location = new Location({ useDomain: false, timerIntervalS: 1 });
      location.start();
      process.on('exit', () => console.log('exited'));
    `;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: new URL('../../../', import.meta.url),
      timeout: 20_000,
      encoding: 'utf8',
    });
    assert.equal(child.error, undefined, 'the process ended by itself');
    assert.equal(child.stdout.trim(), 'exited', child.stderr);
  });
});

describe('NAT, Path and outbound parameters', () => {
  test('received is kept when the source is not where the Contact points', async () => {
    const { save, registrar } = setup();
    const source = (address: string, port: number, proto = 'udp') => ({ source: { proto, address, port } });
    await save({ contacts: ['<sip:alice@192.0.2.10:5060>'] }, source('192.0.2.10', 5060));
    assert.equal(registrar.lookup(AOR)[0]!.received, undefined, 'no NAT');
    await save(
      { contacts: ['<sip:alice@10.0.0.5:5060>'] },
      { ...source('198.51.100.7', 40123), socket: 'udp:192.0.2.1:5060' },
    );
    await save({ contacts: ['<sip:alice@192.0.2.20;transport=tls>'] }, source('192.0.2.20', 51234, 'tls'));
    await save({ contacts: ['<sip:alice@[2001:db8::5]>'] }, source('2001:db8::5', 5060, 'tcp'));
    const byContact = Object.fromEntries(
      registrar.lookup(AOR).map((b) => [b.contact, [b.received, b.socket]]),
    );
    assert.deepEqual(byContact, {
      'sip:alice@192.0.2.10:5060': [undefined, undefined],
      'sip:alice@10.0.0.5:5060': ['sip:198.51.100.7:40123;transport=udp', 'udp:192.0.2.1:5060'],
      'sip:alice@192.0.2.20;transport=tls': ['sip:192.0.2.20:51234;transport=tls', undefined],
      'sip:alice@[2001:db8::5]': ['sip:[2001:db8::5]:5060;transport=tcp', undefined],
    });
  });

  test('Path is stored, echoed only to clients that support it, and becomes the Route of lookups', async () => {
    const { save, registrar } = setup();
    const path = ['Path: <sip:edge2.atlanta.example.com;lr>', 'Path: <sip:edge1.atlanta.example.com;lr>'];
    const { res: lazy } = await save(
      { contacts: ['<sip:alice@10.0.0.5>'], extra: path },
      {
        source: { proto: 'udp', address: '192.0.2.99', port: 5060 },
      },
    );
    assert.ok(!lazy.hasHeader('Path'));
    const { res } = await save({
      contacts: ['<sip:alice@10.0.0.5>'],
      extra: [...path, 'Supported: path, outbound'],
    });
    assert.deepEqual(res.getHeaders('Path'), [
      '<sip:edge2.atlanta.example.com;lr>',
      '<sip:edge1.atlanta.example.com;lr>',
    ]);
    const [binding] = registrar.lookup(AOR);
    assert.deepEqual(binding!.path, [
      '<sip:edge2.atlanta.example.com;lr>',
      '<sip:edge1.atlanta.example.com;lr>',
    ]);

    const invite = sipRequest([
      'INVITE sip:alice@atlanta.example.com SIP/2.0',
      'Via: SIP/2.0/UDP 192.0.2.50;branch=z9hG4bK1',
      'Route: <sip:existing.example.com;lr>',
      'To: <sip:alice@atlanta.example.com>',
      'From: <sip:bob@biloxi.example.com>;tag=1',
      'Call-ID: x',
      'CSeq: 1 INVITE',
      'Content-Length: 0',
    ]);
    assert.equal(applyBinding(invite, binding!), undefined, 'with a Path the request follows its Route');
    assert.equal(invite.uri, 'sip:alice@10.0.0.5');
    assert.deepEqual(invite.getHeaders('Route'), [
      '<sip:edge2.atlanta.example.com;lr>',
      '<sip:edge1.atlanta.example.com;lr>',
      '<sip:existing.example.com;lr>',
    ]);
  });

  test('without Path, lookup sends to the received address', async () => {
    const { save, registrar } = setup();
    await save(
      { contacts: ['<sip:alice@10.0.0.5>'] },
      { source: { proto: 'udp', address: '198.51.100.7', port: 40123 } },
    );
    const invite = sipRequest([
      'INVITE sip:alice@atlanta.example.com SIP/2.0',
      'Via: SIP/2.0/UDP 192.0.2.50;branch=z9hG4bK1',
      'To: <sip:alice@atlanta.example.com>',
      'From: <sip:bob@biloxi.example.com>;tag=1',
      'Call-ID: x',
      'CSeq: 1 INVITE',
      'Content-Length: 0',
    ]);
    assert.equal(applyBinding(invite, registrar.lookup(AOR)[0]!), 'sip:198.51.100.7:40123;transport=udp');
    assert.equal(invite.uri, 'sip:alice@10.0.0.5');
    assert.ok(!invite.hasHeader('Route'));
  });

  test('+sip.instance and reg-id are kept and echoed; the same instance with a new address replaces', async () => {
    const { save, registrar } = setup();
    const instance = '"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"';
    const { res } = await save({
      contacts: [`<sip:alice@192.0.2.10;transport=tcp>;+sip.instance=${instance};reg-id=1;audio;expires=600`],
    });
    assert.deepEqual(res.getHeaders('Contact'), [
      `<sip:alice@192.0.2.10;transport=tcp>;+sip.instance=${instance};reg-id=1;audio;expires=600`,
    ]);
    const [b] = registrar.lookup(AOR);
    assert.equal(b!.instance, '<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>');
    assert.equal(b!.regId, 1);
    // The phone comes back from another address with the same instance and reg-id: one binding.
    await save({ contacts: [`<sip:alice@192.0.2.77;transport=tcp>;+sip.instance=${instance};reg-id=1`] });
    assert.deepEqual(
      registrar.lookup(AOR).map((x) => [x.id, x.contact]),
      [[b!.id, 'sip:alice@192.0.2.77;transport=tcp']],
    );
    // A second flow (reg-id 2) is a binding of its own.
    await save({ contacts: [`<sip:alice@192.0.2.77;transport=tcp>;+sip.instance=${instance};reg-id=2`] });
    assert.equal(registrar.lookup(AOR).length, 2);
  });
});

describe('addresses-of-record and errors', () => {
  test('use_domain keeps users of different domains apart', async () => {
    const { save, registrar } = setup({ use_domain: true });
    await save({ contacts: ['<sip:alice@192.0.2.1>'] });
    await save({ contacts: ['<sip:alice@192.0.2.2>'], domain: 'Biloxi.example.com' });
    assert.deepEqual(
      registrar.lookup(AOR).map((b) => b.contact),
      ['sip:alice@192.0.2.1'],
    );
    assert.deepEqual(
      registrar.lookup('alice@biloxi.example.com').map((b) => b.contact),
      ['sip:alice@192.0.2.2'],
    );
    assert.deepEqual(registrar.lookup('alice'), []);
    const { save: saveShared, registrar: shared } = setup({ use_domain: false });
    await saveShared({ contacts: ['<sip:alice@192.0.2.1>'] });
    await saveShared({ contacts: ['<sip:alice@192.0.2.2>'], domain: 'biloxi.example.com' });
    assert.equal(shared.lookup(AOR).length, 2);
  });

  test('the aor option registers another address; remove drops an AoR', async () => {
    const { save, registrar } = setup({ use_domain: true });
    const { result } = await save(
      { contacts: ['<sip:alice@192.0.2.1>'] },
      { aor: 'sip:support@atlanta.example.com' },
    );
    assert.ok(result.ok);
    assert.equal(result.aor.key, 'support@atlanta.example.com');
    assert.equal(registrar.lookup(AOR).length, 0);
    assert.equal(await registrar.remove('support@atlanta.example.com'), 1);
    assert.equal(registrar.lookup('support@atlanta.example.com').length, 0);
    const bad = await registrar.save(register(), { aor: 'support' });
    assert.equal(bad.status, 500);
  });

  test('a To without a user, a broken Contact, and a request that is not a REGISTER', async () => {
    const { registrar } = setup();
    const noUser = sipRequest([
      'REGISTER sip:atlanta.example.com SIP/2.0',
      'Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1',
      'To: <sip:atlanta.example.com>',
      'From: <sip:atlanta.example.com>;tag=1',
      'Call-ID: 1',
      'CSeq: 1 REGISTER',
      'Contact: <sip:x@192.0.2.1>',
      'Content-Length: 0',
    ]);
    const r1 = await registrar.save(noUser);
    assert.equal(r1.status, 400);
    assert.match(r1.ok ? '' : r1.detail, /To header/);
    const r2 = await registrar.save(register({ contacts: ['<sip:alice@192.0.2.10'] }));
    assert.equal(r2.status, 400);
    const options = sipRequest([
      'OPTIONS sip:atlanta.example.com SIP/2.0',
      'Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1',
      'To: <sip:alice@atlanta.example.com>',
      'From: <sip:alice@atlanta.example.com>;tag=1',
      'Call-ID: 1',
      'CSeq: 1 OPTIONS',
      'Content-Length: 0',
    ]);
    const r3 = await registrar.save(options);
    assert.equal(r3.status, 500);
    assert.match(r3.ok ? '' : r3.detail, /not OPTIONS/);
  });
});
