import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage } from '../../src/sip/parser.js';
import { SipHeaderError } from '../../src/sip/errors.js';
import {
  SipRequest,
  SipResponse,
  headerLine,
  serializeMessage,
  type SipMessage,
} from '../../src/sip/message.js';
import { formatVia } from '../../src/sip/via.js';
import type { SipUri } from '../../src/sip/uri.js';
import { INVITE, OK_200, OPTIONS, REGISTER, request } from './fixtures.js';

function parse(text: string): SipMessage {
  const result = parseMessage(Buffer.from(text));
  assert.ok(result.ok, result.ok ? '' : result.error.reason);
  return result.message;
}

function parseRequest(text: string): SipRequest {
  const msg = parse(text);
  assert.ok(msg.isRequest);
  return msg;
}

/** The header section of a serialized message, as lines. */
function headerLinesOf(data: Buffer): string[] {
  const text = data.toString();
  return text.slice(0, text.indexOf('\r\n\r\n')).split('\r\n').slice(1);
}

describe('serializeMessage', () => {
  test('untouched messages come out byte for byte', () => {
    for (const text of [INVITE, OK_200, REGISTER, OPTIONS]) {
      assert.equal(serializeMessage(parse(text)).toString(), text);
    }
  });

  test('unknown headers keep their exact spelling, spacing and compact names', () => {
    const text = request('OPTIONS sip:x@example.com SIP/2.0', [
      'x-WeIrD-Name  :   spaced\tvalue ;;,,',
      'k: timer',
      'UnknownHeaderWithUnusualValue: ;;,,;;,;',
    ]);
    const out = serializeMessage(parse(text)).toString();
    assert.equal(out, text);
    assert.ok(out.includes('\r\nx-WeIrD-Name  :   spaced\tvalue ;;,,\r\n'));
    assert.ok(out.includes('\r\nk: timer\r\n'));
  });

  test('folded lines go out unfolded, LF-only input goes out with CRLF', () => {
    const text = request('OPTIONS sip:x@example.com SIP/2.0', ['Subject: first', '  second']).replaceAll(
      '\r\n',
      '\n',
    );
    const out = serializeMessage(parse(text)).toString();
    assert.ok(out.includes('\r\nSubject: first second\r\n'));
    assert.ok(!out.replaceAll('\r\n', '').includes('\n'));
  });

  test('Content-Length is recomputed from the body, keeping the name as received', () => {
    const msg = parse(
      request('MESSAGE sip:x@example.com SIP/2.0', [], 'hello').replace('Content-Length:', 'l:'),
    );
    msg.body = Buffer.from('a longer body');
    const out = serializeMessage(msg).toString();
    assert.ok(out.includes('\r\nl: 13\r\n'));
    assert.ok(out.endsWith('\r\n\r\na longer body'));
  });

  test('a missing Content-Length is added; extra ones are dropped', () => {
    const msg = new SipRequest('OPTIONS', 'sip:x@example.com', [
      headerLine('Via', 'SIP/2.0/UDP h;branch=z9hG4bK1'),
    ]);
    assert.equal(
      serializeMessage(msg).toString(),
      'OPTIONS sip:x@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n',
    );
    msg.addHeader('Content-Length', '7');
    msg.addHeader('Content-Length', '9');
    msg.body = Buffer.from('xy');
    assert.deepEqual(headerLinesOf(serializeMessage(msg)), [
      'Via: SIP/2.0/UDP h;branch=z9hG4bK1',
      'Content-Length: 2',
    ]);
  });

  test('responses and binary bodies', () => {
    const res = new SipResponse(
      486,
      'Busy Here',
      [headerLine('Call-ID', 'x')],
      Buffer.from([0, 255, 13, 10]),
    );
    const out = serializeMessage(res);
    assert.equal(
      out.subarray(0, out.length - 4).toString(),
      'SIP/2.0 486 Busy Here\r\nCall-ID: x\r\nContent-Length: 4\r\n\r\n',
    );
    assert.deepEqual([...out.subarray(out.length - 4)], [0, 255, 13, 10]);
  });

  test('a changed Request-URI is written', () => {
    const req = parseRequest(OPTIONS);
    req.uri = 'sip:carol@192.0.2.55:5080';
    assert.ok(serializeMessage(req).toString().startsWith('OPTIONS sip:carol@192.0.2.55:5080 SIP/2.0\r\n'));
  });
});

