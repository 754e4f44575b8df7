// Name matching for TLS domains, built once per snapshot so a lookup stays flat however many
// domains there are: exact names in a map, `*.suffix` wildcards in a map walked label by label
// (longest suffix first), other shell-style patterns in a short list ranked by literal length.
// Names are compared case-insensitively (callers lower-case them).

/** Rank of a match: higher is more specific. Exact names beat every pattern. */
export type Specificity = number;

const EXACT: Specificity = Number.MAX_SAFE_INTEGER;

export interface NameMatch<T> {
  value: T;
  specificity: Specificity;
  /** The filter that matched, as written. */
  filter: string;
}

interface Pattern<T> {
  filter: string;
  regex: RegExp;
  literal: number;
  value: T;
}

function isGlob(s: string): boolean {
  return /[*?[]/.test(s);
}

/** Shell-style wildcards (`*`, `?`, `[a-z]`, `[!a-z]`) as an anchored regular expression. */
function globToRegex(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        const body = glob
          .slice(i + 1, end)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\');
        re += `[${body}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Characters a pattern pins down; more literal characters = more specific. */
function literalLength(glob: string): number {
  return glob.replace(/\[[^\]]*\]/g, '?').replace(/[*?]/g, '').length;
}

/**
 * One set of name filters. The first value added for a filter wins (definition order breaks ties,
 * so the result never depends on hash order).
 */
export class SniIndex<T> {
  private readonly exact = new Map<string, T>();
  /** `*.example.com` stored under `example.com`. */
  private readonly suffixes = new Map<string, T>();
  private readonly patterns: Pattern<T>[] = [];
  private any: T | undefined;
  private none: T | undefined;
  private sorted = true;

  get size(): number {
    return (
      this.exact.size + this.suffixes.size + this.patterns.length + (this.any ? 1 : 0) + (this.none ? 1 : 0)
    );
  }

  add(filter: string, value: T): void {
    const f = filter.toLowerCase();
    if (f === '*') this.any ??= value;
    else if (f === 'none') this.none ??= value;
    else if (!isGlob(f)) {
      if (!this.exact.has(f)) this.exact.set(f, value);
    } else if (f.startsWith('*.') && !isGlob(f.slice(2))) {
      if (!this.suffixes.has(f.slice(2))) this.suffixes.set(f.slice(2), value);
    } else {
      this.patterns.push({ filter: f, regex: globToRegex(f), literal: literalLength(f), value });
      this.sorted = false;
    }
  }

  /** Has a filter other than `*`: the owner asked for specific names. */
  get hasOnlyExplicitNames(): boolean {
    return this.any === undefined;
  }

  /**
   * The most specific match for `name` (lower-case), or for a handshake without SNI when
   * `name` is undefined: `none`, then `*`.
   */
  match(name: string | undefined): NameMatch<T> | undefined {
    if (name === undefined || name === '') {
      if (this.none !== undefined) return { value: this.none, specificity: EXACT, filter: 'none' };
      return this.any === undefined ? undefined : { value: this.any, specificity: 0, filter: '*' };
    }
    const exact = this.exact.get(name);
    if (exact !== undefined) return { value: exact, specificity: EXACT, filter: name };
    let best: NameMatch<T> | undefined;
    // Longest suffix first: for a.b.example.com try b.example.com, example.com, com.
    for (let dot = name.indexOf('.'); dot >= 0; dot = name.indexOf('.', dot + 1)) {
      const suffix = name.slice(dot + 1);
      const hit = this.suffixes.get(suffix);
      if (hit !== undefined) {
        best = { value: hit, specificity: suffix.length + 1, filter: `*.${suffix}` };
        break;
      }
    }
    if (!this.sorted) {
      this.patterns.sort((a, b) => b.literal - a.literal);
      this.sorted = true;
    }
    for (const p of this.patterns) {
      if (best && p.literal <= best.specificity) break;
      if (p.regex.test(name)) {
        best = { value: p.value, specificity: p.literal, filter: p.filter };
        break;
      }
    }
    if (best) return best;
    return this.any === undefined ? undefined : { value: this.any, specificity: 0, filter: '*' };
  }
}
