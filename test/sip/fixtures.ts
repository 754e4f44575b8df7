// Real-world-looking SIP messages shared by the tests and the benchmark.

/** Joins lines with CRLF; the empty string in the list is the line that ends the headers. */
export function crlf(lines: string[]): string {
  return lines.join('\r\n');
}

export const SDP = crlf([
  'v=0',
  'o=alice 2890844526 2890844526 IN IP4 192.0.2.101',
  's=-',
  'c=IN IP4 192.0.2.101',
  't=0 0',
  'm=audio 49172 RTP/AVP 0 8 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=sendrecv',
  '',
]);

export const INVITE = crlf([
  'INVITE sip:bob@biloxi.example.com SIP/2.0',
  'Via: SIP/2.0/TLS proxy.atlanta.example.com:5061;branch=z9hG4bK74b43',
  'Via: SIP/2.0/TLS 192.0.2.101:5061;branch=z9hG4bKnashds8;received=192.0.2.101;rport=50432',
  'Record-Route: <sip:proxy.atlanta.example.com;transport=tls;lr>',
  'Max-Forwards: 69',
  'To: Bob <sip:bob@biloxi.example.com>',
  'From: "Alice Liddell" <sip:alice@atlanta.example.com>;tag=9fxced76sl',
  'Call-ID: 3848276298220188511@atlanta.example.com',
  'CSeq: 314159 INVITE',
  'Contact: <sips:alice@192.0.2.101:5061;transport=tls>',
  'Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY',
  'Supported: replaces, timer',
  'User-Agent: ExamplePhone/1.2.3',
  'Content-Type: application/sdp',
  `Content-Length: ${Buffer.byteLength(SDP)}`,
  '',
  SDP,
]);

export const OK_200 = crlf([
  'SIP/2.0 200 OK',
  'Via: SIP/2.0/TLS proxy.atlanta.example.com:5061;branch=z9hG4bK74b43',
  'Via: SIP/2.0/TLS 192.0.2.101:5061;branch=z9hG4bKnashds8;received=192.0.2.101;rport=50432',
  'Record-Route: <sip:proxy.atlanta.example.com;transport=tls;lr>',
  'To: Bob <sip:bob@biloxi.example.com>;tag=314159',
  'From: "Alice Liddell" <sip:alice@atlanta.example.com>;tag=9fxced76sl',
  'Call-ID: 3848276298220188511@atlanta.example.com',
  'CSeq: 314159 INVITE',
  'Contact: <sips:bob@192.0.2.4:5061;transport=tls>',
  'Content-Length: 0',
  '',
  '',
]);

export const REGISTER = crlf([
  'REGISTER sip:registrar.biloxi.example.com SIP/2.0',
  'Via: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bKnashds7;rport',
  'Max-Forwards: 70',
  'To: Bob <sip:bob@biloxi.example.com>',
  'From: Bob <sip:bob@biloxi.example.com>;tag=456248',
  'Call-ID: 843817637684230@998sdasdh09',
  'CSeq: 1826 REGISTER',
  'Contact: <sip:bob@192.0.2.4>;expires=3600;+sip.instance="<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"',
  'Expires: 7200',
  'Content-Length: 0',
  '',
  '',
]);

export const OPTIONS = crlf([
  'OPTIONS sip:carol@chicago.example.com SIP/2.0',
  'Via: SIP/2.0/TCP [2001:db8::10]:5070;branch=z9hG4bKhjhs8ass877',
  'Max-Forwards: 70',
  'To: <sip:carol@chicago.example.com>',
  'From: Alice <sip:alice@atlanta.example.com>;tag=1928301774',
  'Call-ID: a84b4c76e66710',
  'CSeq: 63104 OPTIONS',
  'Accept: application/sdp',
  'Content-Length: 0',
  '',
  '',
]);

/** Minimal headers for a request line; `extra` lines go before Content-Length. */
export function request(startLine: string, extra: string[] = [], body = ''): string {
  const method = startLine.split(' ')[0] ?? 'OPTIONS';
  return crlf([
    startLine,
    'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-test-1',
    'From: <sip:a@example.com>;tag=a1',
    'To: <sip:b@example.com>',
    'Call-ID: test-call-1',
    `CSeq: 1 ${method}`,
    'Max-Forwards: 70',
    ...extra,
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ]);
}
