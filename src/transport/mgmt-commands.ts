// Management commands that show the transport's state (OpenSIPS `list_tcp_conns`, Kamailio `core.tcp_list`).
import type { CommandRegistry } from '../mgmt/index.js';
import type { TransportLayer } from './transport-layer.js';

export function registerTransportCommands(registry: CommandRegistry, transport: TransportLayer): void {
  registry.register({
    name: 'list_tcp_conns',
    aliases: ['core.tcp_list'],
    summary: 'List open TCP and TLS connections',
    params: [],
    cluster: { join: 'concat' },
    handler: () =>
      [...transport.connections.all()].map((c) => ({
        id: c.id,
        proto: c.proto,
        direction: c.direction,
        state: c.state,
        local: `${c.local.address}:${c.local.port}`,
        remote: `${c.remote.address}:${c.remote.port}`,
        age_s: Math.round((Date.now() - c.createdAt) / 1000),
        keepalives: c.keepalives,
        tls: c.tls && {
          domain: c.tls.domain,
          sni: c.tls.serverName,
          protocol: c.tls.protocol,
          cipher: c.tls.cipher,
          peer_verified: c.tls.peer.verified,
        },
      })),
  });
  registry.register({
    name: 'listeners',
    aliases: ['core.sockets_list'],
    summary: 'List the sockets sipsd listens on',
    params: [],
    handler: () => transport.listeners().map((l) => l.name),
  });
}
