// What every benchmark suite gets and gives: the shared certificates and run settings in, Markdown
// tables out. Servers are measured in alternating order over several rounds (A B, B A, ...), so a
// slow phase of this shared machine does not always land on the same server.
import type { BenchPki } from './pki.js';
import type { ResultTable } from './report.js';
import {
  allocatePorts,
  SERVER_NAMES,
  startServer,
  type BenchPorts,
  type BenchServer,
  type ServerName,
  type ServerSpec,
} from './servers.js';
import { summarize, type Summary } from './stats.js';

export interface SuiteContext {
  pki: BenchPki;
  /** A/B rounds per measurement. */
  rounds: number;
  /** Short runs that only check the harness works (numbers not worth reporting). */
  quick: boolean;
  /** When set, sipsd runs with --cpu-prof and writes its profiles here. */
  cpuProfileDir?: string;
  /** Worker processes of each server in this run (`--workers`: each count given, 1 and 2 by default). */
  workers: number;
  /** Progress for the operator, on stderr. */
  progress(message: string): void;
}

export interface Suite {
  /** The name `npm run bench -- <name>` selects it by. */
  name: string;
  /** External programs it runs (installed when missing and root). */
  programs: string[];
  /** False for a suite that starts no server (run once, whatever the worker counts). */
  servers?: boolean;
  run(ctx: SuiteContext): Promise<ResultTable[]>;
}

export interface RunningPair {
  server: Record<ServerName, BenchServer>;
  ports: Record<ServerName, BenchPorts>;
}

/** Starts sipsd and Kamailio side by side (own ports each), runs `body`, stops both. */
export async function withServers<T>(
  ctx: SuiteContext,
  spec: Omit<ServerSpec, 'pki' | 'ports'>,
  body: (pair: RunningPair) => Promise<T>,
): Promise<T> {
  const started: Partial<Record<ServerName, BenchServer>> = {};
  const ports = {} as Record<ServerName, BenchPorts>;
  try {
    for (const name of SERVER_NAMES) {
      ports[name] = await allocatePorts();
      started[name] = await startServer(name, {
        ...spec,
        pki: ctx.pki,
        ports: ports[name],
        ...(ctx.cpuProfileDir && name === 'sipsd' ? { cpuProfileDir: ctx.cpuProfileDir } : {}),
      });
    }
    return await body({ server: started as Record<ServerName, BenchServer>, ports });
  } finally {
    for (const s of Object.values(started)) await s.stop();
  }
}

/** Runs `measure` for both servers, `rounds` times, alternating which goes first. */
export async function alternate(
  rounds: number,
  measure: (name: ServerName, round: number) => Promise<number>,
): Promise<Record<ServerName, Summary>> {
  const values: Record<ServerName, number[]> = { sipsd: [], kamailio: [] };
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? SERVER_NAMES : [...SERVER_NAMES].reverse();
    for (const name of order) values[name].push(await measure(name, round));
  }
  return { sipsd: summarize(values.sipsd), kamailio: summarize(values.kamailio) };
}
