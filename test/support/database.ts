/** A database of its own for a test file, cloned from the migrated template. */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { survivesDroppedConnections } from '../../src/store/connect.js';

/** A test database: its URL, a pool, and a way to drop it. */
export interface TestDatabase {
  readonly url: string;
  readonly pool: pg.Pool;
  drop(): Promise<void>;
}

/** Creates a fresh, migrated database. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = inject('pgAdminUrl');
  const name = `roster_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name} TEMPLATE roster_template`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 4 });
  // A test may terminate connections: the next query reports it, the process carries on.
  survivesDroppedConnections(pool);
  return {
    url: url.toString(),
    pool,
    drop: async () => {
      await pool.end();
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

/** Row counts of every access table, to prove that nothing (or something) was written. */
export async function tableCounts(pool: pg.Pool): Promise<Record<string, number>> {
  const tables = [
    'plans',
    'roles',
    'role_permissions',
    'users',
    'organizations',
    'resources',
    'memberships',
    'grants',
    'contacts',
    'invitations',
    'outbox',
    'audit_log',
  ];
  const { rows } = await pool.query(
    tables.map((t) => `SELECT '${t}' AS name, count(*)::int AS n FROM ${t}`).join(' UNION ALL '),
  );
  return Object.fromEntries(rows.map((r: { name: string; n: number }) => [r.name, r.n]));
}

/**
 * Waits (up to `timeoutMs`) until no advisory lock is held: a killed apply's server process
 * notices the dropped connection, rolls back and releases the apply lock.
 */
export async function advisoryLocksReleased(pool: pg.Pool, timeoutMs: number): Promise<void> {
  for (let waited = 0; waited < timeoutMs; waited += 100) {
    const { rows } = await pool.query(
      `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'`,
    );
    if (rows[0].n === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The memberships (the owner's included) of an organization. */
export async function membershipCount(db: pg.Pool | pg.Client, org: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM memberships m JOIN organizations o USING (org_id) WHERE o.name = $1`,
    [org],
  );
  return rows[0]?.n ?? 0;
}
