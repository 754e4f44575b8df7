// Certificates for TLS domain tests: one CA and leaf certificates by name, written to a folder, so
// configurations can point at real files.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createCertificateAuthority,
  issueCertificate,
  type IssuedCertificate,
  type KeyType,
} from '../../src/pki/index.js';

export interface CertFiles {
  cert: string;
  key: string;
}

export class TestCa {
  private constructor(
    readonly dir: string,
    readonly ca: IssuedCertificate,
    readonly caFile: string,
  ) {}

  static async create(name = 'Test CA'): Promise<TestCa> {
    const dir = mkdtempSync(join(tmpdir(), 'sipsd-domains-'));
    const ca = await createCertificateAuthority({ subject: `/O=sipsd tests/CN=${name}` });
    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, ca.certificatePem);
    return new TestCa(dir, ca, caFile);
  }

  /** Issues a certificate whose CN is `cn` (also its DNS SAN) and writes `<file>.pem` / `<file>.key`. */
  async issue(
    file: string,
    cn: string,
    profile: 'server' | 'client' | 'both' = 'both',
    dns: string[] = [cn],
    keyType: KeyType = 'ec-p256',
  ): Promise<CertFiles> {
    const issued = await issueCertificate({
      ca: this.ca,
      profile,
      keyType,
      subject: `/O=sipsd tests/CN=${cn}`,
      subjectAltNames: { dns, ip: ['127.0.0.1', '::1'] },
    });
    const cert = join(this.dir, `${file}.pem`);
    const key = join(this.dir, `${file}.key`);
    writeFileSync(cert, issued.certificatePem);
    writeFileSync(key, issued.privateKeyPem);
    return { cert, key };
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
