// The management endpoint: JSON-RPC 2.0 over HTTP, loopback-only unless explicitly exposed with a token.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { BlockList, isIP, type AddressInfo } from 'node:net';
import type { Logger } from '../log/logger.js';
import { isRecord } from './json.js';
import { MgmtError, RpcCode } from './errors.js';
import { bindParams, type CommandRegistry, type MgmtParams } from './registry.js';

export interface MgmtServerOptions {
  host: string;
  port: number;
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  token?: string;
  /** Needed (with a token) to listen on anything but loopback. */
  allowRemote?: boolean;
  registry: CommandRegistry;
  log: Logger;
  /** Serves `GET /metrics` in the Prometheus text format; without it that path is 404. */
  metrics?: () => string | Promise<string>;
  /** Largest accepted request body; larger ones get 413. Default 1 MiB. */
  maxBodyBytes?: number;
}

export interface MgmtServer {
  address: { host: string; port: number };
  url: string;
  close(): Promise<void>;
}

const DEFAULT_MAX_BODY = 1024 * 1024;
const RPC_PATHS = new Set(['/', '/json', '/mi']);
const JSON_TYPE = 'application/json; charset=utf-8';

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** True for `localhost`, 127.0.0.0/8 and ::1 (in any spelling, including IPv4-mapped). */
export function isLoopbackHost(host: string): boolean {
  if (host.toLowerCase() === 'localhost') return true;
  const family = isIP(host);
  return family !== 0 && LOOPBACK.check(host, family === 6 ? 'ipv6' : 'ipv4');
}

export async function startMgmtServer(options: MgmtServerOptions): Promise<MgmtServer> {
  const { host, port, token, registry, log, metrics } = options;
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  if (token === '') throw new Error('management interface: token is set but empty');
  if (!isLoopbackHost(host)) {
    if (!options.allowRemote || token === undefined) {
      throw new Error(
        `management interface: refusing to listen on ${host}, which is not a loopback address; ` +
          'set allowRemote: true and a token to expose it, or use host 127.0.0.1',
      );
    }
    log.warn(
      { host, port },
      'management interface exposed beyond loopback: the bearer token travels in clear',
    );
  }
  // Hashing both sides gives equal lengths, which timingSafeEqual requires, without leaking the token length.
  const expected = token === undefined ? undefined : sha256(`Bearer ${token}`);
  const authorized = (req: IncomingMessage): boolean =>
    expected === undefined || timingSafeEqual(sha256(req.headers.authorization ?? ''), expected);

  const rpc = new RpcDispatcher(registry, log);

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // Checked before routing or reading the body, so an unauthenticated client learns and costs nothing.
    if (!authorized(req)) {
      return sendJson(
        res,
        401,
        { error: 'unauthorized' },
        { 'WWW-Authenticate': 'Bearer', Connection: 'close' },
      );
    }
    const path = new URL(req.url ?? '/', 'http://mgmt').pathname;
    if (path === '/metrics' && metrics) {
      if (req.method !== 'GET') return sendJson(res, 405, { error: 'method not allowed' }, { Allow: 'GET' });
      const text = await metrics();
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' }).end(text);
      return;
    }
    if (!RPC_PATHS.has(path)) return sendJson(res, 404, { error: 'not found' });
    if (req.method === 'GET') {
      const commands = registry.list().map((c) => c.name);
      return sendJson(res, 200, { service: 'sipsd management', protocol: 'JSON-RPC 2.0 via POST', commands });
    }
    if (req.method !== 'POST') {
      return sendJson(res, 405, { error: 'method not allowed' }, { Allow: 'GET, POST' });
    }
    const body = await readBody(req, maxBody);
    if (body === undefined) {
      return sendJson(
        res,
        413,
        { error: `request body larger than ${maxBody} bytes` },
        { Connection: 'close' },
      );
    }
    const reply = await rpc.handle(body);
    if (reply === undefined) res.writeHead(204).end();
    else res.writeHead(200, { 'Content-Type': JSON_TYPE }).end(reply);
  };

  const server = createServer({ requestTimeout: 30_000 }, (req, res) => {
    route(req, res).catch((err: unknown) => {
      log.error({ err, path: req.url }, 'management request failed');
      if (res.headersSent) res.destroy();
      else sendJson(res, 500, { error: 'internal error' });
    });
  });

  await new Promise<void>((resolve, reject) => {
    const onListenError = (err: Error): void =>
      reject(
        new Error(`management interface: cannot listen on ${host}:${port}: ${err.message}`, { cause: err }),
      );
    server.once('error', onListenError);
    server.listen({ host, port }, () => {
      server.off('error', onListenError);
      resolve();
    });
  });
  server.on('error', (err) => log.error({ err }, 'management server error'));

  const bound = server.address() as AddressInfo;
  const address = { host: bound.address, port: bound.port };
  const urlHost = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  log.info(
    { host: address.host, port: address.port, auth: token !== undefined },
    'management interface listening',
  );
  return {
    address,
    url: `http://${urlHost}:${bound.port}/`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Keep-alive connections from CLI calls would otherwise hold close() open.
        server.closeIdleConnections();
      }),
  };
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'Content-Type': JSON_TYPE, ...headers }).end(JSON.stringify(body));
}

