// An immutable snapshot of the TLS domains, built completely (files read, contexts created) before
// it is used, so a broken certificate is reported at load time and never half-applied.
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { createServer, createSecureContext, type SecureContext, type Server, type TLSSocket } from 'node:tls';
import type { TlsDomainConfig } from '../config/schema.js';
import type { Endpoint } from '../transport/types.js';
import type { ClientChoice, ClientHints, ServerChoice, TlsProvider } from './provider.js';

/** Where a domain setting failed: enough for an operator to find and fix it. */
export class TlsConfigError extends Error {
  constructor(
    readonly domain: string,
    readonly field: string,
    readonly file: string | undefined,
    readonly reason: string,
  ) {
    super(`TLS domain "${domain}": ${field}${file ? ` (${file})` : ''}: ${reason}`);
  }
}

interface BuiltDomain {
  config: TlsDomainConfig;
  context: SecureContext;
  /** Server domains: the never-listening tls.Server that runs handshakes for accepted sockets. */
  acceptor?: Server;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

async function readPem(domain: string, field: string, file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TlsConfigError(
      domain,
      field,
      file,
      code === 'ENOENT' ? 'file not found' : `cannot read (${code})`,
    );
  }
}

async function buildDomain(config: TlsDomainConfig): Promise<BuiltDomain> {
  const cert = config.certificate ? await readPem(config.name, 'certificate', config.certificate) : undefined;
  // The certificate file may carry the key too, as OpenSIPS and Kamailio allow.
  const key = config.private_key ? await readPem(config.name, 'private_key', config.private_key) : cert;
  const ca = config.ca_list ? await readPem(config.name, 'ca_list', config.ca_list) : undefined;
  const options = {
    cert,
    key: cert ? key : undefined,
    passphrase: config.passphrase,
    ca,
    minVersion: 'TLSv1.2' as const,
  };
  let context: SecureContext;
  try {
    context = createSecureContext(options);
  } catch (err) {
    throw new TlsConfigError(
      config.name,
      'certificate/private_key',
      config.certificate,
      describeOpenSslError(err),
    );
  }
  const built: BuiltDomain = { config, context, ca, cert, key };
  if (config.type === 'server') {
    built.acceptor = createServer({
      ...options,
      requestCert: config.verify_cert || config.require_cert,
      // Verification outcomes are judged in admit(): OpenSSL's "verify if presented" needs it.
      rejectUnauthorized: false,
    });
  }
  return built;
}

function describeOpenSslError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/key values mismatch/i.test(message)) return 'the private key does not match the certificate';
  if (/bad decrypt|bad password/i.test(message)) return 'wrong passphrase for the private key';
  if (/no start line|PEM/i.test(message)) return `not a valid PEM file (${message})`;
  return message;
}

export class TlsStore implements TlsProvider {
  private constructor(
    private readonly server: BuiltDomain | undefined,
    private readonly client: BuiltDomain | undefined,
  ) {}

  /** Builds a snapshot; throws TlsConfigError naming the domain, field and file on any failure. */
  static async build(domains: TlsDomainConfig[]): Promise<TlsStore> {
    const built = await Promise.all(domains.map(buildDomain));
    return new TlsStore(
      built.find((d) => d.config.type === 'server'),
      built.find((d) => d.config.type === 'client'),
    );
  }

  get hasServerDomain(): boolean {
    return this.server !== undefined;
  }

  domainNames(): string[] {
    return [this.server, this.client]
      .filter((d) => d !== undefined)
      .map((d) => `${d.config.type}:${d.config.name}`);
  }

  serverFor(_local: Endpoint, _serverName: string | undefined): ServerChoice {
    const acceptor = this.server?.acceptor;
    if (!this.server || !acceptor) return { ok: false, reason: 'no TLS server domain is configured' };
    return { ok: true, domain: this.server.config.name, acceptor };
  }

  /**
   * OpenSIPS semantics: verify_cert asks for a certificate and refuses one that does not verify;
   * require_cert also refuses a client that presents none.
   */
  admit(domain: string, socket: TLSSocket): string | undefined {
    const config = this.server?.config;
    if (!config || config.name !== domain) return undefined;
    const presented = Object.keys(socket.getPeerCertificate() ?? {}).length > 0;
    if (!presented) return config.require_cert ? 'no client certificate presented (require_cert)' : undefined;
    if (config.verify_cert && !socket.authorized) {
      return `client certificate rejected: ${String(socket.authorizationError)}`;
    }
    return undefined;
  }

  clientFor(remote: Endpoint, hints: ClientHints): ClientChoice {
    if (hints.domain !== undefined && hints.domain !== this.client?.config.name) {
      return { ok: false, reason: `no TLS client domain named "${hints.domain}"` };
    }
    const d = this.client;
    return {
      ok: true,
      domain: d?.config.name ?? 'default',
      options: {
        secureContext: d?.context,
        // Without a configured client domain, peers are verified against Node's bundled root CAs.
        rejectUnauthorized: d ? d.config.verify_cert : true,
        // RFC 6066 forbids IP addresses as SNI; identity is then checked against the address itself.
        servername: hints.sipDomain ?? (isIP(remote.address) ? undefined : remote.address),
        minVersion: 'TLSv1.2',
      },
    };
  }
}
