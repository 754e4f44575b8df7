// Routing helpers on parsed messages: is-myself with listeners and aliases, Record-Route entries
// (single, and double when the transport changes), loose routing of our own entries and of a
// strict router's Request-URI, and the Max-Forwards verdict.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage, parseUri, type SipRequest } from '../../src/sip/index.js';
import { Myself, parseAlias } from '../../src/features/routing/myself.js';
import { recordRouteValues } from '../../src/features/routing/record-route.js';
import { looseRoute } from '../../src/features/routing/loose-route.js';
import { checkMaxForwards } from '../../src/features/routing/max-forwards.js';

const myself = new Myself(
  [
    { proto: 'udp', address: '127.0.0.1', port: 5060 },
    { proto: 'tls', address: '127.0.0.1', port: 5061 },
    { proto: 'tcp', address: '::1', port: 5070 },
  ],
  [parseAlias('sip.example.com'), parseAlias('edge.example.com:5080')],
);

function request(headers: string, uri = 'sip:bob@biloxi.example.com', method = 'INVITE'): SipRequest {
  const text =
    `${method} ${uri} SIP/2.0\r\n` +
    'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-1\r\n' +
    'From: <sip:alice@atlanta.example.com>;tag=a\r\nTo: <sip:bob@biloxi.example.com>\r\n' +
    `Call-ID: c1\r\nCSeq: 1 ${method}\r\n${headers}Content-Length: 0\r\n\r\n`;
  const parsed = parseMessage(Buffer.from(text));
  assert.ok(parsed.ok && parsed.message.isRequest, JSON.stringify(parsed));
  return parsed.message as SipRequest;
}

const uri = (text: string) => {
  const u = parseUri(text);
  assert.ok(u.ok);
  return u.value;
};

test('isMyself: listeners by address and default port per scheme, aliases with or without a port', () => {
  assert.equal(myself.isMyself(uri('sip:127.0.0.1')), true, 'port 5060 by default');
  assert.equal(myself.isMyself(uri('sips:127.0.0.1')), true, 'sips: defaults to 5061');
  assert.equal(myself.isMyself(uri('sip:127.0.0.1;transport=tls')), true);
  assert.equal(myself.isMyself(uri('sip:127.0.0.1:5999')), false);
  assert.equal(myself.isMyself(uri('sip:[::1]:5070')), true);
  assert.equal(myself.isMyself(uri('sip:SIP.Example.COM:4000')), true, 'an alias without a port takes any');
  assert.equal(myself.isMyself(uri('sip:edge.example.com:5080')), true);
  assert.equal(myself.isMyself(uri('sip:edge.example.com')), false, 'the alias names port 5080 only');
  assert.equal(myself.isMyself(uri('tel:+15551234')), false);
  assert.throws(() => parseAlias('bad host:x'), /alias "bad host:x": expected host or host:port/);
});

test('Record-Route: one lr entry when the request leaves as it came; two r2 entries across transports', () => {
  const udp = { proto: 'udp' as const, address: '127.0.0.1', port: 5060 };
  const tls = { proto: 'tls' as const, address: '127.0.0.1', port: 5061 };
  assert.deepEqual(recordRouteValues(udp, udp), ['<sip:127.0.0.1:5060;transport=udp;lr>']);
  assert.deepEqual(recordRouteValues(udp, tls), [
    '<sip:127.0.0.1:5061;transport=tls;lr;r2=on>',
    '<sip:127.0.0.1:5060;transport=udp;lr;r2=on>',
  ]);
  assert.deepEqual(recordRouteValues({ proto: 'tcp', address: '::1', port: 5070 }, undefined), [
    '<sip:[::1]:5070;transport=tcp;lr>',
  ]);
});

test('loose_route: our own entry is removed and the request follows the next Route', () => {
  const req = request(
    'Route: <sip:127.0.0.1:5060;transport=udp;lr>\r\nRoute: <sip:proxy.biloxi.example.com;lr>\r\n',
  );
  assert.deepEqual(looseRoute(req, myself), { routed: true, removed: 1, strictRouterFixed: false });
  assert.deepEqual(req.getHeaders('Route'), ['<sip:proxy.biloxi.example.com;lr>']);
});

test('loose_route: both entries of our double Record-Route are removed, not a third of ours', () => {
  const req = request(
    'Route: <sip:127.0.0.1:5061;transport=tls;lr;r2=on>, <sip:127.0.0.1:5060;transport=udp;lr;r2=on>\r\n' +
      'Route: <sip:127.0.0.1:5060;lr>\r\n',
  );
  const r = looseRoute(req, myself);
  assert.deepEqual(r, { routed: true, removed: 2, strictRouterFixed: false });
  assert.deepEqual(req.getHeaders('Route'), ['<sip:127.0.0.1:5060;lr>']);
});

test('loose_route: a Route set that does not start with us is left alone; no Route: not routed', () => {
  const req = request('Route: <sip:proxy.biloxi.example.com;lr>\r\n');
  assert.deepEqual(looseRoute(req, myself), { routed: true, removed: 0, strictRouterFixed: false });
  assert.equal(req.getHeaders('Route').length, 1);
  assert.deepEqual(looseRoute(request(''), myself), { routed: false });
});

test('loose_route: a strict router left our URI in the Request-URI; it is restored from the last Route', () => {
  const req = request(
    'Route: <sip:proxy.biloxi.example.com;lr>\r\nRoute: <sip:bob@192.0.2.9:5062>\r\n',
    'sip:127.0.0.1:5060;transport=udp;lr',
  );
  assert.deepEqual(looseRoute(req, myself), { routed: true, removed: 0, strictRouterFixed: true });
  assert.equal(req.uri, 'sip:bob@192.0.2.9:5062');
  assert.deepEqual(req.getHeaders('Route'), ['<sip:proxy.biloxi.example.com;lr>']);
});

test('Max-Forwards: 0 stops a request (483), OPTIONS may be answered locally, a missing header forwards', () => {
  assert.equal(checkMaxForwards(request('Max-Forwards: 0\r\n')), 'too-many-hops');
  assert.equal(
    checkMaxForwards(request('Max-Forwards: 0\r\n', 'sip:127.0.0.1', 'OPTIONS')),
    'answer-locally',
  );
  assert.equal(checkMaxForwards(request('Max-Forwards: 1\r\n')), 'forward');
  assert.equal(checkMaxForwards(request('')), 'forward');
});
