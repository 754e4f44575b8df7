// The proxy features a routing script calls (digest authentication, registrar), built from the
// configuration: their databases opened lazily from auth_db_url / usrloc_db_url or db_url, the
// location store loaded and swept, everything closed when the server stops.
import type { SipsdConfig } from '../config/schema.js';
import { openDb, type Db } from '../db/db.js';
import type { Logger } from '../log/logger.js';
import { DigestAuth, MemoryCredentialStore, subscriberStore } from './auth/index.js';
import { openRegistrar, type Registrar } from './registrar/index.js';

export interface ProxyFeatures {
  auth: DigestAuth;
  registrar: Registrar;
  close(): Promise<void>;
}

export async function openProxyFeatures(
  config: SipsdConfig,
  baseDir: string,
  log: Logger,
): Promise<ProxyFeatures> {
  const dbs: Db[] = [];
  const open = (url: string | undefined): Db | undefined => {
    if (url === undefined) return undefined;
    const db = openDb(url, { baseDir });
    dbs.push(db);
    return db;
  };
  const authDb = open(config.auth_db_url ?? config.db_url);
  // Without a database nobody can authenticate: every user is unknown, which is the safe answer.
  const store = authDb ? subscriberStore(authDb, config) : new MemoryCredentialStore();
  const auth = new DigestAuth(store, config);
  const { registrar } = await openRegistrar(config, {
    db: config.usrloc_db_mode === 1 ? open(config.usrloc_db_url ?? config.db_url) : undefined,
    log: log.child({ layer: 'registrar' }),
  });
  return {
    auth,
    registrar,
    async close() {
      await registrar.location.close();
      await Promise.all(dbs.map((db) => db.close()));
    },
  };
}
