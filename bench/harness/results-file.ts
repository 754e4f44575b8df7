// bench/RESULTS.md: one section per suite between markers, so a run of some suites replaces their
// sections and keeps the others (each section carries its own date and command line).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const HEADER = `# sipsd benchmark results

sipsd against Kamailio 5.6 (\`tls\` module) in the same run, on the same machine, certificates and
loopback ports. Produced by \`npm run bench\` (see bench/README.md); each section says when and with
what it was measured. Ratios are sipsd / Kamailio: for CPU per operation and memory, lower is better.
Each table names the worker processes each server ran (Kamailio \`children\` and \`tcp_children\`,
sipsd \`workers\`, plus its primary from two on): one worker compares one event loop's cost per
operation with Kamailio's, two show what each makes of both cores.
`;

const begin = (suite: string) => `<!-- suite:${suite} -->`;
const end = (suite: string) => `<!-- /suite:${suite} -->`;

/** Replaces (or appends) the sections of the suites that ran; `order` keeps sections in suite order. */
export function updateResults(file: string, sections: Map<string, string>, order: string[]): void {
  const old = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const kept = new Map<string, string>();
  for (const suite of order) {
    const from = old.indexOf(begin(suite));
    const to = old.indexOf(end(suite));
    if (from >= 0 && to > from) kept.set(suite, old.slice(from + begin(suite).length, to).trim());
  }
  for (const [suite, text] of sections) kept.set(suite, text.trim());
  const body = order
    .filter((s) => kept.has(s))
    .map((s) => `${begin(s)}\n${kept.get(s)}\n${end(s)}`)
    .join('\n\n');
  writeFileSync(file, `${HEADER}\n${body}\n`);
}
