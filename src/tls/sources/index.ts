// The TLS domain sources a configuration asks for, in precedence order: the main config file
// first (it wins name collisions), then a Kamailio tls.cfg, then the SQL table.
import { dirname } from 'node:path';
import type { SipsdConfig } from '../../config/schema.js';
import { openDb } from '../../db/db.js';
import type { DomainSourceReader } from '../manager.js';
import { configDomainSource } from './config-domains.js';
import { kamailioTlsCfgSource } from './kamailio-tls-cfg.js';
import { sqlDomainSource } from './sql-domains.js';

export function tlsSources(config: SipsdConfig, configFile: string): DomainSourceReader[] {
  const mainConfigDir = dirname(configFile);
  const sources = [configDomainSource(config.tls_domains, configFile)];
  if (config.tls_config) {
    sources.push(kamailioTlsCfgSource(config.tls_config, { mainConfigDir, cwd: process.cwd() }));
  }
  if (config.db_url !== undefined) {
    const db = openDb(config.db_url, { baseDir: mainConfigDir });
    sources.push(sqlDomainSource(db, config, { baseDir: mainConfigDir }));
  }
  return sources;
}
