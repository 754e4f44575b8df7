// Results as Markdown tables: printed as each benchmark finishes, and collected into
// bench/RESULTS.md at the end of a run.

export interface ResultTable {
  title: string;
  /** What was measured and how, in a sentence or two. */
  description: string;
  columns: string[];
  rows: string[][];
  notes?: string[];
}

export function renderTable(t: ResultTable): string {
  const lines = [`### ${t.title}`, '', t.description, ''];
  lines.push(`| ${t.columns.join(' | ')} |`, `|${t.columns.map(() => '---').join('|')}|`);
  for (const row of t.rows) lines.push(`| ${row.join(' | ')} |`);
  for (const note of t.notes ?? []) lines.push('', note);
  return `${lines.join('\n')}\n`;
}
