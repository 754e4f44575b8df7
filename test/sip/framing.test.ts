import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamFramer, type FrameEvent, type StreamFramerOptions } from '../../src/sip/framing.js';
import { DEFAULT_SIP_LIMITS } from '../../src/sip/limits.js';
import { parseMessage } from '../../src/sip/parser.js';
import { findBodyStart } from '../../src/sip/header-end.js';
import { INVITE, OK_200, OPTIONS, crlf } from './fixtures.js';

function framer(options: Partial<StreamFramerOptions> = {}): StreamFramer {
  return new StreamFramer({
    limits: DEFAULT_SIP_LIMITS,
    maxChunks: 0,
    crlfPingPong: true,
    crlfDrop: true,
    ...options,
  });
}

/** Pushes each chunk and returns all events, messages as strings for easy comparison. */
function feed(f: StreamFramer, chunks: Array<string | Buffer>): Array<string | FrameEvent> {
  const out: Array<string | FrameEvent> = [];
  for (const chunk of chunks) {
    for (const event of f.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)) {
      out.push(event.type === 'message' ? event.data.toString() : event);
    }
  }
  return out;
}

function splitAt(text: string, ...positions: number[]): Buffer[] {
  const data = Buffer.from(text);
  const bounds = [0, ...positions, data.length];
  return bounds.slice(1).map((end, i) => data.subarray(bounds[i], end));
}

function errorCode(events: Array<string | FrameEvent>): string | undefined {
  const last = events.at(-1);
  return typeof last === 'object' && last.type === 'error' ? last.error.code : undefined;
}

const PING = { type: 'ping' };
const KEEPALIVE = { type: 'keepalive' };

describe('StreamFramer: message boundaries', () => {
  test('one message in one read is emitted as a slice of that read', () => {
    const f = framer();
    const chunk = Buffer.from(INVITE);
    const events = f.push(chunk);
    assert.equal(events.length, 1);
    const [event] = events;
    assert.ok(event?.type === 'message');
    assert.equal(event.data.toString(), INVITE);
    assert.equal(event.data.buffer, chunk.buffer);
    assert.equal(f.hasPartial, false);
  });

  test('each message comes with where its body starts, however the stream is split', () => {
    const stream = INVITE + OPTIONS;
    for (let i = 1; i < stream.length; i += 7) {
      const f = framer();
      const messages = splitAt(stream, i).flatMap((chunk) => f.push(chunk));
      assert.equal(messages.length, 2, `split at ${i}`);
      for (const event of messages) {
        assert.ok(event.type === 'message');
        assert.equal(event.bodyStart, findBodyStart(event.data, 0, event.data.length), `split at ${i}`);
      }
    }
  });

  test('several messages in one read come out in order', () => {
    assert.deepEqual(feed(framer(), [INVITE + OK_200 + OPTIONS]), [INVITE, OK_200, OPTIONS]);
  });

  test('every split point of a two-message stream gives the same two messages', () => {
    const stream = INVITE + OPTIONS;
    const length = Buffer.byteLength(stream);
    for (let i = 0; i <= length; i++) {
      assert.deepEqual(feed(framer(), splitAt(stream, i)), [INVITE, OPTIONS], `split at ${i}`);
    }
  });

  test('every pair of split points (three reads) gives the same messages', () => {
    const stream = OPTIONS + OK_200;
    const length = Buffer.byteLength(stream);
    for (let i = 0; i <= length; i += 7) {
      for (let j = i; j <= length; j += 5) {
        assert.deepEqual(feed(framer(), splitAt(stream, i, j)), [OPTIONS, OK_200], `split at ${i}, ${j}`);
      }
    }
  });

  test('byte by byte, with pings in between', () => {
    const stream = `\r\n\r\n${INVITE}\r\n\r\n${OPTIONS}\r\n\r\n`;
    const bytes = [...Buffer.from(stream)].map((b) => Buffer.from([b]));
    assert.deepEqual(feed(framer(), bytes), [PING, INVITE, PING, OPTIONS, PING]);
  });

  test('hasPartial is true exactly while a message is incomplete', () => {
    const f = framer();
    f.push(Buffer.from(INVITE.slice(0, 10)));
    assert.equal(f.hasPartial, true);
    f.push(Buffer.from(INVITE.slice(10, -5)));
    assert.equal(f.hasPartial, true);
    f.push(Buffer.from(INVITE.slice(-5)));
    assert.equal(f.hasPartial, false);
    f.push(Buffer.from('\r\n'));
    assert.equal(f.hasPartial, false, 'keepalive bytes are not a partial message');
  });

  test('messages assembled from several reads are not altered by later reads', () => {
    const f = framer();
    const events = [
      ...f.push(Buffer.from(INVITE.slice(0, 50))),
      ...f.push(Buffer.from(INVITE.slice(50) + OPTIONS.slice(0, 30))),
    ];
    assert.equal(events.length, 1);
    const [first] = events;
    assert.ok(first?.type === 'message');
    f.push(Buffer.from(OPTIONS.slice(30)));
    assert.equal(first.data.toString(), INVITE);
  });

  test('the header block may end with LFLF, and the compact l: works', () => {
    const lf = crlf(['OPTIONS sip:a@b SIP/2.0', 'l: 3', '', 'abc']).replaceAll('\r\n', '\n');
    assert.deepEqual(feed(framer(), [lf + lf]), [lf, lf]);
    const upper = 'OPTIONS sip:a@b SIP/2.0\r\nCONTENT-LENGTH  :  2\r\n\r\nok';
    assert.deepEqual(feed(framer(), [upper]), [upper]);
  });

  test('framed messages parse as stream messages', () => {
    const events = framer().push(Buffer.from(INVITE + OK_200));
    for (const event of events) {
      assert.ok(event.type === 'message');
      assert.ok(parseMessage(event.data, DEFAULT_SIP_LIMITS, { stream: true }).ok);
    }
  });
});

