// Typed command errors: handlers throw these to answer a precise JSON-RPC error instead of a generic one.

/** JSON-RPC 2.0 error codes, plus the application range (-32000..-32099) for command failures. */
export const RpcCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  CommandFailed: -32000,
} as const;

/** An error whose code, message and data reach the caller unchanged (server side and client side). */
export class MgmtError extends Error {
  override readonly name = 'MgmtError';

  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}
