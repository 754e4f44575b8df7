import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage, type ParseResult } from '../../src/sip/parser.js';
import { DEFAULT_SIP_LIMITS, type SipLimits } from '../../src/sip/limits.js';
import {
  serializeMessage,
  type SipMessage,
  type SipRequest,
  type SipResponse,
} from '../../src/sip/message.js';
import type { ParseErrorCode } from '../../src/sip/errors.js';
import type { SipUri } from '../../src/sip/uri.js';
import { INVITE, OK_200, OPTIONS, REGISTER, SDP, crlf, request } from './fixtures.js';

function parse(text: string | Buffer, options: { stream?: boolean; limits?: SipLimits } = {}): SipMessage {
  const result = parseMessage(typeof text === 'string' ? Buffer.from(text) : text, options.limits, options);
  assert.ok(result.ok, result.ok ? '' : `${result.error.code}: ${result.error.reason}`);
  return result.message;
}

function parseRequest(
  text: string | Buffer,
  options: { stream?: boolean; bodyStart?: number | undefined } = {},
): SipRequest {
  const msg = parse(text, options);
  assert.ok(msg.isRequest);
  return msg;
}

function failure(
  text: string | Buffer,
  code: ParseErrorCode,
  options: { stream?: boolean; limits?: SipLimits } = {},
): Extract<ParseResult, { ok: false }> {
  const result = parseMessage(typeof text === 'string' ? Buffer.from(text) : text, options.limits, options);
  assert.equal(result.ok, false, `expected ${code}`);
  assert.ok(!result.ok);
  assert.equal(result.error.code, code, result.error.reason);
  assert.ok(result.error.reason.length > 0);
  return result;
}

describe('parseMessage: typical messages', () => {
  test('INVITE with SDP', () => {
    const req = parseRequest(INVITE);
    assert.equal(req.method, 'INVITE');
    assert.equal(req.uri, 'sip:bob@biloxi.example.com');
    assert.equal((req.requestUri as SipUri).user, 'bob');
    assert.equal(req.version, 'SIP/2.0');
    assert.equal(req.vias().length, 2);
    assert.equal(req.topVia().host, 'proxy.atlanta.example.com');
    assert.equal(req.topVia().branch, 'z9hG4bK74b43');
    assert.equal(req.vias()[1]?.rport, 50432);
    assert.equal(req.from().displayName, 'Alice Liddell');
    assert.equal(req.from().tag, '9fxced76sl');
    assert.equal(req.to().tag, undefined);
    assert.equal(req.callId, '3848276298220188511@atlanta.example.com');
    assert.deepEqual(req.cseq(), { seq: 314159, method: 'INVITE' });
    assert.equal(req.maxForwards(), 69);
    const contacts = req.contacts();
    assert.ok(contacts.ok && contacts.value !== '*');
    assert.equal(contacts.value[0]?.uri.kind, 'sip');
    const rr = req.recordRoutes();
    assert.ok(rr.ok);
    assert.equal((rr.value[0]?.uri as SipUri).params.has('lr'), true);
    assert.deepEqual(req.routes(), { ok: true, value: [] });
    assert.equal(req.body.toString(), SDP);
    assert.equal(req.contentLength, Buffer.byteLength(SDP));
    assert.deepEqual(req.getHeaders('Allow'), [
      'INVITE',
      'ACK',
      'CANCEL',
      'OPTIONS',
      'BYE',
      'REFER',
      'NOTIFY',
    ]);
  });

  test('200 OK response', () => {
    const res = parse(OK_200) as SipResponse;
    assert.equal(res.isRequest, false);
    assert.equal(res.status, 200);
    assert.equal(res.reason, 'OK');
    assert.equal(res.to().tag, '314159');
    assert.equal(res.vias().length, 2);
    assert.equal(res.body.length, 0);
  });

  test('REGISTER with an RFC 5626 Contact', () => {
    const req = parseRequest(REGISTER);
    const contacts = req.contacts();
    assert.ok(contacts.ok && contacts.value !== '*');
    assert.equal(contacts.value[0]?.params.get('expires'), '3600');
    assert.equal(
      contacts.value[0]?.params.get('+sip.instance'),
      '"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"',
    );
    assert.equal(req.topVia().rport, null);
  });

  test('OPTIONS over an IPv6 Via', () => {
    const req = parseRequest(OPTIONS);
    assert.equal(req.topVia().host, '2001:db8::10');
    assert.equal(req.topVia().port, 5070);
    assert.equal(req.topVia().transport, 'TCP');
  });

  test('the body is a slice of the input, not a copy', () => {
    const data = Buffer.from(INVITE);
    const req = parseRequest(data);
    assert.equal(req.body.buffer, data.buffer);
    assert.equal(req.body.byteOffset, data.byteOffset + data.length - Buffer.byteLength(SDP));
  });

  test('a body start given by the caller is used; an implausible one is ignored', () => {
    const data = Buffer.from(INVITE);
    const bodyStart = data.length - Buffer.byteLength(SDP);
    for (const hint of [bodyStart, undefined, 0, 5, data.length + 1]) {
      const req = parseRequest(data, { stream: true, bodyStart: hint });
      assert.equal(req.body.byteOffset, data.byteOffset + bodyStart, `hint ${hint}`);
      assert.equal(req.body.toString(), SDP);
    }
  });

  test('a response without reason phrase, and one with a UTF-8 reason', () => {
    const plain = crlf(OK_200.split('\r\n').map((l, i) => (i === 0 ? 'SIP/2.0 180' : l)));
    assert.equal((parse(plain) as SipResponse).reason, '');
    const utf8 = OK_200.replace('SIP/2.0 200 OK', 'SIP/2.0 200 Très bien ✓');
    assert.equal((parse(utf8) as SipResponse).reason, 'Très bien ✓');
  });
});

