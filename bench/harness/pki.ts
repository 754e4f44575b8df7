// One set of certificates for both servers and the clients: ECDSA P-256 and RSA-2048 server
// certificates for 127.0.0.1, and an ECDSA client certificate, all from one CA.
import { TestCa, type CertFiles } from '../../test/helpers/domains.js';

export interface BenchPki {
  dir: string;
  caFile: string;
  ecdsa: CertFiles;
  rsa: CertFiles;
  client: CertFiles;
  remove(): void;
}

export async function createBenchPki(): Promise<BenchPki> {
  const ca = await TestCa.create('sipsd bench CA');
  const names = ['bench.sipsd.test', 'localhost'];
  return {
    dir: ca.dir,
    caFile: ca.caFile,
    ecdsa: await ca.issue('server-ecdsa', 'bench.sipsd.test', 'server', names, 'ec-p256'),
    rsa: await ca.issue('server-rsa', 'bench.sipsd.test', 'server', names, 'rsa-2048'),
    client: await ca.issue('client-ecdsa', 'phone.sipsd.test', 'client', ['phone.sipsd.test'], 'ec-p256'),
    remove: () => ca.remove(),
  };
}
