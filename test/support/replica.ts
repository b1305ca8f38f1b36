/**
 * A primary and its streaming standby, real PostgreSQL servers on loopback ports: the primary
 * from the embedded binaries, the standby made by Debian's pg_basebackup (-R: it follows the
 * primary) and started from the same binaries. For the tests of reading from a replica.
 */
import { execFile } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { PostgresServer, serverUser } from '../../src/store/postgres-server.js';
import { freePort } from '../../src/store/scratch-postgres.js';

const run = promisify(execFile);

/** Debian's PostgreSQL 15 client and server tools (the embedded package ships no pg_basebackup). */
export const PG_BASEBACKUP = '/usr/lib/postgresql/15/bin/pg_basebackup';

/** Two servers and their URLs (database `postgres`, user `postgres`). */
export interface ReplicatedPair {
  readonly primaryUrl: string;
  readonly standbyUrl: string;
  /** Both hosts, the standby first: only target_session_attrs finds the primary. */
  readonly clusterUrl: string;
  /** Stops the primary (fast shutdown: its sessions are cut, open transactions lost). */
  stopPrimary(): Promise<void>;
  /** Promotes the standby; resolves once it accepts writes. */
  promote(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts a primary, copies it with pg_basebackup and starts the copy as its standby. */
export async function startReplicatedPair(
  options: { synchronous?: boolean } = {},
): Promise<ReplicatedPair> {
  const dir = await mkdtemp(join(tmpdir(), 'roster-replica-'));
  await chmod(dir, 0o755);
  const password = 'replica-test';
  const runAs = await serverUser();
  const [primaryPort, standbyPort] = [await freePort(), await freePort()];
  const primary = new PostgresServer({
    dataDirectory: join(dir, 'primary'),
    port: primaryPort,
    password,
    settings: {
      wal_level: 'replica',
      max_wal_senders: '4',
      fsync: 'off',
      // Synchronous: a commit returns once the standby has it, so a failover loses none.
      ...(options.synchronous === true && { synchronous_standby_names: '*' }),
    },
  });
  await primary.initialise();
  await primary.start();
  const standbyDirectory = join(dir, 'standby');
  const servers: PostgresServer[] = [primary];
  try {
    // pg_basebackup fills an empty directory the server's user owns.
    await mkdir(standbyDirectory, { mode: 0o700 });
    if (runAs.uid !== undefined) await chown(standbyDirectory, runAs.uid, runAs.gid ?? runAs.uid);
    await run(
      PG_BASEBACKUP,
      [
        '-h',
        '127.0.0.1',
        '-p',
        String(primaryPort),
        '-U',
        'postgres',
        '-D',
        standbyDirectory,
        '-R',
        '-X',
        'stream',
      ],
      { ...runAs, env: { ...process.env, PGPASSWORD: password } },
    );
    const standby = new PostgresServer({
      dataDirectory: standbyDirectory,
      port: standbyPort,
      password,
      settings: { hot_standby: 'on', fsync: 'off' },
    });
    await standby.start();
    servers.push(standby);
  } catch (error) {
    await primary.stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const url = (port: number) => `postgresql://postgres:${password}@127.0.0.1:${port}/postgres`;
  return {
    primaryUrl: url(primaryPort),
    standbyUrl: url(standbyPort),
    clusterUrl: `postgresql://postgres:${password}@127.0.0.1:${standbyPort},127.0.0.1:${primaryPort}/postgres?target_session_attrs=read-write`,
    stopPrimary: () => primary.stop(),
    async promote() {
      const client = new pg.Client({ connectionString: url(standbyPort) });
      await client.connect();
      try {
        await client.query('SELECT pg_promote(true, 30)');
      } finally {
        await client.end();
      }
    },
    async stop() {
      for (const server of servers.reverse()) await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