describe('parseMessage: lexical leniency', () => {
  test('lone-LF line endings, and a mix of LF and CRLF', () => {
    const lf = parseRequest(
      INVITE.replaceAll('\r\n', '\n').replace(
        /Content-Length: \d+/,
        `Content-Length: ${Buffer.byteLength(SDP.replaceAll('\r\n', '\n'))}`,
      ),
    );
    assert.equal(lf.callId, '3848276298220188511@atlanta.example.com');
    assert.equal(lf.body.toString(), SDP.replaceAll('\r\n', '\n'));
    const mixed = OPTIONS.replace('Max-Forwards: 70\r\n', 'Max-Forwards: 70\n').replace('\r\n\r\n', '\n\r\n');
    assert.equal(parseRequest(mixed).maxForwards(), 70);
  });

  test('leading CRLFs before the start line are ignored', () => {
    assert.equal(parseRequest(`\r\n\r\n\n${OPTIONS}`).method, 'OPTIONS');
  });

  test('folded header lines are unfolded into one value', () => {
    const req = parseRequest(
      request('OPTIONS sip:x@example.com SIP/2.0', [
        "Subject: I know you're there,",
        '\tpull up the chair',
        '   and sit down',
        'X-Empty-Fold:',
        ' ',
      ]),
    );
    assert.equal(req.getHeader('Subject'), "I know you're there, pull up the chair and sit down");
    assert.equal(req.getHeader('X-Empty-Fold'), '');
  });

  test('whitespace around the colon and empty values', () => {
    const req = parseRequest(
      request('OPTIONS sip:x@example.com SIP/2.0', [
        'Subject   :   hello  ',
        'X-Tabbed\t:\tvalue',
        'X-Empty:',
        'X-Blank:    ',
      ]),
    );
    assert.equal(req.getHeader('subject'), 'hello');
    assert.equal(req.getHeader('x-tabbed'), 'value');
    assert.equal(req.getHeader('x-empty'), '');
    assert.equal(req.getHeader('x-blank'), '');
    assert.equal(req.hasHeader('X-Empty'), true);
  });

  test('compact header forms are equivalent to the full names', () => {
    const text = crlf([
      'BYE sip:bob@192.0.2.4 SIP/2.0',
      'v: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKnashds9',
      'f: <sip:alice@example.com>;tag=abc',
      't: <sip:bob@example.com>;tag=def',
      'i: compact-1@192.0.2.1',
      'CSeq: 2 BYE',
      'm: <sip:alice@192.0.2.1>',
      'k: timer',
      's: bye now',
      'c: text/plain',
      'l: 2',
      '',
      'hi',
    ]);
    const req = parseRequest(text, { stream: true });
    assert.equal(req.topVia().branch, 'z9hG4bKnashds9');
    assert.equal(req.from().tag, 'abc');
    assert.equal(req.to().tag, 'def');
    assert.equal(req.callId, 'compact-1@192.0.2.1');
    assert.equal(req.getHeader('Supported'), 'timer');
    assert.equal(req.getHeader('SUBJECT'), 'bye now');
    assert.equal(req.getHeader('Content-Type'), 'text/plain');
    assert.equal(req.body.toString(), 'hi');
    assert.equal(req.getHeader('v'), 'SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKnashds9');
  });

  test('multiple values in one line and across repeated lines keep their order', () => {
    const req = parseRequest(
      request('INVITE sip:x@example.com SIP/2.0', [
        'Via: SIP/2.0/UDP b.example.com;branch=z9hG4bK2, SIP/2.0/UDP c.example.com;branch=z9hG4bK3',
        'Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>',
        'Route: <sip:p3.example.com;lr>',
      ]),
    );
    assert.deepEqual(
      req.vias().map((v) => v.host),
      ['192.0.2.1', 'b.example.com', 'c.example.com'],
    );
    const routes = req.routes();
    assert.ok(routes.ok);
    assert.deepEqual(
      routes.value.map((r) => (r.uri as SipUri).host),
      ['p1.example.com', 'p2.example.com', 'p3.example.com'],
    );
  });

  test('sip/2.0 in lower case is accepted and normalized', () => {
    const req = parseRequest(OPTIONS.replace(' SIP/2.0\r\n', ' sip/2.0\r\n'));
    assert.equal(req.version, 'SIP/2.0');
  });

  test('header blocks that are not UTF-8 are kept byte for byte', () => {
    // latin1 turns each character into one byte: 0xe7 then 'o' is not valid UTF-8.
    const data = Buffer.from(
      request('OPTIONS sip:x@example.com SIP/2.0', ['X-Latin1: Fran\u00e7ois\u00ff']),
      'latin1',
    );
    const req = parseRequest(data);
    assert.equal(req.rawEncoding, 'latin1');
    assert.equal(req.getHeader('X-Latin1'), 'Fran\u00e7ois\u00ff');
    assert.deepEqual(serializeMessage(req), data);
  });
});

