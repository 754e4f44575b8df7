import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Via, formatVia, parseVia } from '../../src/sip/via.js';

function parsed(text: string): Via {
  const result = parseVia(text);
  assert.ok(result.ok, `${text}: ${result.ok ? '' : result.error.reason}`);
  return result.value;
}

function rejects(text: string, fragment: string): void {
  const result = parseVia(text);
  assert.equal(result.ok, false, `${text} should be rejected`);
  if (!result.ok) {
    assert.equal(result.error.code, 'bad-via');
    assert.match(result.error.reason, new RegExp(fragment));
  }
}

describe('parseVia', () => {
  test('a typical Via', () => {
    const via = parsed(
      'SIP/2.0/UDP pc33.atlanta.example.com:5066;branch=z9hG4bK776asdhds;received=192.0.2.1',
    );
    assert.equal(via.transport, 'UDP');
    assert.equal(via.host, 'pc33.atlanta.example.com');
    assert.equal(via.hostKind, 'name');
    assert.equal(via.port, 5066);
    assert.equal(via.branch, 'z9hG4bK776asdhds');
    assert.equal(via.received, '192.0.2.1');
    assert.equal(via.rport, undefined);
    assert.equal(via.alias, false);
  });

  test('every transport, upper-cased', () => {
    for (const transport of ['udp', 'TCP', 'Tls', 'SCTP', 'ws', 'WSS']) {
      assert.equal(
        parsed(`SIP/2.0/${transport} h.example.com;branch=z9hG4bK1`).transport,
        transport.toUpperCase(),
      );
    }
  });

  test('IPv6 sent-by with port', () => {
    const via = parsed('SIP/2.0/TCP [2001:db8::10]:5070;branch=z9hG4bKx');
    assert.equal(via.host, '2001:db8::10');
    assert.equal(via.hostKind, 'ipv6');
    assert.equal(via.port, 5070);
    assert.equal(parsed('SIP/2.0/UDP [::1];branch=z9hG4bKx').port, undefined);
  });

  test('whitespace around slashes, colon, semicolons and equals (RFC 4475 wsinv)', () => {
    const via = parsed('SIP  /   2.0  / UDP    192.0.2.2 : 5060 ;  branch = z9hG4bKkdjuw ; rport');
    assert.equal(via.transport, 'UDP');
    assert.equal(via.host, '192.0.2.2');
    assert.equal(via.port, 5060);
    assert.equal(via.branch, 'z9hG4bKkdjuw');
    assert.equal(via.rport, null);
  });

  test('rport: absent, valueless, with value', () => {
    assert.equal(parsed('SIP/2.0/UDP h;branch=z9hG4bK1').rport, undefined);
    assert.equal(parsed('SIP/2.0/UDP h;rport;branch=z9hG4bK1').rport, null);
    assert.equal(parsed('SIP/2.0/UDP h;rport=5061;branch=z9hG4bK1').rport, 5061);
  });

  test('alias, maddr, ttl and IPv6 received', () => {
    const via = parsed(
      'SIP/2.0/UDP h.example.com;alias;maddr=239.255.255.1;ttl=16;received=2001:db8::9;branch=z9hG4bK1',
    );
    assert.equal(via.alias, true);
    assert.equal(via.maddr, '239.255.255.1');
    assert.equal(via.ttl, 16);
    assert.equal(via.received, '2001:db8::9');
    assert.equal(parsed('SIP/2.0/UDP h;received=[2001:db8::9]').received, '[2001:db8::9]');
  });

  test('unknown params are kept in order, quoted values included', () => {
    const via = parsed('SIP/2.0/TLS h;branch=z9hG4bK1;x-one;x-two="a;b c";X-Three=3');
    assert.deepEqual(
      [...via.params].map((p) => p.name),
      ['branch', 'x-one', 'x-two', 'X-Three'],
    );
    assert.equal(via.params.get('x-two'), '"a;b c"');
    assert.equal(via.params.get('x-three'), '3');
  });

  test('rejects malformed values', () => {
    rejects('', 'sent-protocol');
    rejects('SIP/2.0 host;branch=1', 'sent-protocol');
    rejects('SIP/2.0/ host', 'whitespace before sent-by');
    rejects('SIP/2.0/', 'sent-protocol');
    rejects('HTTP/1.1/TCP host', 'unsupported protocol');
    rejects('SIP/3.0/UDP host', 'unsupported protocol');
    rejects('SIP/2.0/UDPhost', 'whitespace');
    rejects('SIP/2.0/UDP', 'whitespace');
    rejects('SIP/2.0/UDP ;branch=1', 'bad host');
    rejects('SIP/2.0/UDP host:70000', 'bad port');
    rejects('SIP/2.0/UDP [2001:db8::1;branch=1', 'IPv6');
    rejects('SIP/2.0/UDP host;branch', 'branch without value');
    rejects('SIP/2.0/UDP host;received=not-an-ip', 'received');
    rejects('SIP/2.0/UDP host;rport=abc', 'rport');
    rejects('SIP/2.0/UDP host;ttl=300', 'ttl');
    rejects('SIP/2.0/UDP host;maddr', 'maddr');
    rejects('SIP/2.0/UDP host;branch=a b', 'junk');
    rejects('SIP/2.0/UDP host junk', 'bad host');
  });
});

describe('Via setters and formatVia', () => {
  test('a proxy stamps received and rport and writes the Via back', () => {
    const via = parsed('SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport');
    via.received = '203.0.113.7';
    via.rport = 40123;
    assert.equal(
      formatVia(via),
      'SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport=40123;received=203.0.113.7',
    );
    via.rport = undefined;
    via.received = undefined;
    via.branch = 'z9hG4bK2';
    assert.equal(formatVia(via), 'SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK2');
  });

  test('formats IPv6 hosts in brackets and round-trips', () => {
    const text = 'SIP/2.0/WSS [2001:db8::10]:443;branch=z9hG4bK1;alias;x="a b"';
    assert.equal(formatVia(parsed(text)), text);
  });

  test('builds a Via from scratch', () => {
    const via = new Via('TLS', 'proxy.example.com', 'name', 5061);
    via.branch = 'z9hG4bKabc';
    via.rport = null;
    assert.equal(formatVia(via), 'SIP/2.0/TLS proxy.example.com:5061;branch=z9hG4bKabc;rport');
  });
});
