import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatUri, parseUri, type SipUri, type TelUri, type Uri } from '../../src/sip/uri.js';

function parsed(text: string): Uri {
  const result = parseUri(text);
  assert.ok(result.ok, `${text}: ${result.ok ? '' : result.error.reason}`);
  return result.value;
}

function sip(text: string): SipUri {
  const uri = parsed(text);
  assert.equal(uri.kind, 'sip');
  return uri as SipUri;
}

function rejects(text: string, fragment?: string): void {
  const result = parseUri(text);
  assert.equal(result.ok, false, `${text} should be rejected`);
  if (!result.ok) {
    assert.equal(result.error.code, 'bad-uri');
    if (fragment) assert.match(result.error.reason, new RegExp(fragment));
  }
}

describe('parseUri: SIP and SIPS', () => {
  test('user, host, port', () => {
    const uri = sip('sip:alice@atlanta.example.com:5070');
    assert.equal(uri.scheme, 'sip');
    assert.equal(uri.user, 'alice');
    assert.equal(uri.password, undefined);
    assert.equal(uri.host, 'atlanta.example.com');
    assert.equal(uri.hostKind, 'name');
    assert.equal(uri.port, 5070);
  });

  test('scheme is case-insensitive and stored in lower case', () => {
    const uri = sip('SIPS:bob@Biloxi.Example.COM');
    assert.equal(uri.scheme, 'sips');
    assert.equal(uri.host, 'Biloxi.Example.COM');
  });

  test('host only, IPv4, password', () => {
    const noUser = sip('sip:proxy.example.com');
    assert.equal(noUser.user, undefined);
    const v4 = sip('sip:carol:secret@192.0.2.4');
    assert.equal(v4.hostKind, 'ipv4');
    assert.equal(v4.user, 'carol');
    assert.equal(v4.password, 'secret');
  });

  test('IPv6 reference with and without port', () => {
    const uri = sip('sip:alice@[2001:db8::10]:5070;transport=tcp');
    assert.equal(uri.host, '2001:db8::10');
    assert.equal(uri.hostKind, 'ipv6');
    assert.equal(uri.port, 5070);
    assert.equal(uri.params.get('transport'), 'tcp');
    assert.equal(sip('sip:[::1]').port, undefined);
  });

  test('parameters are ordered, valueless allowed, looked up case-insensitively', () => {
    const uri = sip('sip:proxy.example.com;LR;Transport=TLS;maddr=239.255.255.1;ttl=15');
    assert.deepEqual(
      [...uri.params],
      [
        { name: 'LR', value: null },
        { name: 'Transport', value: 'TLS' },
        { name: 'maddr', value: '239.255.255.1' },
        { name: 'ttl', value: '15' },
      ],
    );
    assert.equal(uri.params.get('lr'), null);
    assert.equal(uri.params.has('lr'), true);
    assert.equal(uri.params.get('transport'), 'TLS');
    assert.equal(uri.params.get('user'), undefined);
  });

  test('URI headers', () => {
    const uri = sip('sip:bob@biloxi.example.com?Subject=Project%20X&Priority=urgent');
    assert.equal(uri.headers.get('subject'), 'Project X');
    assert.equal(uri.headers.get('Priority'), 'urgent');
    assert.equal(uri.params.size, 0);
  });

  test('escaped characters in user, password and params are decoded', () => {
    const uri = sip('sip:sip%3Auser%40example.com:p%40ss@example.net;na%6De=v%61lue');
    assert.equal(uri.user, 'sip:user@example.com');
    assert.equal(uri.password, 'p@ss');
    assert.equal(uri.params.get('name'), 'value');
  });

  test('UTF-8 escapes decode to text', () => {
    assert.equal(sip('sip:J%C3%BCrgen@example.com').user, 'Jürgen');
  });

  test('user parts with reserved-but-allowed characters and telephone numbers', () => {
    assert.equal(
      sip('sip:+1-212-555-1212;npdi;rn=+1-212-555-1111@gw.example.com;user=phone').user,
      '+1-212-555-1212;npdi;rn=+1-212-555-1111',
    );
    assert.equal(sip('sip:*67#1234@pbx.example.com').user, '*67#1234');
  });

  test('rejects malformed SIP URIs', () => {
    rejects('sip:', 'empty');
    rejects('sip:@example.com', 'empty user');
    rejects('sip:alice@', 'bad host');
    rejects('sip:alice@example.com:99999', 'bad port');
    rejects('sip:alice@example.com:', 'bad port');
    rejects('sip:alice@example.com:50a', 'bad port');
    rejects('sip:alice@[2001:db8::zz]', 'IPv6');
    rejects('sip:alice@[2001:db8::1', 'IPv6');
    rejects('sip:alice@256.1.1.1', 'bad host');
    rejects('sip:alice@exa mple.com', 'whitespace');
    rejects('sip:al%ZZice@example.com', 'escape');
    rejects('sip:alice%4@example.com', 'escape');
    rejects('sip:alice@example.com;=x', 'empty');
    rejects('sip:al"ice@example.com', 'illegal');
    rejects('sip:alice@example..com', 'bad host');
    rejects('sip:alice@-example.com', 'bad host');
    rejects('no-scheme-here', 'scheme');
    rejects(':nothing', 'scheme');
    rejects('1sip:alice@example.com', 'scheme');
  });
});

