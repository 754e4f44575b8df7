import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeDomain, type TlsDomain, type TlsDomainInput } from '../../src/tls/domain.js';
import { DomainIndex } from '../../src/tls/domain-index.js';

function domain(input: Partial<TlsDomainInput> & Pick<TlsDomainInput, 'name' | 'type'>): {
  domain: TlsDomain;
} {
  const d = normalizeDomain(input, {
    source: { kind: 'config' },
    baseDir: '/etc/sipsd',
    verifyServerNameDefault: true,
  });
  if (Array.isArray(d)) throw new Error(JSON.stringify(d));
  return { domain: d };
}

const names = (r: { kind: string; value?: { domain: TlsDomain } }) =>
  r.kind === 'match' ? r.value!.domain.name : r.kind;

test('server: socket first, then SNI inside the socket bucket, falling back to less specific buckets', () => {
  const idx = new DomainIndex([
    domain({
      name: 'atlanta',
      type: 'server',
      match_ip_address: ['10.0.0.10:5061'],
      match_sip_domain: ['atlanta.com'],
    }),
    domain({
      name: 'biloxi',
      type: 'server',
      match_ip_address: ['10.0.0.10:5061'],
      match_sip_domain: ['*.biloxi.com'],
    }),
    domain({
      name: 'nosni',
      type: 'server',
      match_ip_address: ['10.0.0.10:5061'],
      match_sip_domain: ['none'],
    }),
    domain({ name: 'other-port', type: 'server', match_ip_address: ['10.0.0.10:*'] }),
    domain({ name: 'anywhere', type: 'server', match_sip_domain: ['*.example.org'] }),
  ]);
  const at = (port: number, sni?: string) => names(idx.server({ address: '10.0.0.10', port }, sni));
  assert.equal(at(5061, 'atlanta.com'), 'atlanta');
  assert.equal(at(5061, 'sip.biloxi.com'), 'biloxi');
  assert.equal(at(5061), 'nosni');
  // Not known on the socket's own bucket: less specific buckets are tried before refusing.
  assert.equal(at(5061, 'www.example.org'), 'other-port');
  assert.equal(at(5062, 'atlanta.com'), 'other-port');
  assert.equal(names(idx.server({ address: '10.9.9.9', port: 5061 }, 'a.example.org')), 'anywhere');
});

test('server: an SNI no domain accepts is refused when every domain names its hosts; no SNI falls to the default', () => {
  const idx = new DomainIndex([
    domain({
      name: 'a',
      type: 'server',
      match_ip_address: ['127.0.0.1:5061'],
      match_sip_domain: ['a.example.com'],
    }),
    domain({
      name: 'b',
      type: 'server',
      match_ip_address: ['127.0.0.1:5061'],
      match_sip_domain: ['b.example.com'],
    }),
  ]);
  assert.equal(names(idx.server({ address: '127.0.0.1', port: 5061 }, 'c.example.com')), 'unrecognized-name');
  assert.equal(names(idx.server({ address: '127.0.0.1', port: 5061 }, undefined)), 'no-domain');
  assert.equal(names(idx.server({ address: '127.0.0.2', port: 5061 }, 'a.example.com')), 'no-domain');
});

test('server: IPv6 and IPv4-mapped local addresses match their filters', () => {
  const idx = new DomainIndex([
    domain({ name: 'v6', type: 'server', match_ip_address: ['[2001:db8::1]:5061'] }),
    domain({ name: 'v4', type: 'server', match_ip_address: ['192.0.2.1:5061'] }),
  ]);
  assert.equal(names(idx.server({ address: '2001:DB8::1', port: 5061 }, undefined)), 'v6');
  assert.equal(names(idx.server({ address: '::ffff:192.0.2.1', port: 5061 }, undefined)), 'v4');
});

test('client: name or server_id > SIP domain with destination > destination only', () => {
  const idx = new DomainIndex([
    domain({ name: 'atlanta', type: 'client', match_sip_domain: ['atlanta.com'] }),
    domain({
      name: 'atlanta-gw',
      type: 'client',
      match_ip_address: ['1.2.3.4:5061'],
      match_sip_domain: ['atlanta.com'],
    }),
    domain({ name: 'gw', type: 'client', match_ip_address: ['1.2.3.4:6677'] }),
    domain({ name: 'by-id', type: 'client', server_id: 'pstn-1' }),
  ]);
  assert.equal(idx.named('atlanta')?.domain.name, 'atlanta');
  assert.equal(idx.named('pstn-1')?.domain.name, 'by-id');
  assert.equal(idx.named('nope'), undefined);
  assert.equal(idx.client({ address: '1.2.3.4', port: 5061 }, 'atlanta.com')?.domain.name, 'atlanta-gw');
  assert.equal(idx.client({ address: '5.6.7.8', port: 5061 }, 'atlanta.com')?.domain.name, 'atlanta');
  assert.equal(idx.client({ address: '1.2.3.4', port: 6677 }, undefined)?.domain.name, 'gw');
  assert.equal(idx.client({ address: '1.2.3.4', port: 6677 }, 'atlanta.com')?.domain.name, 'atlanta');
  // by-id has `*` filters: the catch-all when nothing more specific matches.
  assert.equal(idx.client({ address: '9.9.9.9', port: 5061 }, undefined)?.domain.name, 'by-id');
});
