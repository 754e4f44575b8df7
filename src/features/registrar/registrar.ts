// The registrar (RFC 3261 §10.3, OpenSIPS registrar `save` / `lookup`): processes a REGISTER into
// the location store and says how to answer it; finds the bindings of an address-of-record.
import type { Db } from '../../db/db.js';
import type { Logger } from '../../log/logger.js';
import type { SipRequest } from '../../sip/index.js';
import { warning, type ReplySpec } from '../auth/reply.js';
import { parseAor, type Aor } from './aor.js';
import { contactValue, orderBindings, type Binding } from './binding.js';
import type { RegistrarConfig } from './config.js';
import { Location, type LoadResult } from './location.js';
import { LocationTable } from './location-table.js';
import { planRegister, registerAor, type RegisterPolicy, type RegisterSource } from './plan.js';

export interface SaveOptions {
  /** Where the REGISTER came from: kept as the binding's `received` when the Contact differs. */
  source?: RegisterSource;
  /** Our socket it arrived on, `proto:ip:port`. */
  socket?: string;
  /** Register this AoR instead of the To URI's (OpenSIPS save's third argument). */
  aor?: string;
}

export type SaveResult = ReplySpec &
  (
    | {
        ok: true;
        aor: Aor;
        /** The AoR's bindings after the request, best first (the Contacts of the 200 OK). */
        bindings: Binding[];
        /** False when the write-through failed (memory has it; the next sweep retries). */
        persisted: boolean;
      }
    | { ok: false; detail: string }
  );

export interface RegistrarOptions {
  /** Milliseconds since the epoch, shared with the Location (tests move it). */
  now?: () => number;
  newId?: () => string;
}

export class Registrar {
  readonly #now: () => number;

  constructor(
    readonly policy: RegisterPolicy,
    readonly location: Location,
    private readonly options: RegistrarOptions = {},
  ) {
    this.#now = options.now ?? Date.now;
  }

  /** OpenSIPS `save("location")`: updates the bindings and returns the reply to send. */
  async save(req: SipRequest, options: SaveOptions = {}): Promise<SaveResult> {
    if (req.method !== 'REGISTER') {
      const detail = `save() handles REGISTER requests, not ${req.method}`;
      return { ok: false, detail, status: 500, reason: 'Server Internal Error', headers: [warning(detail)] };
    }
    let aor: Aor | undefined;
    if (options.aor !== undefined) {
      aor = parseAor(options.aor, this.policy.use_domain);
      if (!aor) {
        const detail = `cannot register the address ${options.aor}`;
        return {
          ok: false,
          detail,
          status: 500,
          reason: 'Server Internal Error',
          headers: [warning(detail)],
        };
      }
    } else {
      const found = registerAor(req, this.policy.use_domain);
      if (!found.ok) return { ok: false, detail: found.detail, ...found.reply };
      aor = found.aor;
    }
    const nowS = Math.floor(this.#now() / 1000);
    const plan = planRegister(req, aor, this.location.bindings(aor.key), this.policy, {
      nowS,
      source: options.source,
      socket: options.socket,
      newId: this.options.newId,
    });
    if (!plan.ok) return { ok: false, detail: plan.detail, ...plan.reply };
    const persisted = await this.location.replace(aor, plan.next);
    const bindings = orderBindings(plan.next);
    const headers: Array<[string, string]> = bindings.map((b) => ['Contact', contactValue(b, nowS)]);
    // RFC 3327 §5.3: the Path goes back to a client that supports it, telling it its route.
    const supported = req.getHeaders('Supported').map((s) => s.toLowerCase());
    if (supported.includes('path')) for (const hop of req.getHeaders('Path')) headers.push(['Path', hop]);
    headers.push(['Date', new Date(this.#now()).toUTCString()]);
    return { ok: true, aor, bindings, persisted, status: 200, reason: 'OK', headers };
  }

  /**
   * OpenSIPS `lookup("location")`: the live bindings of an AoR (a URI such as the Request-URI,
   * `user@domain`, or `user` without use_domain), best first; empty when there are none.
   */
  lookup(aor: string): Binding[] {
    const parsed = parseAor(aor, this.policy.use_domain);
    return parsed ? this.location.lookup(parsed.key) : [];
  }

  /** Removes every binding of an AoR (OpenSIPS ul_rm); resolves to how many there were. */
  async remove(aor: string): Promise<number> {
    const parsed = parseAor(aor, this.policy.use_domain);
    if (!parsed) return 0;
    const count = this.location.lookup(parsed.key).length;
    await this.location.replace(parsed, []);
    return count;
  }
}

export interface OpenRegistrarOptions {
  /** The database of usrloc_db_url / db_url; used when usrloc_db_mode is 1. */
  db?: Db;
  /** Create the location table when missing (what `sipsd db init` would do). */
  createTable?: boolean;
  log?: Pick<Logger, 'info' | 'warn'>;
  now?: () => number;
}

/**
 * A registrar as the configuration describes it: with usrloc_db_mode 1, its bindings are loaded
 * from the location table and written through; the sweep timer runs. Call `location.close()` at
 * shutdown. Rejects when the table cannot be read.
 */
export async function openRegistrar(
  config: RegistrarConfig,
  options: OpenRegistrarOptions = {},
): Promise<{ registrar: Registrar; loaded: LoadResult }> {
  if (config.usrloc_db_mode === 1 && !options.db)
    throw new Error('usrloc_db_mode 1 needs a database: set usrloc_db_url or db_url');
  const table =
    config.usrloc_db_mode === 1 && options.db
      ? new LocationTable(options.db, config.location_table)
      : undefined;
  if (table && options.createTable) await table.init();
  const location = new Location({
    useDomain: config.use_domain,
    table,
    timerIntervalS: config.usrloc_timer_interval,
    now: options.now,
    log: options.log,
  });
  const loaded = await location.load();
  for (const why of loaded.skipped) options.log?.warn(`location: skipped ${why}`);
  location.start();
  return { registrar: new Registrar(config, location, { now: options.now }), loaded };
}