describe('parseUri: TEL and other schemes', () => {
  test('global and local numbers with params', () => {
    const global = parsed('tel:+1-201-555-0123;ext=42') as TelUri;
    assert.equal(global.kind, 'tel');
    assert.equal(global.number, '+1-201-555-0123');
    assert.equal(global.params.get('ext'), '42');
    const local = parsed('tel:7042;phone-context=example.com') as TelUri;
    assert.equal(local.number, '7042');
    assert.equal(local.params.get('phone-context'), 'example.com');
    assert.equal((parsed('TEL:*123#') as TelUri).number, '*123#');
  });

  test('rejects bad numbers', () => {
    rejects('tel:', 'empty');
    rejects('tel:+', 'number');
    rejects('tel:abc-xyz', 'number');
    rejects('tel:+1 555', 'whitespace');
  });

  test('keeps other schemes opaque', () => {
    assert.deepEqual(parsed('urn:service:sos'), { kind: 'other', scheme: 'urn', opaque: 'service:sos' });
    assert.deepEqual(parsed('Mailto:alice@example.com'), {
      kind: 'other',
      scheme: 'mailto',
      opaque: 'alice@example.com',
    });
  });
});

describe('formatUri', () => {
  test('round-trips canonical URIs byte for byte', () => {
    for (const text of [
      'sip:alice@atlanta.example.com',
      'sips:bob:pw@biloxi.example.com:5061;transport=tls',
      'sip:proxy.example.com;lr',
      'sip:[2001:db8::10]:5070;maddr=[2001:db8::1];lr',
      'sip:+1-212-555-1212;npdi@gw.example.com;user=phone',
      'sip:bob@example.com?Subject=Project%20X&Priority=urgent',
      'tel:+1-201-555-0123;ext=42',
      'urn:service:sos',
    ]) {
      assert.equal(formatUri(parsed(text)), text);
    }
  });

  test('re-escapes what must be escaped, so parse(format(u)) equals u', () => {
    for (const text of [
      'sip:sip%3Auser%40example.com:p%40ss@example.net',
      'sip:J%C3%BCrgen@example.com;na%20me=v%22',
    ]) {
      const uri = parsed(text);
      const again = parsed(formatUri(uri));
      assert.deepEqual(again, uri);
    }
    assert.equal(formatUri(parsed('sip:%61lice@example.com')), 'sip:alice@example.com');
  });

  test('formats a modified URI', () => {
    const uri = sip('sip:alice@example.com;transport=udp');
    uri.params.set('transport', 'tcp').set('lr');
    assert.equal(formatUri({ ...uri, port: 5080 }), 'sip:alice@example.com:5080;transport=tcp;lr');
  });
});
