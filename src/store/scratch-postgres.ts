/**
 * A throwaway PostgreSQL server for the test harness and the benchmarks: the npm-shipped server
 * binaries in a temporary directory, on a free loopback port, deleted when stopped.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PostgresServer } from './postgres-server.js';

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null ? resolve(address.port) : reject(),
      );
    });
  });
}

/** Starts a server; `settings` become `-c name=value` flags. Returns a superuser URL and a stop. */
export async function startScratchPostgres(
  settings: Readonly<Record<string, string>> = {},
): Promise<{ url: string; stop: () => Promise<void> }> {
  const directory = mkdtempSync(join(tmpdir(), 'roster-pg-'));
  // As root the server runs as the postgres user, which must traverse the directory.
  chmodSync(directory, 0o711);
  const port = await freePort();
  const server = new PostgresServer({
    dataDirectory: join(directory, 'data'),
    port,
    password: 'roster-scratch',
    settings,
  });
  try {
    await server.initialise();
    await server.start();
  } catch (error) {
    await server.stop();
    rmSync(directory, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `postgresql://postgres:roster-scratch@127.0.0.1:${port}/postgres`,
    stop: async () => {
      await server.stop();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
