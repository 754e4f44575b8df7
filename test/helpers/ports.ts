// Loopback ports for tests and benchmarks.
import { createServer, type AddressInfo } from 'node:net';

/**
 * A loopback TCP port nothing listens on, just freed: to listen on (also for UDP: both are free in
 * practice on loopback), or as a target that refuses connections.
 */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
