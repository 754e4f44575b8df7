import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { test } from 'node:test';
import {
  exportPrivateKeyPem,
  exportPublicKeyPem,
  generateKeyPair,
  isEncryptedPrivateKeyPem,
  loadPrivateKey,
  parseKeyType,
} from '../../src/pki/index.js';

test('EC P-256 is the default key and round-trips through PKCS#8 and SPKI PEM', async () => {
  const keys = await generateKeyPair();
  assert.equal(keys.type, 'ec-p256');
  const pem = exportPrivateKeyPem(keys);
  assert.match(pem, /^-----BEGIN PRIVATE KEY-----\n/);
  assert.equal(createPrivateKey(pem).asymmetricKeyDetails?.namedCurve, 'prime256v1');

  const loaded = await loadPrivateKey(pem);
  assert.equal(loaded.type, 'ec-p256');
  const spki = exportPublicKeyPem(loaded);
  assert.match(spki, /^-----BEGIN PUBLIC KEY-----\n/);
  // The reloaded private key signs what the exported public key verifies.
  const signature = sign('sha256', Buffer.from('INVITE'), createPrivateKey(exportPrivateKeyPem(loaded)));
  assert.ok(verify('sha256', Buffer.from('INVITE'), createPublicKey(spki), signature));
});

test('P-384 and RSA keys have the requested size', async () => {
  const p384 = await generateKeyPair('ec-p384');
  assert.equal(createPrivateKey(exportPrivateKeyPem(p384)).asymmetricKeyDetails?.namedCurve, 'secp384r1');
  const rsa = await generateKeyPair('rsa-2048');
  const details = createPrivateKey(exportPrivateKeyPem(rsa)).asymmetricKeyDetails;
  assert.equal(details?.modulusLength, 2048);
  assert.equal((await loadPrivateKey(exportPrivateKeyPem(rsa))).type, 'rsa-2048');
});

test('an encrypted key needs its passphrase to load', async () => {
  const keys = await generateKeyPair();
  const pem = exportPrivateKeyPem(keys, 'correct horse');
  assert.match(pem, /^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
  assert.ok(isEncryptedPrivateKeyPem(pem));
  assert.ok(!isEncryptedPrivateKeyPem(exportPrivateKeyPem(keys)));

  const loaded = await loadPrivateKey(pem, 'correct horse');
  assert.equal(exportPublicKeyPem(loaded), exportPublicKeyPem(keys));
  await assert.rejects(loadPrivateKey(pem), /encrypted: a passphrase is needed/);
  await assert.rejects(loadPrivateKey(pem, 'wrong'), /wrong passphrase/);
});

test('keys made elsewhere load in any PEM flavour; unsupported ones are refused', async () => {
  const sec1 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({
    type: 'sec1',
    format: 'pem',
  });
  assert.equal((await loadPrivateKey(sec1.toString())).type, 'ec-p384');
  const ed = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' });
  await assert.rejects(loadPrivateKey(ed.toString()), /unsupported key \(ed25519\)/);
  await assert.rejects(loadPrivateKey('not a key'), /not a readable PEM private key/);
});

test('key type names: canonical and command-line spellings', () => {
  assert.equal(parseKeyType('ec'), 'ec-p256');
  assert.equal(parseKeyType('EC384'), 'ec-p384');
  assert.equal(parseKeyType('rsa4096'), 'rsa-4096');
  assert.equal(parseKeyType('rsa-3072'), 'rsa-3072');
  assert.throws(() => parseKeyType('dsa'), /unknown key type 'dsa'/);
});
