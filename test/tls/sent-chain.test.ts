// The certificates a domain sends: a file with the leaf alone is completed from the domain's CAs up
// to the root, as OpenSSL completes it (sipsd does it once per context instead of once per
// handshake); a file that holds its own chain is sent as it is.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import { issueCertificate } from '../../src/pki/index.js';
import { accept, build, makePki, tempDir, write } from './helpers.js';

const pki = await makePki();
const dir = tempDir();
const leaf = await issueCertificate({
  ca: pki.issuing,
  profile: 'server',
  subject: 'CN=chain.example.com',
  subjectAltNames: { dns: ['chain.example.com'] },
});
const files = {
  leafOnly: write(dir, 'leaf.pem', leaf.certificatePem),
  withChain: write(dir, 'leaf-chain.pem', leaf.certificatePem + pki.issuing.certificatePem),
  key: write(dir, 'leaf.key', leaf.privateKeyPem),
  cas: write(dir, 'cas.pem', pki.root.certificatePem + pki.issuing.certificatePem),
};

/** The subjects' CNs of what the server sent, leaf first (the client trusts none of them). */
function sentChain(socket: TLSSocket): string[] {
  const names: string[] = [];
  let cert: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  while (cert && names.length < 10) {
    names.push(String(cert.subject.CN));
    const next: DetailedPeerCertificate | undefined = cert.issuerCertificate;
    cert = next && next !== cert ? next : undefined;
  }
  return names;
}

async function sent(certificate: string, ca_list?: string): Promise<string[] | undefined> {
  const built = await build({
    name: 'chain',
    type: 'server',
    certificate,
    private_key: files.key,
    ...(ca_list && { ca_list }),
    verify_client: 'off',
  });
  return (await accept(built, { servername: 'chain.example.com' }, sentChain)).client;
}

test('a leaf alone is sent with its issuers from the CA list, up to the root', async () => {
  assert.deepEqual(await sent(files.leafOnly, files.cas), [
    'chain.example.com',
    'Test Issuing CA',
    'Test Root',
  ]);
});

test('a file with its own chain is sent as it is; a leaf without known issuers alone', async () => {
  assert.deepEqual(await sent(files.withChain, files.cas), ['chain.example.com', 'Test Issuing CA']);
  assert.deepEqual(await sent(files.leafOnly), ['chain.example.com']);
});
