/** `roster serve`'s HTTP server in the test process, on a free loopback port. */
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import { ServerMetrics } from '../../src/telemetry/metrics.js';
import { createRosterServer, type ServerOptions } from '../../src/server/server.js';

/** A listening server: its base URL and a way to close it. */
export interface TestServer {
  readonly base: string;
  close(): Promise<void>;
}

/** Starts the server on `pool` (metrics of its own unless given). */
export async function startTestServer(
  pool: pg.Pool,
  options: Partial<Omit<ServerOptions, 'pool'>> = {},
): Promise<TestServer> {
  const server = await createRosterServer({ metrics: new ServerMetrics(), ...options, pool });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
