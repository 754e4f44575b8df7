import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatListen, parseListen } from '../../src/transport/listen-spec.js';

test('listen entries in the OpenSIPS form, with protocol default ports', () => {
  assert.deepEqual(parseListen('udp:127.0.0.1:5070', 5061), {
    ok: true,
    spec: { proto: 'udp', host: '127.0.0.1', port: 5070 },
  });
  assert.deepEqual(parseListen('TCP:10.0.0.1', 5061), {
    ok: true,
    spec: { proto: 'tcp', host: '10.0.0.1', port: 5060 },
  });
  assert.deepEqual(parseListen('tls:[::1]', 5062), {
    ok: true,
    spec: { proto: 'tls', host: '::1', port: 5062 },
  });
  assert.deepEqual(parseListen('tls:[2001:db8::1]:5061', 5061), {
    ok: true,
    spec: { proto: 'tls', host: '2001:db8::1', port: 5061 },
  });
});

test('bad listen entries are refused with a reason that says how to fix them', () => {
  const cases: Array<[string, RegExp]> = [
    ['sctp:127.0.0.1:5060', /expected proto:ip\[:port\]/],
    ['udp:localhost:5060', /not an IP address/],
    ['udp:::1:5060', /expected proto|brackets/],
    ['udp:127.0.0.1:70000', /out of range/],
    ['127.0.0.1:5060', /expected proto/],
  ];
  for (const [entry, reason] of cases) {
    const r = parseListen(entry, 5061);
    assert.equal(r.ok, false, entry);
    if (!r.ok) assert.match(r.reason, reason, entry);
  }
});

test('formatListen writes IPv6 in brackets', () => {
  assert.equal(formatListen({ proto: 'tls', host: '::1', port: 5061 }), 'tls:[::1]:5061');
  assert.equal(formatListen({ proto: 'udp', host: '127.0.0.1', port: 5060 }), 'udp:127.0.0.1:5060');
});
