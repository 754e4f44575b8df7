// The benchmark harness's own arithmetic and bookkeeping: medians and ratios, the /proc readings
// every CPU and memory figure rests on, and RESULTS.md keeping the sections of suites not re-run.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuSeconds, processTree, pssBytes } from '../../bench/harness/proc.js';
import { updateResults } from '../../bench/harness/results-file.js';
import { formatRatio, formatSummary, summarize } from '../../bench/harness/stats.js';

describe('bench harness', () => {
  test('summaries: median of odd and even counts, range, and the sipsd/Kamailio ratio', () => {
    assert.deepEqual(summarize([3, 1, 2]), { median: 2, min: 1, max: 3, rounds: 3 });
    assert.equal(summarize([4, 1, 3, 2]).median, 2.5);
    assert.equal(formatSummary(summarize([0.5, 0.75, 0.6])), '0.600 (0.500–0.750)');
    assert.equal(formatSummary(summarize([12_345])), '12,345');
    assert.equal(formatRatio(summarize([1]), summarize([2])), '0.50×');
    assert.equal(formatRatio(summarize([0.116]), summarize([27])), '0.0043×');
    assert.equal(formatSummary(summarize([])), 'n/a');
  });

  test('/proc: this process is in its own tree, uses CPU and has resident memory', () => {
    assert.ok(processTree(process.pid).includes(process.pid));
    const before = cpuSeconds([process.pid]);
    const until = Date.now() + 100;
    while (Date.now() < until); // burn 100 ms of CPU
    assert.ok(cpuSeconds([process.pid]) - before >= 0.05, 'busy time is counted');
    assert.ok(pssBytes([process.pid]) > 10 * 1024 * 1024);
    assert.equal(cpuSeconds([2 ** 22 + 1]), 0, 'a process that does not exist counts nothing');
  });

  test('RESULTS.md: a run replaces its suites and keeps the others, in suite order', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sipsd-bench-results-'));
    try {
      const file = join(dir, 'RESULTS.md');
      const order = ['handshakes', 'messages', 'idle'];
      updateResults(
        file,
        new Map([
          ['idle', 'idle v1'],
          ['handshakes', 'handshakes v1'],
        ]),
        order,
      );
      updateResults(
        file,
        new Map([
          ['messages', 'messages v1'],
          ['idle', 'idle v2'],
        ]),
        order,
      );
      const text = readFileSync(file, 'utf8');
      assert.match(text, /^# sipsd benchmark results/);
      const sections = [...text.matchAll(/<!-- suite:(\w+) -->\n([^\n]*)\n/g)].map((m) => `${m[1]}=${m[2]}`);
      assert.deepEqual(sections, ['handshakes=handshakes v1', 'messages=messages v1', 'idle=idle v2']);
      writeFileSync(file, text.replace('<!-- /suite:idle -->', ''));
      updateResults(file, new Map(), order);
      assert.doesNotMatch(
        readFileSync(file, 'utf8'),
        /idle v2/,
        'a section without its end marker is dropped',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
