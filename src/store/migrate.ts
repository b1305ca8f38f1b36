/**
 * Forward-only numbered migrations from `migrations/NNNNNN_name.sql`. Each runs in its own
 * transaction that records it first; a session-level advisory lock keeps two processes from
 * migrating at once; applying twice changes nothing.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { RosterError } from '../core/errors.js';
import { ROSTER_VERSION } from '../version.js';
import { packageRoot } from './package-root.js';
import { run, statement, type Queryable } from './sql/statement.js';

/** The oldest PostgreSQL Roster runs on: 13 (its SQL uses nothing newer). */
export const MINIMUM_SERVER_VERSION = 130000;

/** Why a server of this `server_version_num` cannot hold the access database, or null. */
export function unsupportedServerReason(versionNum: number, version: string): string | null {
  if (versionNum >= MINIMUM_SERVER_VERSION) return null;
  return `PostgreSQL ${version} is too old for Roster: it needs PostgreSQL 13 or later`;
}

const SERVER_VERSION = statement(
  'server-version',
  `SELECT current_setting('server_version_num')::int AS num, current_setting('server_version') AS version`,
);

/** Refuses a server older than PostgreSQL 13, naming its version. */
export async function requireSupportedServer(db: Queryable): Promise<void> {
  const { rows } = await run<{ num: number; version: string }>(db, SERVER_VERSION);
  const reason = unsupportedServerReason(rows[0]?.num ?? 0, rows[0]?.version ?? 'unknown');
  if (reason !== null) throw new RosterError('unsupported-server', reason);
}

/** The database was migrated by a newer Roster: this one must not write to it. */
export class NewerDatabaseError extends RosterError {
  constructor(unknown: readonly string[]) {
    super(
      'newer-database',
      `the access database was migrated by a newer Roster (migration${unknown.length === 1 ? '' : 's'} ${unknown.join(', ')} ${unknown.length === 1 ? 'is' : 'are'} unknown to Roster ${ROSTER_VERSION}); upgrade Roster, or point it at a database of its own version`,
    );
  }
}

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
    await requireSupportedServer(client);
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS roster_migrations (
      id integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await client.query<{ id: number; name: string }>(
      'SELECT id, name FROM roster_migrations ORDER BY id',
    );
    const done = new Set(rows.map((r) => r.id));
    // As graphile-worker and Kysely do: a database ahead of this code is refused, not "fixed".
    const newest = Math.max(0, ...all.map((m) => m.id));
    const unknown = rows.filter((r) => r.id > newest).map((r) => r.name);
    if (unknown.length > 0) throw new NewerDatabaseError(unknown);
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
