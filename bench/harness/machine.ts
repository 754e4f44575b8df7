// What a result was measured on: the machine and every program's version, for RESULTS.md.
import { spawnSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { VERSION } from '../../src/server.js';

function firstLine(program: string, args: string[], pattern?: RegExp): string {
  const r = spawnSync(program, args, { encoding: 'utf8' });
  const text = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  const line =
    (pattern ? pattern.exec(text)?.[0] : text.split('\n').find((l) => l.trim())) ?? 'not installed';
  return line.trim();
}

export function describeMachine(): string[] {
  const cpu = cpus();
  return [
    `machine: ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, ${process.platform} ${process.arch}`,
    `sipsd ${VERSION} on Node ${process.version} (OpenSSL ${process.versions.openssl})`,
    firstLine('kamailio', ['-v'], /kamailio \S+/),
    firstLine('openssl', ['version']),
    firstLine('sipp', ['-v'], /SIPp v\S+/),
    firstLine('stunnel4', ['-version'], /stunnel \S+/),
  ];
}
