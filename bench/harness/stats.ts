// Medians and spreads over benchmark rounds, and the ratios the results are judged by.

export interface Summary {
  median: number;
  min: number;
  max: number;
  rounds: number;
}

export function summarize(values: number[]): Summary {
  if (values.length === 0) return { median: NaN, min: NaN, max: NaN, rounds: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, rounds: values.length };
}

/** A number with about three significant digits. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toPrecision(3);
}

/** `median (min–max)`, the form every table cell with rounds uses. */
export function formatSummary(s: Summary): string {
  if (s.rounds === 0) return 'n/a';
  if (s.rounds === 1 || s.min === s.max) return formatNumber(s.median);
  return `${formatNumber(s.median)} (${formatNumber(s.min)}–${formatNumber(s.max)})`;
}

/** sipsd's median over the peer's, as `0.83×`. */
export function formatRatio(ours: Summary, peer: Summary): string {
  const r = ours.median / peer.median;
  if (!Number.isFinite(r)) return 'n/a';
  // Two significant digits for small ratios: a reload 230 times faster is not "0.00×".
  return `${r < 0.1 ? r.toPrecision(2) : r.toFixed(2)}×`;
}
