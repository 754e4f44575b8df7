// The command registry: other layers (TLS, router...) register their commands here; the server only dispatches.
import { MgmtError, RpcCode } from './errors.js';

export type MgmtParams = Record<string, unknown> | unknown[];

export interface MgmtParamSpec {
  name: string;
  required?: boolean;
  summary: string;
}

export interface MgmtCommand {
  name: string;
  /** Other names for the same command, e.g. Kamailio-style `core.version` for `version`. */
  aliases?: string[];
  summary: string;
  /**
   * Declared params are checked before the handler runs (unknown, missing or too many → invalid params),
   * and positional params are mapped to these names in order, so the handler always gets an object.
   * Leave undefined to receive the raw params (`{}` when absent) and validate them yourself.
   */
  params?: MgmtParamSpec[];
  handler: (params: MgmtParams) => unknown | Promise<unknown>;
  /**
   * With several workers, how the primary answers (cluster/primary.ts). Absent: one worker answers,
   * for what every worker holds alike (domains, settings). Otherwise every worker answers and the
   * answers are joined: `concat` (lists: each entry gains its `worker`), `sum` (these numeric
   * fields added up, the rest from the first) or `same` (a change applied everywhere: the first answer).
   */
  cluster?: ClusterJoin;
}

export type ClusterJoin = { join: 'concat' } | { join: 'sum'; fields: string[] } | { join: 'same' };

export class CommandRegistry {
  /** Primary names and aliases alike, all pointing at their command. */
  readonly #byName = new Map<string, MgmtCommand>();

  register(cmd: MgmtCommand): void {
    const names = [cmd.name, ...(cmd.aliases ?? [])];
    for (const name of names) {
      if (name === '') throw new Error(`management command with an empty name or alias: ${cmd.name}`);
      const existing = this.#byName.get(name);
      if (existing) {
        throw new Error(
          `management command name '${name}' registered twice (by ${existing.name} and ${cmd.name})`,
        );
      }
    }
    if (new Set(names).size !== names.length) {
      throw new Error(`management command ${cmd.name} repeats a name`);
    }
    for (const name of names) this.#byName.set(name, cmd);
  }

  /** Looks up a command by name or alias. */
  get(name: string): MgmtCommand | undefined {
    return this.#byName.get(name);
  }

  /** Each command once, sorted by name. */
  list(): MgmtCommand[] {
    return [...new Set(this.#byName.values())].sort((a, b) => a.name.localeCompare(b.name));
  }
}

/** Checks params against the command's declaration and returns what its handler receives. */
export function bindParams(cmd: MgmtCommand, raw: MgmtParams | undefined): MgmtParams {
  const specs = cmd.params;
  if (!specs) return raw ?? {};
  const expected = specs.length === 0 ? 'none' : specs.map((p) => p.name).join(', ');
  let bound: Record<string, unknown>;
  if (Array.isArray(raw)) {
    if (raw.length > specs.length) {
      throw new MgmtError(RpcCode.InvalidParams, `${cmd.name}: too many params (expected: ${expected})`);
    }
    bound = Object.fromEntries(specs.slice(0, raw.length).map((p, i) => [p.name, raw[i]]));
  } else {
    bound = raw ?? {};
    const unknown = Object.keys(bound).filter((key) => !specs.some((p) => p.name === key));
    if (unknown.length > 0) {
      throw new MgmtError(
        RpcCode.InvalidParams,
        `${cmd.name}: unknown param ${unknown.join(', ')} (expected: ${expected})`,
      );
    }
  }
  const missing = specs.filter((p) => p.required && bound[p.name] === undefined);
  if (missing.length > 0) {
    throw new MgmtError(
      RpcCode.InvalidParams,
      `${cmd.name}: missing required param ${missing.map((p) => p.name).join(', ')}`,
    );
  }
  return bound;
}

/**
 * Narrows a handler's params to the object form, which `bindParams` guarantees to commands that declare
 * `params`; the throw only fires if a command forgot its declaration.
 */
export function namedParams(params: MgmtParams): Record<string, unknown> {
  if (Array.isArray(params)) throw new Error('positional params reached a handler: declare its params');
  return params;
}
