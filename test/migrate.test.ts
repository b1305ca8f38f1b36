/** Migrations against a real PostgreSQL. */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  migrate,
  readMigrations,
  requireSupportedServer,
  unsupportedServerReason,
} from '../src/store/migrate.js';
import { hasStackTrace, runRoster } from './support/run-roster.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => db.drop());

const schemaDump = async (pool: pg.Pool) =>
  (
    await pool.query(
      `SELECT table_name, column_name, data_type FROM information_schema.columns
        WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`,
    )
  ).rows;

describe('migrations', () => {
  it('are numbered files applied in order, recorded once', async () => {
    const migrations = await readMigrations();
    expect(migrations.map((m) => m.id)).toEqual(migrations.map((_, i) => i + 1));
    const { rows } = await db.pool.query('SELECT id, name FROM roster_migrations ORDER BY id');
    expect(rows.map((r) => r.name)).toEqual(migrations.map((m) => m.name));
  });

  it('change nothing when applied twice', async () => {
    const before = await schemaDump(db.pool);
    expect(await migrate(db.pool)).toEqual([]);
    expect(await migrate(db.pool)).toEqual([]);
    expect(await schemaDump(db.pool)).toEqual(before);
  });

  it('lead every tenant table with org_id', async () => {
    const { rows } = await db.pool.query(
      `SELECT table_name, column_name FROM information_schema.columns
        WHERE table_schema = 'public' AND ordinal_position = 1
          AND table_name NOT IN ('plans', 'roles', 'role_permissions', 'users', 'user_aliases', 'user_records', 'organizations', 'roster_migrations', 'api_keys', 'roster_settings', 'input_files')`,
    );
    expect(rows.length).toBeGreaterThanOrEqual(7);
    for (const row of rows) expect(row.column_name, row.table_name).toBe('org_id');
  });

  it('roll back a failing migration whole, recording nothing', async () => {
    const broken = [
      { id: 900, name: '000900_broken', sql: 'CREATE TABLE half_done (x int); SELECT 1/0;' },
    ];
    await expect(migrate(db.pool, broken)).rejects.toThrow(/division by zero/);
    const { rows } = await db.pool.query(
      `SELECT (SELECT count(*)::int FROM roster_migrations WHERE id = 900) AS recorded,
              to_regclass('public.half_done') IS NOT NULL AS table_exists`,
    );
    expect(rows[0]).toEqual({ recorded: 0, table_exists: false });
  });

  it('allow exactly one owner per organization, checked at commit', async () => {
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`INSERT INTO organizations (name) VALUES ('o')`);
      await client.query(`INSERT INTO users (email) VALUES ('a@x.io'), ('b@x.io')`);
      await client.query(
        `INSERT INTO memberships (org_id, user_id, role)
         SELECT o.org_id, u.user_id, 'owner' FROM organizations o, users u`,
      );
      await expect(client.query('COMMIT')).rejects.toThrow(/memberships_one_owner/);
    } finally {
      client.release();
    }
  });
});

describe('a database migrated by a newer Roster', () => {
  let newer: TestDatabase;
  beforeAll(async () => {
    newer = await createTestDatabase();
    await newer.pool.query(
      `INSERT INTO roster_migrations (id, name) VALUES (999998, '999998_from_the_future')`,
    );
  });
  afterAll(async () => newer.drop());

  it('is refused, naming the migration it does not know, and left as it was', async () => {
    await expect(migrate(newer.pool)).rejects.toThrow(
      /migrated by a newer Roster \(migration 999998_from_the_future is unknown to Roster \d+\.\d+\.\d+\); upgrade Roster/,
    );
    const { rows } = await newer.pool.query('SELECT max(id)::int AS id FROM roster_migrations');
    expect(rows[0].id).toBe(999998);
  });

  it('makes roster plan exit 1 with that message', async () => {
    const run = runRoster(['plan', '-f', 'examples/'], { env: { DATABASE_URL: newer.url } });
    expect(run.status, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/migrated by a newer Roster/);
    expect(hasStackTrace(run.stderr)).toBe(false);
  });
});

describe('the server version', () => {
  it('is at least PostgreSQL 13, or Roster says which version it found', () => {
    expect(unsupportedServerReason(120017, '12.17')).toBe(
      'PostgreSQL 12.17 is too old for Roster: it needs PostgreSQL 13 or later',
    );
    expect(unsupportedServerReason(130000, '13.0')).toBeNull();
    expect(unsupportedServerReason(150018, '15.18')).toBeNull();
  });

  it('of the test server passes the check', async () => {
    await expect(requireSupportedServer(db.pool)).resolves.toBeUndefined();
  });
});