describe('StreamFramer: CRLF keepalives (RFC 5626)', () => {
  test('CRLFCRLF between messages is a ping when ping-pong is on', () => {
    assert.deepEqual(feed(framer(), [`${OPTIONS}\r\n\r\n${OPTIONS}`]), [OPTIONS, PING, OPTIONS]);
    assert.deepEqual(feed(framer(), ['\r\n\r\n']), [PING]);
    assert.deepEqual(feed(framer(), ['\r\n\r\n\r\n\r\n']), [PING, PING]);
  });

  test('pings are consumed silently when ping-pong is off', () => {
    assert.deepEqual(feed(framer({ crlfPingPong: false }), [`\r\n\r\n${OPTIONS}\r\n\r\n`]), [OPTIONS]);
  });

  test('a ping split over reads at any point is still one ping', () => {
    for (const chunks of [
      ['\r\n', '\r\n'],
      ['\r', '\n\r\n'],
      ['\r\n\r', '\n'],
      ['\r', '\n', '\r', '\n'],
    ]) {
      assert.deepEqual(feed(framer(), chunks), [PING], JSON.stringify(chunks));
    }
  });

  test('a lone CRLF waits for what follows: nothing is emitted for it', () => {
    const f = framer();
    assert.deepEqual(feed(f, ['\r\n']), []);
    assert.deepEqual(feed(f, [OPTIONS]), [OPTIONS]);
  });

  test('CRLF then a message, and CRLFCRLFCRLF then a message', () => {
    assert.deepEqual(feed(framer(), ['\r\n', OPTIONS]), [OPTIONS]);
    assert.deepEqual(feed(framer(), [`\r\n\r\n\r\n${OPTIONS}`]), [PING, OPTIONS]);
    assert.deepEqual(feed(framer(), ['\r\n\r\n\r', `\n${OPTIONS}`]), [PING, OPTIONS]);
  });

  test('stray CR or LF bytes between messages are whitespace, never part of a message', () => {
    assert.deepEqual(feed(framer(), [`\n${OPTIONS}\r${OPTIONS}\r\n\n${OPTIONS}`]), [
      OPTIONS,
      OPTIONS,
      OPTIONS,
    ]);
    assert.deepEqual(feed(framer(), ['\r\n\r\r\n\r\n']), [PING]);
  });

  test('with crlfDrop off a lone CRLF is reported as a keepalive; with it on it is silent', () => {
    assert.deepEqual(feed(framer({ crlfDrop: false }), ['\r\n', OPTIONS]), [KEEPALIVE, OPTIONS]);
    assert.deepEqual(feed(framer({ crlfDrop: true }), ['\r\n', OPTIONS]), [OPTIONS]);
    // A CRLF split over two reads is still one keepalive.
    assert.deepEqual(feed(framer({ crlfDrop: false }), ['\r', '\n', OPTIONS]), [KEEPALIVE, OPTIONS]);
  });

  test('lone CRLF keepalives never count against the chunk limit, however many arrive', () => {
    for (const crlfDrop of [false, true]) {
      const f = framer({ crlfDrop, maxChunks: 1 });
      // Two lone CRLFs in a row form a ping, so a message sits between the keepalives.
      const reads = Array.from({ length: 50 }, () => ['\r\n', OPTIONS]).flat();
      const events = feed(f, reads);
      assert.equal(events.filter((e) => e === OPTIONS).length, 50, `crlfDrop ${crlfDrop}`);
      assert.equal(events.filter((e) => e !== OPTIONS).length, crlfDrop ? 0 : 50);
    }
  });

  test('pings do not count against the chunk limit', () => {
    const f = framer({ crlfDrop: false, maxChunks: 1 });
    assert.deepEqual(feed(f, ['\r\n\r\n', '\r\n\r\n', OPTIONS]), [PING, PING, OPTIONS]);
  });
});

