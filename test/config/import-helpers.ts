// Shared checks of the importer tests: fixtures from the seeds, the produced config must load, and
// the reported lines are compared with the lines of the fixture that should be reported.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatProblem, validateConfigText } from '../../src/config/load.js';
import type { ImportReport, ImportResult } from '../../src/config/import/common.js';
import { normalizeDomain, tlsDomainInputSchema, type TlsDomainInput } from '../../src/tls/domain.js';

export function fixture(name: string): string {
  return readFileSync(join(import.meta.dirname, '../fixtures/import', name), 'utf8');
}

/** 1-based numbers of the lines matching `re`. */
export function linesMatching(text: string, re: RegExp): number[] {
  return text.split('\n').flatMap((l, i) => (re.test(l) ? [i + 1] : []));
}

/** The YAML passes the config loader, and each domain the domain model on its own. */
export function assertLoads(r: ImportResult): void {
  const loaded = validateConfigText(r.yaml, '/etc/sipsd/sipsd.yaml');
  assert.ok(loaded.ok, loaded.ok ? '' : loaded.problems.map(formatProblem).join('\n') + `\n${r.yaml}`);
  for (const d of domains(r)) {
    assert.ok(tlsDomainInputSchema.safeParse(d).success, d.name);
    const n = normalizeDomain(d, {
      source: { kind: 'config' },
      baseDir: '/',
      verifyServerNameDefault: false,
    });
    assert.ok(!Array.isArray(n), `${d.name}: ${JSON.stringify(n)}`);
  }
}

export function domains(r: ImportResult): TlsDomainInput[] {
  return (r.config['tls_domains'] as TlsDomainInput[] | undefined) ?? [];
}

export function domain(r: ImportResult, type: 'server' | 'client', name: string): TlsDomainInput {
  const d = domains(r).find((x) => x.type === type && x.name === name);
  assert.ok(
    d,
    `no ${type} domain "${name}" in: ${domains(r)
      .map((x) => `${x.type}:${x.name}`)
      .join(', ')}`,
  );
  return d;
}

export const unmapped = (r: ImportResult): ImportReport[] => r.reports.filter((x) => x.kind === 'unmapped');
export const notes = (r: ImportResult): ImportReport[] => r.reports.filter((x) => x.kind === 'note');

/**
 * The unmapped reports are exactly `expected`: a line number with a pattern of its reason (one
 * entry per report, so a line reported twice is listed twice).
 */
export function assertUnmapped(r: ImportResult, expected: Array<[number, RegExp]>): void {
  const got = unmapped(r);
  const show = () => got.map((x) => `${x.line}: ${x.text}: ${x.reason}`).join('\n');
  assert.deepEqual(
    got.map((x) => x.line),
    expected.map(([line]) => line).sort((a, b) => a - b),
    `reported lines differ:\n${show()}`,
  );
  for (const [line, re] of expected) {
    assert.ok(
      got.some((x) => x.line === line && re.test(x.reason)),
      `no report at line ${line} matching ${re}:\n${show()}`,
    );
  }
}
