// URI equivalence on the examples of RFC 3261 §19.1.4, and the AoR forms scripts write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sameUri } from '../../../src/features/registrar/uri-match.js';
import { parseAor } from '../../../src/features/registrar/aor.js';

test('RFC 3261 §19.1.4: equivalent URIs', () => {
  const pairs: Array<[string, string]> = [
    ['sip:%61lice@atlanta.com;transport=TCP', 'sip:alice@AtLanTa.CoM;Transport=tcp'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com;newparam=5'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com;security=on'],
    ['sip:carol@chicago.com;newparam=5', 'sip:carol@chicago.com;security=on'],
    [
      'sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com',
      'sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com',
    ],
    [
      'sip:alice@atlanta.com?subject=project%20x&priority=urgent',
      'sip:alice@atlanta.com?priority=urgent&subject=project%20x',
    ],
    ['tel:+1-201-555-0123', 'tel:+12015550123'],
  ];
  for (const [a, b] of pairs) {
    assert.ok(sameUri(a, b), `${a} = ${b}`);
    assert.ok(sameUri(b, a), `${b} = ${a}`);
  }
});

test('RFC 3261 §19.1.4: URIs that differ', () => {
  const pairs: Array<[string, string]> = [
    ['SIP:ALICE@AtLanTa.CoM;Transport=udp', 'sip:alice@AtLanTa.CoM;Transport=UDP'],
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com:5060'],
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com;transport=udp'],
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com:6000;transport=tcp'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com?Subject=next%20meeting'],
    ['sip:bob@phone21.boxesbybob.com', 'sip:bob@192.0.2.4'],
    ['sip:carol@chicago.com;security=on', 'sip:carol@chicago.com;security=off'],
    ['sip:alice@atlanta.com', 'sips:alice@atlanta.com'],
    ['sip:alice@atlanta.com', 'tel:+12015550123'],
    ['not a uri', 'not a uri either'],
  ];
  for (const [a, b] of pairs) assert.ok(!sameUri(a, b), `${a} != ${b}`);
});

test('AoRs: URIs, user@domain, and user alone without use_domain', () => {
  assert.deepEqual(parseAor('sip:Alice@AtLanTa.example.com;transport=tls', true), {
    key: 'Alice@atlanta.example.com',
    username: 'Alice',
    domain: 'atlanta.example.com',
  });
  assert.equal(parseAor('sips:alice@atlanta.example.com:5061', false)?.key, 'alice');
  assert.equal(parseAor('alice@Atlanta.example.com', true)?.key, 'alice@atlanta.example.com');
  assert.equal(parseAor('alice', false)?.key, 'alice');
  assert.equal(parseAor('alice', true), undefined);
  assert.equal(parseAor('sip:atlanta.example.com', false), undefined);
  assert.equal(parseAor('tel:+12015550123', false), undefined);
  assert.equal(parseAor('@atlanta.example.com', true), undefined);
});