describe('parseMessage: RFC 4475-style torture messages (own equivalents)', () => {
  test('wsinv: whitespace, folding, odd case and compact forms everywhere', () => {
    const body = crlf([
      'v=0',
      'o=mhandley 29739 7272939 IN IP4 192.0.2.3',
      's=-',
      'c=IN IP4 192.0.2.4',
      't=0 0',
      'm=audio 49217 RTP/AVP 0 12',
      '',
    ]);
    const text = crlf([
      'INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0',
      'TO :',
      ' sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n',
      'from   : "J Rosenberg \\\\\\""       <sip:jdrosen@example.com>',
      '  ;',
      '  tag = 98asjd8',
      'MaX-fOrWaRdS: 0068',
      'Call-ID: wsinv.ndaksdj@192.0.2.1',
      `Content-Length   : ${Buffer.byteLength(body)}`,
      'cseq: 0009',
      '  INVITE',
      'Via  : SIP  /   2.0',
      ' /UDP',
      '    192.0.2.2;branch=390skdjuw',
      's :',
      'NewFangledHeader:   newfangled value',
      ' continued newfangled value',
      'UnknownHeaderWithUnusualValue: ;;,,;;,;',
      'Content-Type: application/sdp',
      'Route:',
      ' <sip:services.example.com;lr;unknownwith=value;unknown-no-value>',
      'v:  SIP  / 2.0  / TCP     spindle.example.com   ;',
      '  branch  =   z9hG4bK9ikj8  ,',
      ' SIP  /    2.0   / UDP  192.168.255.111   ; branch=',
      ' z9hG4bK30239',
      'm:"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =',
      '      newvalue ;',
      '  secondparam ; q = 0.33',
      '',
      body,
    ]);
    const req = parseRequest(text);
    assert.equal(req.to().tag, '1918181833n');
    assert.equal(req.from().displayName, 'J Rosenberg \\"');
    assert.equal(req.from().tag, '98asjd8');
    assert.equal(req.maxForwards(), 68);
    assert.deepEqual(req.cseq(), { seq: 9, method: 'INVITE' });
    assert.deepEqual(
      req.vias().map((v) => [v.transport, v.host, v.branch]),
      [
        ['UDP', '192.0.2.2', '390skdjuw'],
        ['TCP', 'spindle.example.com', 'z9hG4bK9ikj8'],
        ['UDP', '192.168.255.111', 'z9hG4bK30239'],
      ],
    );
    assert.equal(req.getHeader('NewFangledHeader'), 'newfangled value continued newfangled value');
    assert.equal(req.getHeader('UnknownHeaderWithUnusualValue'), ';;,,;;,;');
    assert.equal(req.getHeader('Subject'), '');
    const contacts = req.contacts();
    assert.ok(contacts.ok && contacts.value !== '*');
    assert.equal(contacts.value[0]?.displayName, 'Quoted string ""');
    assert.equal(contacts.value[0]?.params.get('q'), '0.33');
    assert.equal(contacts.value[0]?.params.get('secondparam'), null);
    assert.equal(req.body.toString(), body);
  });

  test('intmeth: unusual but legal method and Request-URI characters', () => {
    const method = "!interesting-Method0123456789_*+`.%indeed'~";
    const uri =
      "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com";
    const req = parseRequest(request(`${method} ${uri} SIP/2.0`));
    assert.equal(req.method, method);
    const ruri = req.requestUri as SipUri;
    assert.equal(ruri.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
    assert.equal(ruri.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
    assert.equal(ruri.host, 'example.com');
  });

  test('esc01 / semiuri: escaped and semicolon-laden user parts', () => {
    const req = parseRequest(
      request('INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0', [
        'Contact: <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>',
      ]),
    );
    assert.equal((req.requestUri as SipUri).user, 'sips:user@example.com');
    const contacts = req.contacts();
    assert.ok(contacts.ok && contacts.value !== '*');
    const contact = contacts.value[0]?.uri as SipUri;
    assert.equal(contact.user, 'caller');
    assert.equal(contact.params.get('lr'), null);
    assert.equal(contact.params.get('name'), 'value%41');
    assert.equal(
      (parseRequest(request('OPTIONS sip:user;par=u%40example.net@example.com SIP/2.0')).requestUri as SipUri)
        .user,
      'user;par=u@example.net',
    );
  });

  test('unknown URI schemes are parsed opaquely for the router to answer 416', () => {
    const req = parseRequest(
      request('OPTIONS soap.beep://192.0.2.103:3002 SIP/2.0', [
        'Contact: <nobodyknowsthisscheme:totallyopaquecontent>',
      ]),
    );
    assert.deepEqual(req.requestUri, { kind: 'other', scheme: 'soap.beep', opaque: '//192.0.2.103:3002' });
  });

  test('tel: Request-URI', () => {
    const req = parseRequest(request('INVITE tel:+1-201-555-0123;phone-context=example.com SIP/2.0'));
    assert.equal(req.requestUri.kind, 'tel');
  });

  test('IPv6 in the Request-URI, Via received and Route', () => {
    const req = parseRequest(
      request('OPTIONS sip:[2001:db8::10]:5070 SIP/2.0', [
        'Via: SIP/2.0/UDP [2001:db8::9]:5060;branch=z9hG4bK2;received=2001:db8::9',
        'Route: <sip:[2001:db8::1];lr>',
      ]),
    );
    assert.equal((req.requestUri as SipUri).host, '2001:db8::10');
    assert.equal(req.vias()[1]?.received, '2001:db8::9');
    const routes = req.routes();
    assert.ok(routes.ok);
    assert.equal((routes.value[0]?.uri as SipUri).hostKind, 'ipv6');
  });

  test('longreq: long multi-value Via and Route headers', () => {
    const vias = Array.from(
      { length: 60 },
      (_, i) => `SIP/2.0/TCP proxy${i}.example.com:5060;branch=z9hG4bK${'x'.repeat(40)}${i}`,
    );
    const routes = Array.from({ length: 30 }, (_, i) => `<sip:route${i}.example.com;lr>`);
    const req = parseRequest(
      request('INVITE sip:x@example.com SIP/2.0', [
        `Via: ${vias.slice(0, 30).join(', ')}`,
        `Via: ${vias.slice(30).join(',')}`,
        `Route: ${routes.join(',\r\n ')}`,
      ]),
    );
    assert.equal(req.vias().length, 61);
    assert.equal(req.vias()[60]?.host, 'proxy59.example.com');
    const parsed = req.routes();
    assert.ok(parsed.ok);
    assert.equal(parsed.value.length, 30);
  });

  test('dblreq: bytes after Content-Length in a datagram are discarded', () => {
    const req = parseRequest(OPTIONS + OPTIONS);
    assert.equal(req.body.length, 0);
    assert.equal(req.method, 'OPTIONS');
  });

  test('zeromf: Max-Forwards 0 parses (the router answers 483)', () => {
    assert.equal(parseRequest(OPTIONS.replace('Max-Forwards: 70', 'Max-Forwards: 0')).maxForwards(), 0);
  });

  test('Max-Forwards may be absent', () => {
    assert.equal(parseRequest(OPTIONS.replace('Max-Forwards: 70\r\n', '')).maxForwards(), undefined);
  });

  test('NUL bytes in the body are fine', () => {
    const req = parseRequest(
      request(
        'MESSAGE sip:x@example.com SIP/2.0',
        ['Content-Type: application/octet-stream'],
        '\u0000\u0001\u0002',
      ),
    );
    assert.deepEqual([...req.body], [0, 1, 2]);
  });
});

describe('parseMessage: errors', () => {
  test('empty input and input of only CRLFs', () => {
    failure('', 'empty');
    failure('\r\n\r\n\n', 'empty');
  });

  test('garbage start lines', () => {
    failure('hello world\r\n\r\n', 'bad-start-line');
    failure('GET / HTTP/1.1\r\nHost: x\r\n\r\n', 'bad-start-line');
    failure('INVITE  sip:a@b SIP/2.0\r\n\r\n', 'bad-start-line');
    failure('INVITE sip:a@b  SIP/2.0\r\n\r\n', 'bad-start-line');
    failure('INVITE sip:a@b SIP/2.0 \r\n\r\n', 'bad-start-line');
    failure('INVITE sip:a@b\r\n\r\n', 'bad-start-line');
    failure('IN<VITE sip:a@b SIP/2.0\r\n\r\n', 'bad-start-line');
    failure('SIP/2.0 20 OK\r\n\r\n', 'bad-start-line');
    failure('SIP/2.0 099 Odd\r\n\r\n', 'bad-start-line');
    failure('SIP/2.0 700 Too High\r\n\r\n', 'bad-start-line');
    failure(' INVITE sip:a@b SIP/2.0\r\n\r\n', 'bad-start-line');
    failure('INVITE sip:a@b SIP/2.0', 'truncated');
    failure('\u0000\u0001\u0002\u0003', 'bad-start-line');
    failure('INVITE sip:a@b\u0000 SIP/2.0\r\n\r\n', 'bad-start-line');
  });

  test('another protocol version is reported separately (505), with what is needed to answer', () => {
    const result = failure(
      OPTIONS.replace(
        'OPTIONS sip:carol@chicago.example.com SIP/2.0',
        'OPTIONS sip:carol@chicago.example.com SIP/7.0',
      ),
      'bad-version',
    );
    assert.equal(result.replyable?.callId, 'a84b4c76e66710');
  });

  test('no empty line after the headers', () => {
    failure(OPTIONS.slice(0, OPTIONS.length - 2), 'truncated');
    failure(OPTIONS.slice(0, 100), 'truncated');
  });

  test('malformed header lines', () => {
    failure(request('OPTIONS sip:x@example.com SIP/2.0', ['this line has no colon']), 'bad-header');
    failure(request('OPTIONS sip:x@example.com SIP/2.0', ['Bad Name: x']), 'bad-header');
    failure(request('OPTIONS sip:x@example.com SIP/2.0', [': no name']), 'bad-header');
    failure(request('OPTIONS sip:x@example.com SIP/2.0', ['X-Ok: fine', 'X-Nul: a\u0000b']), 'bad-header');
    failure(request('OPTIONS sip:x@example.com SIP/2.0', ['X-Cr: a\rb']), 'bad-header');
    failure(request('OPTIONS sip:x@example.com SIP/2.0', ['X-Del: \u007f']), 'bad-header');
    failure(
      crlf([
        'OPTIONS sip:x@example.com SIP/2.0',
        ' folded-first: x',
        ...request('OPTIONS sip:x@example.com SIP/2.0').split('\r\n').slice(1),
      ]),
      'bad-header',
    );
  });

  test('missing mandatory headers', () => {
    for (const [name, line] of [
      ['Via', /^Via:.*\r\n/m],
      ['From', /^From:.*\r\n/m],
      ['To', /^To:.*\r\n/m],
      ['Call-ID', /^Call-ID:.*\r\n/m],
      ['CSeq', /^CSeq:.*\r\n/m],
    ] as const) {
      const result = failure(OPTIONS.replace(line, ''), 'missing-header');
      assert.match(result.error.reason, new RegExp(name));
    }
    failure(OK_200.replace(/^Call-ID:.*\r\n/m, ''), 'missing-header');
  });

  test('single-valued headers repeated', () => {
    failure(
      OPTIONS.replace('Call-ID: a84b4c76e66710', 'Call-ID: a84b4c76e66710\r\ni: other'),
      'duplicate-header',
    );
    failure(
      OPTIONS.replace('CSeq: 63104 OPTIONS', 'CSeq: 63104 OPTIONS\r\nCSeq: 63105 OPTIONS'),
      'duplicate-header',
    );
    failure(OPTIONS.replace(/^To:.*$/m, '$&\r\nt: <sip:x@example.com>'), 'duplicate-header');
    failure(OPTIONS.replace('Max-Forwards: 70', 'Max-Forwards: 70\r\nMax-Forwards: 69'), 'duplicate-header');
    failure(OPTIONS.replace('Content-Length: 0', 'Content-Length: 0\r\nl: 0'), 'duplicate-header');
  });

  test('malformed mandatory headers', () => {
    failure(OPTIONS.replace(/^Via:.*$/m, 'Via: SIP/2.0/UDP'), 'bad-via');
    failure(OPTIONS.replace(/^Via:.*$/m, '$&, garbage'), 'bad-via');
    failure(OPTIONS.replace(/^From:.*$/m, 'From: <sip:alice@atlanta.example.com'), 'bad-from');
    failure(OPTIONS.replace(/^To:.*$/m, 'To: "Carol <sip:carol@chicago.example.com>'), 'bad-to');
    failure(OPTIONS.replace(/^Call-ID:.*$/m, 'Call-ID: two words'), 'bad-call-id');
    failure(OPTIONS.replace(/^Call-ID:.*$/m, 'Call-ID:'), 'bad-call-id');
    failure(OPTIONS.replace(/^CSeq:.*$/m, 'CSeq: 8589934592 OPTIONS'), 'bad-cseq');
    failure(OPTIONS.replace(/^CSeq:.*$/m, 'CSeq: OPTIONS'), 'bad-cseq');
    failure(OPTIONS.replace('Max-Forwards: 70', 'Max-Forwards: seventy'), 'bad-max-forwards');
    failure(
      OPTIONS.replace('OPTIONS sip:carol@chicago.example.com', 'OPTIONS sip:carol@chicago..example.com'),
      'bad-uri',
    );
    failure(OPTIONS.replace('OPTIONS sip:carol@chicago.example.com', 'OPTIONS sip:2001:db8::10'), 'bad-uri');
  });

  test('mismatch01: CSeq method differs from the request method', () => {
    const result = failure(OPTIONS.replace('CSeq: 63104 OPTIONS', 'CSeq: 63104 INVITE'), 'bad-cseq');
    assert.match(result.error.reason, /INVITE.*OPTIONS/);
  });

  test('Content-Length: negative, non-numeric, oversized, missing on a stream', () => {
    for (const value of ['-1', 'abc', '5 5', '+3', '1e2', '0x10', '']) {
      failure(OPTIONS.replace('Content-Length: 0', `Content-Length: ${value}`), 'bad-content-length');
    }
    const truncated = failure(OPTIONS.replace('Content-Length: 0', 'Content-Length: 5000'), 'truncated');
    assert.match(truncated.error.reason, /5000/);
    failure(
      OPTIONS.replace('Content-Length: 0', 'Content-Length: 99999999999999999999'),
      'bad-content-length',
    );
    failure(OPTIONS.replace('Content-Length: 0\r\n', ''), 'missing-content-length', { stream: true });
  });

  test('Content-Length missing on a datagram: the body is the rest of the packet', () => {
    const req = parseRequest(OPTIONS.replace('Content-Length: 0\r\n', '') + 'rest of packet');
    assert.equal(req.body.toString(), 'rest of packet');
  });

  test('limits: message size, header count, line length', () => {
    const limits = { ...DEFAULT_SIP_LIMITS, maxMessageSize: 300 };
    const big = failure(INVITE, 'too-large', { limits });
    assert.match(big.error.reason, /300/);
    failure(
      request(
        'OPTIONS sip:x@example.com SIP/2.0',
        Array.from({ length: 20 }, (_, i) => `X-H${i}: ${i}`),
      ),
      'too-many-headers',
      {
        limits: { ...DEFAULT_SIP_LIMITS, maxHeaders: 20 },
      },
    );
    failure(request('OPTIONS sip:x@example.com SIP/2.0', [`X-Long: ${'a'.repeat(200)}`]), 'line-too-long', {
      limits: { ...DEFAULT_SIP_LIMITS, maxLineLength: 100 },
    });
    failure(`OPTIONS sip:${'a'.repeat(200)}@example.com SIP/2.0\r\n\r\n`, 'line-too-long', {
      limits: { ...DEFAULT_SIP_LIMITS, maxLineLength: 100 },
    });
    // Exactly at the limits is fine.
    const exact = request('OPTIONS sip:x@example.com SIP/2.0', ['X-A: 1']);
    const longest = Math.max(...exact.split('\r\n').map((line) => line.length));
    parse(exact, {
      limits: { maxMessageSize: Buffer.byteLength(exact), maxHeaders: 8, maxLineLength: longest },
    });
    failure(exact, 'line-too-long', {
      limits: { maxMessageSize: Buffer.byteLength(exact), maxHeaders: 8, maxLineLength: longest - 1 },
    });
    failure(exact, 'too-many-headers', {
      limits: { maxMessageSize: Buffer.byteLength(exact), maxHeaders: 7, maxLineLength: longest },
    });
    failure(exact, 'too-large', {
      limits: { maxMessageSize: Buffer.byteLength(exact) - 1, maxHeaders: 8, maxLineLength: longest },
    });
  });
});

describe('parseMessage: replyable requests', () => {
  test('carry the raw Via lines, From, To, Call-ID and CSeq', () => {
    const text = request('INVITE sip:x@example.com SIP/2.0', [
      'Via: SIP/2.0/TCP b.example.com;branch=z9hG4bK2, SIP/2.0/TCP c;branch=z9hG4bK3',
    ]).replace(/Content-Length: \d+/, 'Content-Length: abc');
    const result = failure(text, 'bad-content-length');
    assert.deepEqual(result.replyable, {
      method: 'INVITE',
      via: [
        'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-test-1',
        'SIP/2.0/TCP b.example.com;branch=z9hG4bK2, SIP/2.0/TCP c;branch=z9hG4bK3',
      ],
      from: '<sip:a@example.com>;tag=a1',
      to: '<sip:b@example.com>',
      callId: 'test-call-1',
      cseq: '1 INVITE',
    });
  });

  test('lines with control characters are skipped, the first one reported', () => {
    const result = failure(
      request('OPTIONS sip:x@example.com SIP/2.0', ['X-A: a\u0000', 'X-B: b\rc', 'X-C: c']),
      'bad-header',
    );
    assert.match(result.error.reason, /header line 7\b/);
    assert.equal(result.replyable?.cseq, '1 OPTIONS');
  });

  test('are built despite bad lines elsewhere in the header', () => {
    const result = failure(
      request('OPTIONS sip:x@example.com SIP/2.0', ['no colon here', 'X-Z: ok']),
      'bad-header',
    );
    assert.equal(result.replyable?.callId, 'test-call-1');
    assert.ok(failure(OPTIONS.replace('CSeq: 63104 OPTIONS', 'CSeq: 63104 INVITE'), 'bad-cseq').replyable);
    assert.ok(
      failure(OPTIONS.replace('OPTIONS sip:carol@', 'OPTIONS sip:ca rol@'), 'bad-start-line').replyable ===
        undefined,
    );
  });

  test('are absent for ACK, responses, a missing header or an unusable top Via', () => {
    const badAck = request('ACK sip:x@example.com SIP/2.0').replace(
      /Content-Length: \d+/,
      'Content-Length: x',
    );
    assert.equal(failure(badAck, 'bad-content-length').replyable, undefined);
    assert.equal(
      failure(OK_200.replace('Content-Length: 0', 'Content-Length: x'), 'bad-content-length').replyable,
      undefined,
    );
    assert.equal(failure(OPTIONS.replace(/^From:.*\r\n/m, ''), 'missing-header').replyable, undefined);
    assert.equal(failure(OPTIONS.replace(/^Via:.*$/m, 'Via: SIP/2.0/UDP'), 'bad-via').replyable, undefined);
    assert.equal(failure('garbage\r\n\r\n', 'bad-start-line').replyable, undefined);
  });
});
