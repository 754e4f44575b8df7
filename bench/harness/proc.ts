// What a server costs, read from /proc: CPU time and proportional memory of a process and all its
// descendants (Kamailio forks workers; sipsd is one process with threads). Counting every process
// and using PSS (shared pages split between the processes that map them) keeps the comparison
// honest: Kamailio's shared memory segment is counted once, not once per worker.
import { readdirSync, readFileSync } from 'node:fs';

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ, 100 on every Linux architecture Node runs on

interface StatLine {
  pid: number;
  ppid: number;
  utime: number;
  stime: number;
}

function readStat(pid: number): StatLine | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // exited between the listing and the read
  }
  // The command name (field 2) is in parentheses and may hold spaces: split after its last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { pid, ppid: Number(fields[1]), utime: Number(fields[11]), stime: Number(fields[12]) };
}

/** The process and all its descendants that are alive now. */
export function processTree(rootPid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = readStat(pid);
    if (!stat) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(pid);
    children.set(stat.ppid, list);
  }
  const tree: number[] = [];
  const queue = [rootPid];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/** User + system CPU seconds used so far by these processes (all their threads). */
export function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const stat = readStat(pid);
    if (stat) ticks += stat.utime + stat.stime;
  }
  return ticks / CLOCK_TICKS_PER_SECOND;
}

/** Proportional set size of these processes, in bytes. */
export function pssBytes(pids: number[]): number {
  let kib = 0;
  for (const pid of pids) {
    try {
      const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      kib += Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0);
    } catch {
      // exited
    }
  }
  return kib * 1024;
}

/** CPU seconds a server's processes spend while `work` runs. */
export async function serverCpuDuring<T>(
  rootPid: number,
  work: () => Promise<T>,
): Promise<{ result: T; cpuSeconds: number; wallSeconds: number }> {
  const pids = processTree(rootPid);
  const cpuBefore = cpuSeconds(pids);
  const started = performance.now();
  const result = await work();
  const wallSeconds = (performance.now() - started) / 1000;
  return { result, cpuSeconds: cpuSeconds(processTree(rootPid)) - cpuBefore, wallSeconds };
}

/**
 * Waits until a server's processes use under `cores` of CPU over a second (at most `limitMs`): a
 * run after an overloaded one then starts from a server that has worked off the earlier backlog.
 * Returns the milliseconds waited.
 */
export async function untilQuiet(rootPid: number, cores = 0.05, limitMs = 30_000): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < limitMs) {
    const pids = processTree(rootPid);
    const before = cpuSeconds(pids);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    if (cpuSeconds(pids) - before < cores) break;
  }
  return Math.round(performance.now() - started);
}
