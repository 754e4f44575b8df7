// Client side of the management interface, used by `sipsd mi` and by tests.
import { request } from 'node:http';
import { isRecord } from './json.js';
import { MgmtError } from './errors.js';
import type { MgmtParams } from './registry.js';

export interface CallMgmtOptions {
  token?: string;
  /** Whole-call deadline. Default 30 s: reload-type commands may legitimately take a while. */
  timeoutMs?: number;
}

/**
 * Calls one command and returns its result. A JSON-RPC error is thrown as a `MgmtError` carrying its code;
 * transport problems (nothing listening, HTTP errors, timeouts) as plain errors with an operator-facing hint.
 */
export async function callMgmt(
  url: string,
  method: string,
  params?: MgmtParams,
  options: CallMgmtOptions = {},
): Promise<unknown> {
  const target = new URL(url);
  if (target.protocol !== 'http:') throw new Error(`management URL must start with http:// (got ${url})`);
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method, params });
  const { status, text } = await post(target, body, options);
  if (status === 401) {
    throw new Error(`the management server at ${url} rejected the request: wrong or missing token`);
  }
  const reply = parseJson(text);
  if (status !== 200) {
    const detail = isRecord(reply) && typeof reply.error === 'string' ? reply.error : text.slice(0, 200);
    throw new Error(`the management server at ${url} answered HTTP ${status}: ${detail}`);
  }
  if (isRecord(reply) && reply.jsonrpc === '2.0') {
    const { error } = reply;
    if (isRecord(error) && typeof error.code === 'number' && typeof error.message === 'string') {
      throw new MgmtError(error.code, error.message, error.data);
    }
    if ('result' in reply) return reply.result;
  }
  throw new Error(`unexpected answer from ${url}: is it the sipsd management interface?`);
}

function post(
  target: URL,
  body: string,
  options: CallMgmtOptions,
): Promise<{ status: number; text: string }> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(body)),
  };
  if (options.token !== undefined) headers.Authorization = `Bearer ${options.token}`;
  return new Promise((resolve, reject) => {
    // No agent: one connection per call, so a short-lived CLI never waits on a pooled keep-alive socket.
    const req = request(target, { method: 'POST', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', fail);
    });
    const timer = setTimeout(
      () =>
        req.destroy(
          new Error(`no answer from the management server at ${target.href} within ${timeoutMs} ms`),
        ),
      timeoutMs,
    );
    function fail(err: NodeJS.ErrnoException): void {
      clearTimeout(timer);
      reject(
        err.code === 'ECONNREFUSED'
          ? new Error(
              `no sipsd management server is running at ${target.href} (connection refused); ` +
                'start sipsd, or point to another with --url URL',
              { cause: err },
            )
          : err,
      );
    }
    req.on('error', fail);
    req.end(body);
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