describe('header access', () => {
  test('getHeader / getHeaders / hasHeader with compact and full names, any case', () => {
    const req = parseRequest(
      request('INVITE sip:x@example.com SIP/2.0', [
        'v: SIP/2.0/TCP b;branch=z9hG4bK2, SIP/2.0/TCP c;branch=z9hG4bK3',
        'Supported: timer',
        'k: 100rel, path',
      ]),
    );
    assert.equal(req.getHeader('VIA'), 'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-test-1');
    assert.deepEqual(req.getHeaders('v'), [
      'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-test-1',
      'SIP/2.0/TCP b;branch=z9hG4bK2',
      'SIP/2.0/TCP c;branch=z9hG4bK3',
    ]);
    assert.deepEqual(req.getHeaders('supported'), ['timer', '100rel', 'path']);
    assert.equal(req.hasHeader('K'), true);
    assert.equal(req.hasHeader('Require'), false);
    assert.equal(req.getHeader('Require'), undefined);
    assert.deepEqual(req.getHeaders('Require'), []);
  });

  test('headers whose values contain commas are not split', () => {
    const challenge =
      'Digest realm="atlanta.example.com", nonce="ea9c8e88df84f1cec4341ae6cbe5a359", qop="auth,auth-int"';
    const req = parseRequest(
      request('INVITE sip:x@example.com SIP/2.0', [
        `WWW-Authenticate: ${challenge}`,
        'Date: Sat, 13 Nov 2010 23:29:00 GMT',
      ]),
    );
    assert.equal(req.getHeader('www-authenticate'), challenge);
    assert.deepEqual(req.getHeaders('Date'), ['Sat, 13 Nov 2010 23:29:00 GMT']);
  });

  test('headerFields lists every line in order with names as received', () => {
    const req = parseRequest(request('OPTIONS sip:x@example.com SIP/2.0', ['x-a: 1', 'X-B: 2']));
    const fields = req.headerFields().map((f) => `${f.name}=${f.value}`);
    assert.deepEqual(fields.slice(-3), ['x-a=1', 'X-B=2', 'Content-Length=0']);
  });

  test('addHeader appends, or with first puts the line above the first of its kind', () => {
    const req = parseRequest(INVITE);
    req.addHeader('Record-Route', '<sip:us.example.com;lr>', { first: true });
    req.addHeader('X-Last', 'z');
    req.addHeader('Route', '<sip:r.example.com;lr>', { first: true });
    const lines = headerLinesOf(serializeMessage(req));
    assert.equal(
      lines.indexOf('Record-Route: <sip:us.example.com;lr>') + 1,
      lines.indexOf('Record-Route: <sip:proxy.atlanta.example.com;transport=tls;lr>'),
    );
    assert.equal(lines.at(-1), 'X-Last: z');
    assert.equal(lines[0], 'Route: <sip:r.example.com;lr>');
    const rr = req.recordRoutes();
    assert.ok(rr.ok);
    assert.equal((rr.value[0]?.uri as SipUri).host, 'us.example.com');
  });

  test('removeHeader removes every line and reports how many', () => {
    const req = parseRequest(INVITE);
    assert.equal(req.removeHeader('via'), 2);
    assert.equal(req.hasHeader('Via'), false);
    assert.equal(req.removeHeader('Via'), 0);
    assert.throws(() => req.topVia(), SipHeaderError);
  });

  test('setHeader replaces all lines by one at the first position', () => {
    const req = parseRequest(request('OPTIONS sip:x@example.com SIP/2.0', ['X-A: 1', 'X-Mid: m', 'x-a: 2']));
    req.setHeader('X-A', '3');
    assert.deepEqual(req.getHeaders('x-a'), ['3']);
    const lines = headerLinesOf(serializeMessage(req));
    assert.equal(lines.indexOf('X-A: 3') + 1, lines.indexOf('X-Mid: m'));
    req.setHeader('X-New', 'n');
    assert.equal(req.getHeader('x-new'), 'n');
  });

  test('removeFirstHeaderValue pops the top Via, leaving the rest of its line in place', () => {
    const text = request('INVITE sip:x@example.com SIP/2.0', [
      'X-Between: 1',
      'Via: SIP/2.0/TCP b;branch=z9hG4bK2 , SIP/2.0/TCP c;branch=z9hG4bK3',
    ]).replace(/^Via: (.*)$/m, 'Via: $1, SIP/2.0/UDP a2;branch=z9hG4bKa2');
    const req = parseRequest(text);
    assert.equal(req.vias().length, 4);
    assert.equal(req.removeFirstHeaderValue('Via'), 'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-test-1');
    assert.deepEqual(
      req.vias().map((v) => v.host),
      ['a2', 'b', 'c'],
    );
    const lines = headerLinesOf(serializeMessage(req));
    assert.equal(lines[0], 'Via: SIP/2.0/UDP a2;branch=z9hG4bKa2');
    assert.equal(req.removeFirstHeaderValue('v'), 'SIP/2.0/UDP a2;branch=z9hG4bKa2');
    assert.equal(req.removeFirstHeaderValue('Via'), 'SIP/2.0/TCP b;branch=z9hG4bK2');
    assert.ok(headerLinesOf(serializeMessage(req)).includes('Via: SIP/2.0/TCP c;branch=z9hG4bK3'));
    assert.equal(req.removeFirstHeaderValue('Via'), 'SIP/2.0/TCP c;branch=z9hG4bK3');
    assert.equal(req.removeFirstHeaderValue('Via'), undefined);
  });

  test('removeFirstHeaderValue keeps the parsed Routes minus the first, as a fresh parse reads them', () => {
    const req = parseRequest(
      request('BYE sip:x@example.com SIP/2.0', [
        'Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>',
        'Route: , <sip:p3.example.com;lr>',
      ]),
    );
    const hosts = () => {
      const routes = req.routes();
      assert.ok(routes.ok);
      return routes.value.map((r) => (r.uri as SipUri).host);
    };
    const fresh = () => {
      const copy = parseRequest(serializeMessage(req).toString());
      const routes = copy.routes();
      assert.ok(routes.ok);
      return routes.value.map((r) => (r.uri as SipUri).host);
    };
    assert.deepEqual(hosts(), ['p1.example.com', 'p2.example.com', 'p3.example.com']);
    assert.equal(req.removeFirstHeaderValue('Route'), '<sip:p1.example.com;lr>');
    assert.deepEqual(hosts(), ['p2.example.com', 'p3.example.com']);
    assert.deepEqual(hosts(), fresh());
    assert.equal(req.removeFirstHeaderValue('Route'), '<sip:p2.example.com;lr>');
    assert.deepEqual(hosts(), fresh());
    // The empty element of `Route: , <...>` goes first, and was never among the parsed values.
    assert.equal(req.removeFirstHeaderValue('Route'), '');
    assert.deepEqual(hosts(), ['p3.example.com']);
    assert.deepEqual(hosts(), fresh());
  });

  test('removeFirstHeaderValue on a single-valued header removes the line', () => {
    const req = parseRequest(request('OPTIONS sip:x@example.com SIP/2.0', ['Subject: a, b']));
    assert.equal(req.removeFirstHeaderValue('Subject'), 'a, b');
    assert.equal(req.hasHeader('Subject'), false);
  });

  test('untouched lines stay byte-exact while others change', () => {
    const req = parseRequest(request('OPTIONS sip:x@example.com SIP/2.0', ['x-keep  :  as  is ']));
    req.setHeader('Max-Forwards', '69');
    assert.ok(serializeMessage(req).toString().includes('\r\nx-keep  :  as  is \r\n'));
    assert.ok(serializeMessage(req).toString().includes('\r\nMax-Forwards: 69\r\n'));
  });
});