describe('StreamFramer: limits', () => {
  test('a message in 5 reads with maxChunks 4 is an error; in 4 reads it is fine', () => {
    const five = splitAt(INVITE, 10, 100, 200, 300);
    const events = feed(framer({ maxChunks: 4 }), five);
    assert.equal(events.length, 1);
    assert.equal(errorCode(events), 'too-many-chunks');
    assert.deepEqual(feed(framer({ maxChunks: 4 }), splitAt(INVITE, 10, 100, 200)), [INVITE]);
  });

  test('the count restarts with each message; a read ending one message and starting the next counts for both', () => {
    const stream = OPTIONS + OPTIONS + OPTIONS;
    const cut = Buffer.byteLength(OPTIONS);
    // Reads: [msg1 start][msg1 end, msg2 start][msg2 end, msg3]: two reads per message at most.
    assert.deepEqual(feed(framer({ maxChunks: 2 }), splitAt(stream, cut - 10, 2 * cut - 10)), [
      OPTIONS,
      OPTIONS,
      OPTIONS,
    ]);
    assert.equal(
      errorCode(feed(framer({ maxChunks: 2 }), splitAt(stream, 50, cut + 20, cut + 40))),
      'too-many-chunks',
    );
  });

  test('after an error nothing more comes out', () => {
    const f = framer({ maxChunks: 1 });
    feed(f, [INVITE.slice(0, 20), INVITE.slice(20)]);
    assert.deepEqual(feed(f, [OPTIONS, '\r\n\r\n']), []);
    assert.equal(f.hasPartial, false);
  });

  test('missing, malformed or repeated Content-Length is an error', () => {
    assert.equal(
      errorCode(feed(framer(), [OPTIONS.replace('Content-Length: 0\r\n', '')])),
      'missing-content-length',
    );
    assert.equal(
      errorCode(feed(framer(), [OPTIONS.replace('Content-Length: 0', 'Content-Length: -4')])),
      'bad-content-length',
    );
    assert.equal(
      errorCode(feed(framer(), [OPTIONS.replace('Content-Length: 0', 'Content-Length: 4x')])),
      'bad-content-length',
    );
    assert.equal(
      errorCode(feed(framer(), [OPTIONS.replace('Content-Length: 0', 'Content-Length: 0\r\nl: 0')])),
      'duplicate-header',
    );
  });

  test('a header block over maxMessageSize without its empty line fails at once', () => {
    const limits = { ...DEFAULT_SIP_LIMITS, maxMessageSize: 1000 };
    const oneRead = feed(framer({ limits }), [`OPTIONS sip:a@b SIP/2.0\r\nX: ${'a'.repeat(1000)}`]);
    assert.equal(errorCode(oneRead), 'too-large');
    const f = framer({ limits });
    const events: Array<string | FrameEvent> = [];
    for (let i = 0; i < 200 && events.length === 0; i++)
      events.push(...feed(f, [i === 0 ? 'OPTIONS sip:a@b SIP/2.0\r\n' : 'X-Header: 0123456789\r\n']));
    assert.equal(errorCode(events), 'too-large');
  });

  test('a Content-Length that makes the message too large fails before the body arrives', () => {
    const limits = { ...DEFAULT_SIP_LIMITS, maxMessageSize: 1000 };
    const head = OPTIONS.replace('Content-Length: 0', 'Content-Length: 900');
    const events = feed(framer({ limits }), [head]);
    assert.equal(errorCode(events), 'too-large');
    assert.match((events[0] as Extract<FrameEvent, { type: 'error' }>).error.reason, /900/);
  });

  test('a message of exactly maxMessageSize passes, split or not', () => {
    const limits = { ...DEFAULT_SIP_LIMITS, maxMessageSize: Buffer.byteLength(INVITE) };
    assert.deepEqual(feed(framer({ limits }), [INVITE]), [INVITE]);
    assert.deepEqual(feed(framer({ limits }), splitAt(INVITE, 33, 400)), [INVITE]);
  });

  test('an empty read changes nothing', () => {
    const f = framer({ maxChunks: 1 });
    assert.deepEqual(feed(f, [OPTIONS.slice(0, 10), Buffer.alloc(0)]), []);
    assert.equal(f.hasPartial, true);
  });
});
