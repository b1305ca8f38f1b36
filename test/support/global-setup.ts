/**
 * Starts one real PostgreSQL server for the whole test run (or uses ROSTER_TEST_DATABASE_URL),
 * builds a migrated template database, and hands its address to the test files, which clone the
 * template into a database of their own.
 */
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migrate } from '../../src/store/migrate.js';
import { startScratchPostgres } from '../../src/store/scratch-postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the server's `postgres` database, for creating test databases. */
    pgAdminUrl: string;
  }
}

/** The migrated template every test database is cloned from. */
export const TEMPLATE_DATABASE = 'roster_template';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let adminUrl = process.env.ROSTER_TEST_DATABASE_URL;
  let stop = async () => {};
  if (adminUrl === undefined || adminUrl === '') {
    const server = await startScratchPostgres({ fsync: 'off', max_connections: '200' });
    adminUrl = server.url;
    stop = server.stop;
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
