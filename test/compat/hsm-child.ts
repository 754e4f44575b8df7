// Run by engine.test.ts in a child process, because an OpenSSL engine, once loaded and made a
// default, stays for the life of the process. Activates the engine from HSM_SETTINGS, then for
// each key of HSM_KEYS checks it against HSM_CERT and, if it passes, serves a real TLS handshake on
// loopback with it, first on a bare tls.Server, then through a sipsd server domain whose
// private_key is the engine key. Prints one JSON object: the activation notes (or error) and each
// key's outcome.
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import tls from 'node:tls';
import { activateEngine, checkEngineKey, type EngineSettings } from '../../src/tls/engine.js';
import { buildDomain } from '../../src/tls/context.js';
import { normalizeDomain } from '../../src/tls/domain.js';

const settings = JSON.parse(process.env['HSM_SETTINGS'] ?? '{}') as EngineSettings;
const keys = JSON.parse(process.env['HSM_KEYS'] ?? '[]') as string[];
const certFile = process.env['HSM_CERT'] ?? '';
const cert = readFileSync(certFile, 'utf8');

async function handshake(
  options: tls.SecureContextOptions,
): Promise<{ protocol: string | null; authorized: boolean }> {
  // tls.createServer takes the key options itself (it ignores a `secureContext` option).
  const server = tls.createServer({ cert, ...options }, (s) => s.end('pong'));
  return handshakeWith(server);
}

/** The way sipsd runs a domain: a never-listening acceptor fed the sockets of a TCP listener. */
async function domainHandshake(spec: string): Promise<{ protocol: string | null; authorized: boolean }> {
  const domain = normalizeDomain(
    { name: 'hsm', type: 'server', certificate: certFile, private_key: spec },
    { source: { kind: 'config' }, baseDir: dirname(certFile), verifyServerNameDefault: true },
  );
  if (Array.isArray(domain)) throw new Error(JSON.stringify(domain));
  const { acceptor } = await buildDomain(domain);
  acceptor!.on('secureConnection', (s: tls.TLSSocket) => s.end('pong'));
  return handshakeWith(createServer((raw) => acceptor!.emit('connection', raw)));
}

async function handshakeWith(
  server: tls.Server | ReturnType<typeof createServer>,
): Promise<{ protocol: string | null; authorized: boolean }> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const { port } = server.address() as AddressInfo;
    const client = tls.connect({ host: '127.0.0.1', port, ca: cert, checkServerIdentity: () => undefined });
    return await new Promise((resolve, reject) => {
      client.once('secureConnect', () => {
        resolve({ protocol: client.getProtocol(), authorized: client.authorized });
        client.destroy();
      });
      client.once('error', reject);
    });
  } finally {
    server.close();
  }
}

const out: { notes?: string[]; error?: string; keys: Array<Record<string, unknown>> } = { keys: [] };
try {
  out.notes = await activateEngine(settings, { baseDir: dirname(certFile) });
  for (const spec of keys) {
    try {
      const options = await checkEngineKey(cert, spec);
      const domain = await domainHandshake(spec).catch((err: Error) => ({ error: err.message }));
      out.keys.push({ spec, ok: true, options, ...(await handshake(options)), domain });
    } catch (err) {
      out.keys.push({ spec, ok: false, error: (err as Error).message });
    }
  }
} catch (err) {
  out.error = (err as Error).message;
}
process.stdout.write(JSON.stringify(out));
