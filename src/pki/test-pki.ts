// The throwaway PKI `sipsd start` creates on first run, so TLS and mutual TLS work out of the box.
// It is an ordinary CA folder: `sipsd cert issue --dir <dir>` can add certificates to it.
import { access, rm } from 'node:fs/promises';
import path from 'node:path';
import { caPaths, initCa, issue } from './store.js';

export interface TestPkiFiles {
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  crlFile: string;
}

export const TEST_CLIENT_CN = 'sipsd-test-client';

/** Creates the test PKI in `dir`, or returns the existing one untouched. */
export async function createTestPki(dir: string): Promise<TestPkiFiles> {
  const { caFile, crlFile, caKeyFile, indexFile } = caPaths(dir);
  const files: TestPkiFiles = {
    caFile,
    serverCertFile: path.join(dir, 'server.pem'),
    serverKeyFile: path.join(dir, 'server.key'),
    clientCertFile: path.join(dir, 'client.pem'),
    clientKeyFile: path.join(dir, 'client.key'),
    crlFile,
  };
  const generated = [...Object.values(files), caKeyFile, indexFile];
  if (await allExist(generated)) return files;

  // A partial set (an interrupted first run) cannot be trusted to match up: start over.
  await Promise.all(generated.map((f) => rm(f, { force: true })));
  await initCa(dir, { subject: '/O=sipsd test/CN=sipsd Test CA' });
  // 'both': sipsd also opens TLS connections to other servers and may present this certificate.
  await issue(dir, 'server', {
    profile: 'both',
    subject: { O: 'sipsd test', CN: 'localhost' },
    subjectAltNames: { dns: ['localhost'], ip: ['127.0.0.1', '::1'] },
  });
  await issue(dir, 'client', { profile: 'client', subject: { O: 'sipsd test', CN: TEST_CLIENT_CN } });
  return files;
}

async function allExist(files: string[]): Promise<boolean> {
  const results = await Promise.allSettled(files.map((f) => access(f)));
  return results.every((r) => r.status === 'fulfilled');
}