describe('parsed accessors', () => {
  test('are cached', () => {
    const req = parseRequest(INVITE);
    assert.equal(req.topVia(), req.topVia());
    assert.equal(req.from(), req.from());
    const contacts = req.contacts();
    assert.equal(req.contacts(), contacts);
  });

  test('are invalidated when their header changes', () => {
    const req = parseRequest(INVITE);
    const before = req.topVia();
    req.addHeader('Via', 'SIP/2.0/UDP new.example.com;branch=z9hG4bKnew', { first: true });
    assert.notEqual(req.topVia(), before);
    assert.equal(req.topVia().host, 'new.example.com');
    req.setHeader('Max-Forwards', '10');
    assert.equal(req.maxForwards(), 10);
    req.removeHeader('Max-Forwards');
    assert.equal(req.maxForwards(), undefined);
    req.setHeader('To', '<sip:bob@biloxi.example.com>;tag=xyz');
    assert.equal(req.to().tag, 'xyz');
    req.setHeader('Contact', '*');
    assert.deepEqual(req.contacts(), { ok: true, value: '*' });
    req.setHeader('CSeq', '1 INVITE');
    assert.equal(req.cseq().seq, 1);
    req.setHeader('i', 'new-call-id');
    assert.equal(req.callId, 'new-call-id');
  });

  test('a proxy stamps the top Via and writes it back', () => {
    const req = parseRequest(REGISTER);
    const via = req.topVia();
    via.received = '203.0.113.9';
    via.rport = 34567;
    req.removeFirstHeaderValue('Via');
    req.addHeader('Via', formatVia(via), { first: true });
    assert.equal(req.topVia().received, '203.0.113.9');
    assert.ok(
      serializeMessage(req)
        .toString()
        .includes(
          '\r\nVia: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bKnashds7;rport=34567;received=203.0.113.9\r\n',
        ),
    );
  });

  test('the Request-URI setter formats the URI and the getter re-parses', () => {
    const req = parseRequest(OPTIONS);
    const uri = req.requestUri as SipUri;
    req.requestUri = { ...uri, host: '192.0.2.200', port: 5080 };
    assert.equal(req.uri, 'sip:carol@192.0.2.200:5080');
    assert.equal((req.requestUri as SipUri).port, 5080);
    req.uri = 'not a uri';
    assert.throws(() => req.requestUri, SipHeaderError);
  });

  test('lazily parsed headers report errors as values', () => {
    const req = parseRequest(
      request('INVITE sip:x@example.com SIP/2.0', [
        'Contact: <sip:broken',
        'Route: garbage',
        'Record-Route: <sip:ok.example.com;lr>, <bad uri>',
      ]),
    );
    const contacts = req.contacts();
    assert.equal(contacts.ok, false);
    if (!contacts.ok) assert.equal(contacts.error.code, 'bad-contact');
    const routes = req.routes();
    assert.equal(routes.ok, false);
    if (!routes.ok) assert.equal(routes.error.code, 'bad-route');
    assert.equal(req.recordRoutes().ok, false);
  });

  test("Contact '*' alone is the wildcard; mixed with addresses it is an error", () => {
    assert.deepEqual(parseRequest(REGISTER.replace(/^Contact:.*$/m, 'Contact: *')).contacts(), {
      ok: true,
      value: '*',
    });
    const mixed = parseRequest(REGISTER.replace(/^Contact:.*$/m, 'Contact: *, <sip:a@b>')).contacts();
    assert.equal(mixed.ok, false);
    assert.deepEqual(parseRequest(OPTIONS).contacts(), { ok: true, value: [] });
  });

  test('accessors of mandatory headers throw SipHeaderError once code broke them', () => {
    const req = parseRequest(OPTIONS);
    req.setHeader('From', 'garbage <');
    assert.throws(
      () => req.from(),
      (err: unknown) => err instanceof SipHeaderError && err.error.code === 'bad-from',
    );
    req.removeHeader('CSeq');
    assert.throws(
      () => req.cseq(),
      (err: unknown) => err instanceof SipHeaderError && err.error.code === 'missing-header',
    );
    req.addHeader('Call-ID', 'second');
    assert.throws(
      () => req.callId,
      (err: unknown) => err instanceof SipHeaderError && err.error.code === 'duplicate-header',
    );
  });

  test('validate() on a message built by code', () => {
    const req = new SipRequest('OPTIONS', 'sip:x@example.com');
    assert.equal(req.validate()?.code, 'missing-header');
    for (const [name, value] of [
      ['Via', 'SIP/2.0/UDP h;branch=z9hG4bK1'],
      ['From', '<sip:a@b>;tag=1'],
      ['To', '<sip:x@example.com>'],
      ['Call-ID', 'c1'],
      ['CSeq', '1 OPTIONS'],
    ] as const) {
      req.addHeader(name, value);
    }
    assert.equal(req.validate(), undefined);
    assert.equal(req.contentLength, 0);
    req.body = Buffer.from('abc');
    assert.equal(req.contentLength, 3);
  });
});

describe('round trip through modification', () => {
  test('pop top Via and add Record-Route first, everything else untouched', () => {
    const res = parse(OK_200);
    res.removeFirstHeaderValue('Via');
    const out = serializeMessage(res).toString();
    assert.equal(out, OK_200.replace(/^Via: SIP\/2.0\/TLS proxy.*\r\n/m, ''));

    const req = parseRequest(INVITE);
    req.addHeader('Record-Route', '<sip:p2.example.com;lr>', { first: true });
    assert.equal(
      serializeMessage(req).toString(),
      INVITE.replace('Record-Route:', 'Record-Route: <sip:p2.example.com;lr>\r\nRecord-Route:'),
    );
  });

  test('a serialized message parses back to the same values', () => {
    const req = parseRequest(INVITE);
    req.setHeader('Max-Forwards', '68');
    req.addHeader('Via', 'SIP/2.0/UDP 198.51.100.1;branch=z9hG4bKp', { first: true });
    const again = parseMessage(serializeMessage(req));
    assert.ok(again.ok && again.message.isRequest);
    assert.equal(again.message.maxForwards(), 68);
    assert.equal(again.message.vias().length, 3);
    assert.deepEqual(again.message.body, req.body);
  });
});
