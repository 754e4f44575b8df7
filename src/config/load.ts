// Reads a YAML config file, validates it against the schema and reports every problem with the file,
// line and key, plus a hint on how to fix it. Relative paths are resolved against the file's folder.
//
// Two YAML parsers, for two jobs: js-yaml reads a file fast (100,000 TLS domains in about a second),
// and `yaml` keeps every node's source position, which only a file with problems needs. A valid file
// is read once, by js-yaml; the position-keeping parse runs only to name the lines of problems.
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { load as loadYaml, CORE_SCHEMA } from 'js-yaml';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import type { z } from 'zod';
import { normalizeConfigDomain } from '../tls/domain.js';
import { configSchema, type SipsdConfig } from './schema.js';

export interface ConfigProblem {
  file: string;
  line?: number;
  /** Dotted key path, e.g. `tls_domains[0].certificate`. */
  key: string;
  message: string;
}

export type ConfigLoad =
  { ok: true; config: SipsdConfig; file: string } | { ok: false; problems: ConfigProblem[] };

export function formatProblem(p: ConfigProblem): string {
  const where = p.line === undefined ? p.file : `${p.file}:${p.line}`;
  return p.key ? `${where}: ${p.key}: ${p.message}` : `${where}: ${p.message}`;
}

function keyPath(path: PropertyKey[]): string {
  return path.reduce<string>((acc, k) => {
    if (typeof k === 'number') return `${acc}[${k}]`;
    return acc ? `${acc}.${String(k)}` : String(k);
  }, '');
}

/** The line of a key path in the file (or of its closest existing parent). */
type LineOf = (path: PropertyKey[]) => number | undefined;

/** The YAML source parsed with positions, so that a problem names its line. */
class PositionedSource {
  readonly counter = new LineCounter();
  readonly doc: Document;
  constructor(text: string) {
    this.doc = parseDocument(text, { lineCounter: this.counter, prettyErrors: false, uniqueKeys: true });
  }
  lineOf: LineOf = (path) => {
    for (let n = path.length; n >= 0; n--) {
      const node = this.doc.getIn(path.slice(0, n) as unknown[], true);
      if (isNode(node) && node.range) return this.counter.linePos(node.range[0]).line;
    }
    return undefined;
  };
}

/** Names of top-level and nested keys, to suggest the intended one for a typo. */
function closestKey(unknown: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(unknown.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(unknown, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

function knownKeysAt(path: PropertyKey[]): string[] {
  let schema: z.ZodType = configSchema;
  for (const k of path) {
    schema = unwrap(schema);
    if (typeof k === 'number') {
      if ('element' in schema) schema = (schema as unknown as { element: z.ZodType }).element;
    } else if ('shape' in schema) {
      const next = (schema as unknown as { shape: Record<string, z.ZodType> }).shape[String(k)];
      if (!next) return [];
      schema = next;
    }
  }
  schema = unwrap(schema);
  return 'shape' in schema ? Object.keys((schema as unknown as { shape: object }).shape) : [];
}

function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema as unknown as { def?: { innerType?: z.ZodType; out?: z.ZodType } };
  while (s.def?.innerType ?? s.def?.out) s = (s.def.innerType ?? s.def.out) as typeof s;
  return s as unknown as z.ZodType;
}

/**
 * Called with the parsed YAML before it is checked: `sipsd start` reads `workers` there, to fork
 * the workers while a large configuration is still being validated.
 */
export type OnParsed = (raw: unknown) => void;

/** Validates a configuration's YAML text; exported for `sipsd check` and tests. */
export function validateConfigText(text: string, file: string, onParsed?: OnParsed): ConfigLoad {
  let positioned: PositionedSource | undefined;
  const lineOf: LineOf = (path) => (positioned ??= new PositionedSource(text)).lineOf(path);
  let raw: unknown;
  try {
    // Both parsers read YAML 1.2's core schema (`on`/`off` stay strings) and refuse duplicate keys.
    raw = loadYaml(text, { schema: CORE_SCHEMA, filename: file }) ?? {};
  } catch {
    // The syntax error is reported by the parser whose messages the docs show, with its line.
    positioned = new PositionedSource(text);
    const { doc, counter } = positioned;
    if (doc.errors.length > 0) {
      return {
        ok: false,
        problems: doc.errors.map((e) => ({
          file,
          line: counter.linePos(e.pos[0]).line,
          key: '',
          message: `YAML syntax: ${e.message.split('\n')[0]}`,
        })),
      };
    }
    raw = doc.toJS() ?? {};
  }
  onParsed?.(raw);
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const problems: ConfigProblem[] = [];
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) {
          const path = [...issue.path, key];
          const hint = closestKey(key, knownKeysAt(issue.path));
          problems.push({
            file,
            line: lineOf(path),
            key: keyPath(path),
            message: hint ? `unknown key; did you mean "${hint}"?` : 'unknown key; see docs/configuration.md',
          });
        }
        continue;
      }
      problems.push({
        file,
        line: lineOf(issue.path),
        key: keyPath(issue.path),
        message: issue.message,
      });
    }
    return { ok: false, problems };
  }
  const config = resolvePaths(parsed.data, dirname(resolve(file)));
  const semantic = checkSemantics(config, file, lineOf);
  const portAlias = tlsPortAlias(config, raw);
  if (portAlias)
    semantic.push({
      file,
      line: lineOf(['tls_port_no']),
      key: 'tls_port_no',
      message: portAlias,
    });
  return semantic.length > 0 ? { ok: false, problems: semantic } : { ok: true, config, file: resolve(file) };
}

