/**
 * Forward-only numbered migrations from `migrations/NNNNNN_name.sql`. Each runs in its own
 * transaction that records it first; a session-level advisory lock keeps two processes from
 * migrating at once; applying twice changes nothing.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { packageRoot } from './package-root.js';

/** A migration file. */
export interface Migration {
  readonly id: number;
  readonly name: string;
  readonly sql: string;
}

/** The lock key serialising migrations ("roster:migrate"). */
const MIGRATION_LOCK = 0x726f7374_0001;

/** Reads the migrations shipped with Roster, in order. */
export async function readMigrations(
  directory = join(packageRoot(), 'migrations'),
): Promise<Migration[]> {
  const files = (await readdir(directory)).filter((f) => /^\d{6}_[a-z0-9_]+\.sql$/.test(f)).sort();
  return Promise.all(
    files.map(async (file) => ({
      id: Number(file.slice(0, 6)),
      name: file.replace(/\.sql$/, ''),
      sql: await readFile(join(directory, file), 'utf8'),
    })),
  );
}

/** Applies the migrations not applied yet; returns the names of those it applied. */
export async function migrate(pool: pg.Pool, migrations?: readonly Migration[]): Promise<string[]> {
  const all = migrations ?? (await readMigrations());
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS roster_migrations (
      id integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await client.query<{ id: number }>('SELECT id FROM roster_migrations');
    const done = new Set(rows.map((r) => r.id));
    for (const migration of all) {
      if (done.has(migration.id)) continue;
      await client.query('BEGIN');
      try {
        await client.query('INSERT INTO roster_migrations (id, name) VALUES ($1, $2)', [
          migration.id,
          migration.name,
        ]);
        await client.query(migration.sql);
        await client.query('COMMIT');
        applied.push(migration.name);
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      }
    }
    return applied;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    client.release();
  }
}
