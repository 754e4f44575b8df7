// The TLS domain sources a configuration asks for, in precedence order: the main config file
// first (it wins name collisions), then a Kamailio tls.cfg.
import { dirname } from 'node:path';
import type { SipsdConfig } from '../../config/schema.js';
import type { DomainSourceReader } from '../manager.js';
import { configDomainSource } from './config-domains.js';
import { kamailioTlsCfgSource } from './kamailio-tls-cfg.js';

export function tlsSources(config: SipsdConfig, configFile: string): DomainSourceReader[] {
  const mainConfigDir = dirname(configFile);
  return [
    configDomainSource(config.tls_domains, configFile, mainConfigDir),
    ...(config.tls_config
      ? [kamailioTlsCfgSource(config.tls_config, { mainConfigDir, cwd: process.cwd() })]
      : []),
  ];
}