/** Paths of the top level; TLS domain paths are resolved by the domain model against the same folder. */
function resolvePaths(config: SipsdConfig, base: string): SipsdConfig {
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  return {
    ...config,
    ...(config.script === undefined ? {} : { script: abs(config.script) }),
    ...(config.tls_config === undefined ? {} : { tls_config: abs(config.tls_config) }),
  };
}

/** Kamailio's tls_port_no stands for tls_port; both at once must agree. Returns the problem, if any. */
function tlsPortAlias(config: SipsdConfig, raw: unknown): string | undefined {
  if (config.tls_port_no === undefined) return undefined;
  const explicit = typeof raw === 'object' && raw !== null && 'tls_port' in raw;
  if (explicit && config.tls_port !== config.tls_port_no)
    return `tls_port_no ${config.tls_port_no} contradicts tls_port ${config.tls_port}: keep one of them`;
  config.tls_port = config.tls_port_no;
  return undefined;
}

/** Rules that span several keys. */
function checkSemantics(config: SipsdConfig, file: string, lineOf: LineOf): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const seen = new Map<string, number>();
  config.tls_domains.forEach((d, i) => {
    const key = `${d.type}:${d.name}`;
    const prev = seen.get(key);
    if (prev !== undefined) {
      problems.push({
        file,
        line: lineOf(['tls_domains', i, 'name']),
        key: `tls_domains[${i}].name`,
        message: `a second ${d.type} domain named "${d.name}" (the first is tls_domains[${prev}]); names are unique per type`,
      });
    }
    seen.set(key, i);
    const normalized = normalizeConfigDomain(d, resolve(file));
    if (Array.isArray(normalized)) {
      for (const p of normalized) {
        problems.push({
          file,
          line: lineOf(['tls_domains', i, p.field]),
          key: `tls_domains[${i}].${p.field}`,
          message: p.reason,
        });
      }
    }
  });
  if (config.mi.allow_remote && !config.mi.token) {
    problems.push({
      file,
      line: lineOf(['mi', 'allow_remote']),
      key: 'mi.allow_remote',
      message: 'a management interface reachable beyond loopback needs mi.token (16+ characters)',
    });
  }
  return problems;
}

export async function loadConfigFile(file: string, onParsed?: OnParsed): Promise<ConfigLoad> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const message =
      code === 'ENOENT'
        ? 'file not found; run `sipsd start` without -c to create a default configuration'
        : `cannot read the file (${code ?? String(err)})`;
    return { ok: false, problems: [{ file, key: '', message }] };
  }
  return validateConfigText(text, file, onParsed);
}

/** The configuration with every default applied, as used when no file exists yet. */
export function defaultConfig(): SipsdConfig {
  return configSchema.parse({});
}
