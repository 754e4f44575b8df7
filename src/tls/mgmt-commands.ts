// TLS management commands under OpenSIPS MI names (tls_list, tls_reload) and Kamailio RPC names
// (tls.list, tls.info, tls.options, tls.reload). Nothing here ever returns key material or
// passphrases: files are shown by path, inline (database) PEMs by their label only.
import type { CommandRegistry } from '../mgmt/index.js';
import { MgmtError, RpcCode } from '../mgmt/index.js';
import type { SipsdConfig } from '../config/schema.js';
import { tlsTransportShape } from '../config/tls-transport.js';
import type { TransportLayer } from '../transport/transport-layer.js';
import type { PemRef, TlsDomain } from './domain.js';
import { redactEngineKey } from './engine.js';
import type { TlsManager } from './manager.js';
import type { DomainSlot } from './store.js';

function pemRef(ref: PemRef | undefined): string | null {
  if (!ref) return null;
  // An engine key's URI may carry its PIN.
  return 'file' in ref ? redactEngineKey(ref.file) : `<inline: ${ref.label}>`;
}

function addressList(d: TlsDomain): string[] {
  if (d.matchAddresses.length === 0) return ['*'];
  return d.matchAddresses.map((a) => `${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`);
}

export function describeDomain(slot: DomainSlot): Record<string, unknown> {
  const d = slot.domain;
  const cert = slot.leaf;
  return {
    name: d.name,
    type: d.type,
    source: d.source,
    match_ip_address: addressList(d),
    match_sip_domain: d.matchSipDomains,
    tls_method: d.method.text,
    protocols: `${d.method.min}-${d.method.max}`,
    verify_client: d.verify,
    verify_cert: d.verify !== 'off',
    require_cert: d.verify === 'on',
    verify_depth: d.verifyDepth,
    certificate: pemRef(d.certificate),
    certificate_info: cert
      ? {
          subject: cert.subject,
          issuer: cert.issuer,
          not_before: cert.validFrom,
          not_after: cert.validTo,
          serial: cert.serialNumber,
          fingerprint256: cert.fingerprint256,
        }
      : null,
    private_key: pemRef(d.privateKey),
    passphrase: d.passphrase === undefined ? null : '<set>',
    ca_list: pemRef(d.caList),
    ca_dir: d.caDir?.dir ?? null,
    crl: pemRef(d.crl),
    crl_dir: d.crlDir ?? null,
    crl_check_all: d.crlCheckAll,
    cipher_list: d.cipherList ?? null,
    cipher_suites: d.cipherSuites ?? null,
    dh_params: pemRef(d.dhParams),
    ec_curve: d.ecCurve ?? null,
    ...(d.type === 'client'
      ? {
          server_name: d.serverName ?? null,
          server_id: d.serverId ?? null,
          verify_server_name: d.verifyServerName,
        }
      : {}),
    /** Database domains get their OpenSSL context on first use. */
    context_built: slot.built !== undefined,
    warnings: d.warnings,
  };
}

export function registerTlsCommands(
  registry: CommandRegistry,
  tls: TlsManager,
  transport: TransportLayer,
  config: SipsdConfig,
): void {
  const tlsConnections = () => [...transport.connections.all()].filter((c) => c.proto === 'tls');
  const reload = async () => {
    const r = await tls.reload();
    if (!r.ok)
      throw new MgmtError(
        RpcCode.CommandFailed,
        `TLS reload failed, running domains kept: ${r.errors.join('; ')}`,
        r,
      );
    return r;
  };

  registry.register({
    name: 'tls_list',
    summary: 'List every TLS domain with its parameters, source and certificate (never key material)',
    params: [],
    handler: () => tls.snapshot.domains.map(describeDomain),
  });
  registry.register({
    name: 'tls_reload',
    aliases: ['tls.reload'],
    summary:
      'Re-read every TLS source and certificate file and swap atomically; on error the running domains stay',
    params: [],
    handler: reload,
  });
  registry.register({
    name: 'tls.list',
    summary: 'List active TLS connections: id, domain, SNI, addresses, protocol, cipher, age, state',
    params: [],
    cluster: { join: 'concat' },
    handler: () =>
      tlsConnections().map((c) => ({
        id: c.id,
        direction: c.direction,
        domain: c.tls?.domain ?? null,
        sni: c.tls?.serverName ?? null,
        local: `${c.local.address}:${c.local.port}`,
        remote: `${c.remote.address}:${c.remote.port}`,
        protocol: c.tls?.protocol ?? null,
        cipher: c.tls?.cipher ?? null,
        peer_verified: c.tls?.peer.verified ?? false,
        peer_subject: c.tls?.peerCertificate?.subject.replace(/\n/g, ', ') ?? null,
        age_s: Math.round((Date.now() - c.createdAt) / 1000),
        state: c.state,
      })),
  });
  registry.register({
    name: 'tls.info',
    summary: 'TLS connection counts',
    params: [],
    cluster: { join: 'sum', fields: ['opened_connections', 'inbound', 'outbound'] },
    handler: () => {
      const conns = tlsConnections();
      return {
        max_connections: null,
        opened_connections: conns.length,
        inbound: conns.filter((c) => c.direction === 'in').length,
        outbound: conns.filter((c) => c.direction === 'out').length,
        domains: tls.snapshot.domains.length,
        reloads: tls.reloads,
      };
    },
  });
  registry.register({
    name: 'tls.options',
    summary: 'Global TLS settings in force',
    params: [],
    cluster: { join: 'sum', fields: ['queued_bytes'] },
    handler: () => ({
      tls_port: config.tls_port,
      tls_handshake_timeout: config.tls_handshake_timeout,
      tls_send_timeout: config.tls_send_timeout,
      connection_timeout: config.connection_timeout,
      tls_crlf_pingpong: config.tls_crlf_pingpong,
      tls_crlf_drop: config.tls_crlf_drop,
      tls_max_msg_chunks: config.tls_max_msg_chunks,
      tls_config: config.tls_config ?? null,
      client_tls_domain_avp: config.client_tls_domain_avp ?? null,
      client_sip_domain_avp: config.client_sip_domain_avp ?? null,
      // Every key of the TLS transport group (write queues, reuse, sessions, memory guards).
      ...Object.fromEntries(
        Object.keys(tlsTransportShape).map((k) => [k, config[k as keyof SipsdConfig] ?? null]),
      ),
      queued_bytes: transport.queuedBytes,
    }),
  });
}
