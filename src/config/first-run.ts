// First run without a configuration: create the data folder with a test PKI and a commented default
// configuration that uses it, so `sipsd start` works out of the box on loopback.
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { createTestPki } from '../pki/index.js';

export const CONFIG_NAME = 'sipsd.yaml';

/** The data folder: $SIPSD_HOME, else `.sipsd` in the working directory. */
export function dataDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env['SIPSD_HOME'] ?? '.sipsd');
}

export interface FirstRun {
  configFile: string;
  created: boolean;
}

/** Returns the default config path, creating it (and the test PKI) if it does not exist yet. */
export async function ensureDefaultConfig(dir: string): Promise<FirstRun> {
  const configFile = join(dir, CONFIG_NAME);
  if (existsSync(configFile)) return { configFile, created: false };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const pki = await createTestPki(join(dir, 'pki'));
  const rel = (p: string) => relative(dir, p);
  await writeFile(
    configFile,
    defaultConfigText({
      ca: rel(pki.caFile),
      serverCert: rel(pki.serverCertFile),
      serverKey: rel(pki.serverKeyFile),
      clientCert: rel(pki.clientCertFile),
      clientKey: rel(pki.clientKeyFile),
    }),
    { mode: 0o600 },
  );
  return { configFile, created: true };
}

interface PkiPaths {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

function defaultConfigText(p: PkiPaths): string {
  return `# sipsd configuration — created on first run. Every key is described in docs/configuration.md.
# Relative paths are resolved against this file's folder.

# Sockets, as proto:ip[:port] (OpenSIPS "socket=" / "listen=").
listen:
  - udp:127.0.0.1:5060
  - tcp:127.0.0.1:5060
  - tls:127.0.0.1:5061

# The routing script: a TypeScript module whose default export has request(ctx).
# Without it, OPTIONS get 200 OK and everything else a 403 that says why.
# script: ../scripts/options-and-forward.ts

log_level: info

# Transport (OpenSIPS proto_tls / core names).
connection_timeout: 600      # seconds an idle TCP/TLS connection is kept; -1 = forever
tls_handshake_timeout: 100   # ms
tls_send_timeout: 100        # ms
tls_crlf_pingpong: true      # answer CRLFCRLF with CRLF (RFC 5626)
tls_crlf_drop: false
tls_max_msg_chunks: 4

# TLS domains: a test PKI was generated in pki/ (CA, server and client certificates).
tls_domains:
  - name: default
    type: server
    certificate: ${p.serverCert}
    private_key: ${p.serverKey}
    ca_list: ${p.ca}
    verify_cert: true        # ask clients for a certificate and check it if one is sent
    require_cert: false      # but let clients without one in
  - name: default
    type: client
    certificate: ${p.clientCert}
    private_key: ${p.clientKey}
    ca_list: ${p.ca}
    verify_cert: true

# Management interface: JSON-RPC 2.0 over HTTP, loopback only. Try: sipsd mi which
mi:
  listen: 127.0.0.1:8888
`;
}
