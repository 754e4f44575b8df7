// The routing script contract: a TypeScript module whose default export is a Script.
import type { RequestContext, ReplyContext } from './context.js';

export interface Script {
  /** Shown in logs and the startup banner. */
  name?: string;
  /** Runs for every request received (OpenSIPS/Kamailio `route {}`). */
  request(ctx: RequestContext): void | Promise<void>;
  /** Runs for every reply received before it is relayed (`onreply_route`); ctx.drop() stops it. */
  reply?(ctx: ReplyContext): void | Promise<void>;
}

/** Identity helper that gives a script object its type without a cast. */
export function defineScript(script: Script): Script {
  return script;
}