/** The body as text, or undefined as soon as it exceeds `limit` (the rest is not read). */
function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  if (Number(req.headers['content-length'] ?? 0) > limit) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        resolve(undefined);
      } else {
        chunks.push(chunk);
      }
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

type RpcId = string | number | null;

interface RpcError {
  code: number;
  message: string;
  data?: unknown;
}

/** Parses JSON-RPC 2.0 bodies and runs their calls against the registry. */
class RpcDispatcher {
  constructor(
    private readonly registry: CommandRegistry,
    private readonly log: Logger,
  ) {}

  /** The serialized reply, or undefined when nothing is owed (notifications only). */
  async handle(body: string): Promise<string | undefined> {
    let message: unknown;
    try {
      message = JSON.parse(body);
    } catch {
      return errorReply(null, { code: RpcCode.ParseError, message: 'parse error: body is not valid JSON' });
    }
    if (!Array.isArray(message)) return this.call(message);
    if (message.length === 0) {
      return errorReply(null, { code: RpcCode.InvalidRequest, message: 'invalid request: empty batch' });
    }
    // Sequential on purpose: operators expect `log_level debug` then `log_level` in one batch to see the change.
    const replies: string[] = [];
    for (const entry of message) {
      const reply = await this.call(entry);
      if (reply !== undefined) replies.push(reply);
    }
    return replies.length === 0 ? undefined : `[${replies.join(',')}]`;
  }

  private async call(request: unknown): Promise<string | undefined> {
    if (!isRecord(request)) return invalidRequest(null, 'not an object');
    const id = request.id;
    const validId = id === null || typeof id === 'string' || typeof id === 'number';
    const replyId = validId ? id : null;
    if (request.jsonrpc !== '2.0') return invalidRequest(replyId, 'jsonrpc must be "2.0"');
    if (typeof request.method !== 'string') return invalidRequest(replyId, 'method must be a string');
    if (!validId && 'id' in request) return invalidRequest(null, 'id must be a string, number or null');
    const params = request.params;
    if (params !== undefined && !isRecord(params) && !Array.isArray(params)) {
      return invalidRequest(replyId, 'params must be an object or an array');
    }
    const notification = !('id' in request);
    const outcome = await this.run(request.method, params);
    if (notification) return undefined;
    if ('error' in outcome) return errorReply(replyId, outcome.error);
    try {
      return JSON.stringify({ jsonrpc: '2.0', id: replyId, result: outcome.result ?? null });
    } catch (err) {
      this.log.error(
        { err, command: request.method },
        'management command returned an unserializable result',
      );
      return errorReply(replyId, {
        code: RpcCode.InternalError,
        message: `result not serializable: ${String(err)}`,
      });
    }
  }

  private async run(
    method: string,
    raw: MgmtParams | undefined,
  ): Promise<{ result: unknown } | { error: RpcError }> {
    const cmd = this.registry.get(method);
    if (!cmd) {
      return {
        error: { code: RpcCode.MethodNotFound, message: `unknown command '${method}' (try 'which')` },
      };
    }
    try {
      return { result: await cmd.handler(bindParams(cmd, raw)) };
    } catch (err) {
      if (err instanceof MgmtError) {
        this.log.debug(
          { command: cmd.name, code: err.code, reason: err.message },
          'management command refused',
        );
        return { error: { code: err.code, message: err.message, data: err.data } };
      }
      // Params are deliberately not logged: they may carry secrets such as key passphrases.
      this.log.error({ err, command: cmd.name }, 'management command failed');
      const message = err instanceof Error ? err.message : String(err);
      return { error: { code: RpcCode.InternalError, message } };
    }
  }
}

function errorReply(id: RpcId, error: RpcError): string {
  return JSON.stringify({ jsonrpc: '2.0', id, error });
}

function invalidRequest(id: RpcId, why: string): string {
  return errorReply(id, { code: RpcCode.InvalidRequest, message: `invalid request: ${why}` });
}
