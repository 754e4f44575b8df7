// Shared test scaffolding: a server with a few probe commands, a raw HTTP client and a log capture.
import { mkdtempSync, openSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { setTimeout } from 'node:timers/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { createLogger, silentLogger, type Logger } from '../../src/log/logger.js';
import {
  CommandRegistry,
  MgmtError,
  namedParams,
  startMgmtServer,
  type MgmtServer,
  type MgmtServerOptions,
} from '../../src/mgmt/index.js';

/** Commands that exercise each dispatch path; `calls` records what handlers received. */
export function probeRegistry(): { registry: CommandRegistry; calls: unknown[] } {
  const calls: unknown[] = [];
  const registry = new CommandRegistry();
  registry.register({
    name: 'echo',
    summary: 'Return the raw params',
    handler: (params) => {
      calls.push(params);
      return params;
    },
  });
  registry.register({
    name: 'add',
    aliases: ['math.add'],
    summary: 'Add two numbers',
    params: [
      { name: 'a', required: true, summary: 'first' },
      { name: 'b', summary: 'second, default 0' },
    ],
    handler: (params) => {
      const { a, b = 0 } = namedParams(params);
      if (typeof a !== 'number' || typeof b !== 'number') throw new MgmtError(-32602, 'add: numbers only');
      return a + b;
    },
  });
  registry.register({
    name: 'boom',
    summary: 'Fail unexpectedly',
    handler: () => {
      throw new Error('disk on fire');
    },
  });
  registry.register({
    name: 'refuse',
    summary: 'Fail on purpose',
    params: [],
    handler: async () => {
      throw new MgmtError(-32001, 'reload refused', { domain: 'example.org' });
    },
  });
  registry.register({ name: 'nothing', summary: 'Return undefined', params: [], handler: () => undefined });
  registry.register({ name: 'bigint', summary: 'Return a BigInt', params: [], handler: () => 1n });
  return { registry, calls };
}

/** Starts a server on 127.0.0.1:0 (unless overridden) that the test closes when it ends. */
export async function serve(t: TestContext, options: Partial<MgmtServerOptions> = {}): Promise<MgmtServer> {
  const server = await startMgmtServer({
    host: '127.0.0.1',
    port: 0,
    registry: probeRegistry().registry,
    log: silentLogger,
    ...options,
  });
  t.after(() => server.close());
  return server;
}

export type LogEntry = Record<string, unknown>;

/**
 * A logger writing JSON lines to a temp file, and a reader that waits until an entry matches `until`:
 * pino's async destination may still be writing when flush() calls back.
 */
export function captureLog(): {
  log: Logger;
  entriesUntil: (until: (e: LogEntry) => boolean) => Promise<LogEntry[]>;
} {
  const file = join(mkdtempSync(join(tmpdir(), 'sipsd-mgmt-')), 'log.jsonl');
  const log = createLogger({ level: 'debug', destination: openSync(file, 'w') });
  const entriesUntil = async (until: (e: LogEntry) => boolean): Promise<LogEntry[]> => {
    for (let attempt = 0; attempt < 100; attempt++) {
      const entries = readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as LogEntry);
      if (entries.some(until)) return entries;
      await setTimeout(20);
    }
    throw new Error(`no matching log entry in ${file}`);
  };
  return { log, entriesUntil };
}

export interface HttpReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/**
 * One HTTP exchange with full control over method, headers and body; `chunks` sends the body in pieces
 * without Content-Length. Plain node:http rather than fetch, which refuses some ports and adds headers.
 */
export function http(
  baseUrl: string,
  options: {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string;
    chunks?: string[];
  },
): Promise<HttpReply> {
  const url = new URL(options.path ?? '/', baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: options.method ?? 'GET', headers: options.headers, agent: false },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      },
    );
    req.on('error', reject);
    for (const chunk of options.chunks ?? []) req.write(chunk);
    req.end(options.body);
  });
}

/** POSTs a JSON-RPC body (object or raw text) and returns the HTTP reply with the body parsed. */
export async function rpc(
  baseUrl: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<HttpReply & { json: unknown }> {
  const reply = await http(baseUrl, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { ...reply, json: reply.text === '' ? undefined : JSON.parse(reply.text) };
}

/** A URL where nothing listens: a port that was just bound and released. */
export async function deadUrl(): Promise<string> {
  const server = await startMgmtServer({
    host: '127.0.0.1',
    port: 0,
    registry: new CommandRegistry(),
    log: silentLogger,
  });
  await server.close();
  return server.url;
}
