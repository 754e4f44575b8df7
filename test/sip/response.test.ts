import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage } from '../../src/sip/parser.js';
import { createParseErrorResponse, createResponse, defaultReasonPhrase } from '../../src/sip/response.js';
import { serializeMessage, type SipRequest } from '../../src/sip/message.js';
import { INVITE, OPTIONS, crlf } from './fixtures.js';

function parseRequest(text: string | Buffer): SipRequest {
  const result = parseMessage(typeof text === 'string' ? Buffer.from(text) : text);
  assert.ok(result.ok && result.message.isRequest);
  return result.message;
}

describe('createResponse', () => {
  test('copies Via lines in order, From, To, Call-ID, CSeq and ends with Content-Length: 0', () => {
    const req = parseRequest(INVITE);
    const res = createResponse(req, 486, undefined, [], 'to-tag-1');
    assert.equal(res.status, 486);
    assert.equal(res.reason, 'Busy Here');
    assert.equal(
      serializeMessage(res).toString(),
      crlf([
        'SIP/2.0 486 Busy Here',
        'Via: SIP/2.0/TLS proxy.atlanta.example.com:5061;branch=z9hG4bK74b43',
        'Via: SIP/2.0/TLS 192.0.2.101:5061;branch=z9hG4bKnashds8;received=192.0.2.101;rport=50432',
        'To: Bob <sip:bob@biloxi.example.com>;tag=to-tag-1',
        'From: "Alice Liddell" <sip:alice@atlanta.example.com>;tag=9fxced76sl',
        'Call-ID: 3848276298220188511@atlanta.example.com',
        'CSeq: 314159 INVITE',
        'Content-Length: 0',
        '',
        '',
      ]),
    );
    assert.equal(res.to().tag, 'to-tag-1');
    assert.equal(res.topVia().branch, 'z9hG4bK74b43');
  });

  test('100 Trying gets no To tag; other codes get a random one when none is given', () => {
    const req = parseRequest(INVITE);
    assert.equal(createResponse(req, 100).to().tag, undefined);
    const a = createResponse(req, 180).to().tag;
    const b = createResponse(req, 180).to().tag;
    assert.ok(a && b && a !== b);
    assert.match(a, /^[0-9a-f]{16}$/);
  });

  test('an existing To tag is kept', () => {
    const req = parseRequest(
      OPTIONS.replace(
        'To: <sip:carol@chicago.example.com>',
        'To: <sip:carol@chicago.example.com>;tag=existing',
      ),
    );
    assert.equal(createResponse(req, 200, undefined, [], 'ignored').to().tag, 'existing');
  });

  test('compact header names of the request are copied as received', () => {
    const req = parseRequest(OPTIONS.replace('Via:', 'v:').replace('Call-ID:', 'i:'));
    const out = serializeMessage(createResponse(req, 200, 'OK', [], 't')).toString();
    assert.ok(out.includes('\r\nv: SIP/2.0/TCP [2001:db8::10]:5070;branch=z9hG4bKhjhs8ass877\r\n'));
    assert.ok(out.includes('\r\ni: a84b4c76e66710\r\n'));
  });

  test('custom reason and extra headers, in order, before Content-Length', () => {
    const req = parseRequest(OPTIONS);
    const res = createResponse(req, 200, 'Fine', [
      ['Allow', 'INVITE, ACK, OPTIONS'],
      ['Server', 'sipsd'],
    ]);
    const lines = serializeMessage(res).toString().split('\r\n');
    assert.equal(lines[0], 'SIP/2.0 200 Fine');
    assert.deepEqual(lines.slice(-5, -2), [
      'Allow: INVITE, ACK, OPTIONS',
      'Server: sipsd',
      'Content-Length: 0',
    ]);
  });

  test('a response built from a request parses back', () => {
    const res = createResponse(parseRequest(INVITE), 200);
    const again = parseMessage(serializeMessage(res));
    assert.ok(again.ok && !again.message.isRequest);
    assert.equal(again.message.status, 200);
    assert.equal(again.message.cseq().method, 'INVITE');
  });
});

describe('createParseErrorResponse', () => {
  function rejected(text: string) {
    const result = parseMessage(Buffer.from(text));
    assert.ok(!result.ok && result.replyable);
    return result;
  }

  test('400 with the cause in a Warning header', () => {
    const result = rejected(OPTIONS.replace('Content-Length: 0', 'Content-Length: "zero"'));
    assert.ok(!result.ok && result.replyable);
    const res = createParseErrorResponse(result.replyable, result.error);
    assert.equal(res.status, 400);
    assert.equal(res.reason, 'Bad Request');
    const warning = res.getHeader('Warning') ?? '';
    assert.ok(warning.startsWith('399 sipsd "Malformed Content-Length '));
    // The quoted warn-text carries no quote of its own.
    assert.equal(warning.slice(warning.indexOf('"') + 1, -1).includes('"'), false);
    assert.equal(res.callId, 'a84b4c76e66710');
    assert.equal(res.topVia().host, '2001:db8::10');
    assert.ok(res.to().tag);
    const again = parseMessage(serializeMessage(res));
    assert.ok(again.ok);
  });

  test('505 for an unsupported version, agent configurable', () => {
    const result = rejected(OPTIONS.replace(' SIP/2.0\r\n', ' SIP/3.0\r\n'));
    assert.ok(!result.ok && result.replyable);
    const res = createParseErrorResponse(result.replyable, result.error, 'edge.example.com');
    assert.equal(res.status, 505);
    assert.equal(res.reason, 'Version Not Supported');
    assert.match(res.getHeader('Warning') ?? '', /^399 edge\.example\.com "/);
  });
});

describe('defaultReasonPhrase', () => {
  test('registered phrases and class names for the rest', () => {
    assert.equal(defaultReasonPhrase(100), 'Trying');
    assert.equal(defaultReasonPhrase(200), 'OK');
    assert.equal(defaultReasonPhrase(404), 'Not Found');
    assert.equal(defaultReasonPhrase(483), 'Too Many Hops');
    assert.equal(defaultReasonPhrase(503), 'Service Unavailable');
    assert.equal(defaultReasonPhrase(603), 'Decline');
    assert.equal(defaultReasonPhrase(199), 'Early Dialog Terminated');
    assert.equal(defaultReasonPhrase(299), 'Successful');
    assert.equal(defaultReasonPhrase(499), 'Request Failure');
    assert.equal(defaultReasonPhrase(999), 'Unknown');
  });
});
