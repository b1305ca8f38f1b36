/**
 * A real highly available PostgreSQL on loopback ports, run by pg_auto_failover (Debian's
 * `postgresql-15-auto-failover` and `pg-auto-failover-cli`): a monitor, a primary and a
 * secondary, each a `pg_autoctl run` process (as the `postgres` user when this process is
 * root). Replication is synchronous (pg_auto_failover's default with one standby:
 * `synchronous_standby_names = 'ANY 1 (…)'`), so a failover loses no committed transaction.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { serverUser } from '../../src/store/postgres-server.js';
import { freePort } from '../../src/store/scratch-postgres.js';

const exec = promisify(execFile);

/** pg_auto_failover's command line. */
export const PG_AUTOCTL = '/usr/bin/pg_autoctl';
const PG_BIN = '/usr/lib/postgresql/15/bin';

/** Whether pg_auto_failover is installed here (CI installs it). */
export const hasAutoFailover = () => existsSync(PG_AUTOCTL) && existsSync(join(PG_BIN, 'pg_ctl'));

/** A running formation. */
export interface Formation {
  /** The formation's URI (`pg_autoctl show uri`), as the user `postgres`, without TLS. */
  readonly url: string;
  /** The port of the node that is primary now. */
  primaryPort(): Promise<number>;
  /** `pg_autoctl perform failover`: the secondary is promoted, the primary demoted; waits. */
  failover(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts a monitor and two nodes; resolves once one is primary and the other secondary. */
export async function startFormation(): Promise<Formation> {
  const dir = await mkdtemp(join(tmpdir(), 'roster-paf-'));
  await chmod(dir, 0o755);
  const runAs = await serverUser();
  if (runAs.uid !== undefined) await chown(dir, runAs.uid, runAs.gid ?? runAs.uid);
  // pg_autoctl keeps its state under XDG directories of the user it runs as: here, the formation's.
  const env = {
    ...process.env,
    PATH: `${PG_BIN}:${process.env.PATH ?? ''}`,
    HOME: dir,
    XDG_CONFIG_HOME: join(dir, 'config'),
    XDG_DATA_HOME: join(dir, 'data'),
    XDG_RUNTIME_DIR: join(dir, 'run'),
  };
  const options = { ...runAs, env, cwd: dir };
  const autoctl = (args: string[]) => exec(PG_AUTOCTL, args, options);
  const children: ChildProcess[] = [];
  const run = (pgdata: string) => {
    const child = spawn(PG_AUTOCTL, ['run', '--pgdata', pgdata], { ...options, stdio: 'ignore' });
    children.push(child);
  };
  const monitor = join(dir, 'monitor');
  const [monitorPort, port1, port2] = [await freePort(), await freePort(), await freePort()];
  const stop = async () => {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) resolve();
            else child.once('exit', () => resolve());
          }),
      ),
    );
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await autoctl([
      'create',
      'monitor',
      '--pgdata',
      monitor,
      '--pgport',
      String(monitorPort),
      '--hostname',
      '127.0.0.1',
      '--auth',
      'trust',
      '--no-ssl',
    ]);
    run(monitor);
    const monitorUri = await waitFor(async () => {
      const { stdout } = await autoctl([
        'show',
        'uri',
        '--pgdata',
        monitor,
        '--formation',
        'monitor',
      ]);
      return stdout.trim() || undefined;
    });
    for (const [name, port] of [
      ['node1', port1],
      ['node2', port2],
    ] as const) {
      await autoctl([
        'create',
        'postgres',
        '--pgdata',
        join(dir, name),
        '--pgport',
        String(port),
        '--hostname',
        '127.0.0.1',
        '--monitor',
        monitorUri,
        '--auth',
        'trust',
        '--no-ssl',
      ]);
      run(join(dir, name));
    }
    const state = async () =>
      (await autoctl(['show', 'state', '--pgdata', monitor, '--json'])).stdout;
    const nodes = async () =>
      JSON.parse(await state()) as { current_group_state: string; nodeport: number }[];
    await waitFor(async () => {
      const states = (await nodes()).map((n) => n.current_group_state).sort();
      return states.join() === 'primary,secondary' || undefined;
    }, 90_000);
    const primaryPort = async () => {
      const primary = (await nodes()).find((n) => n.current_group_state === 'primary');
      if (primary === undefined) throw new Error('no primary');
      return primary.nodeport;
    };
    return {
      url: `postgresql://postgres@127.0.0.1:${port1},127.0.0.1:${port2}/postgres?target_session_attrs=read-write&sslmode=disable`,
      primaryPort,
      async failover() {
        const before = await primaryPort();
        await autoctl(['perform', 'failover', '--pgdata', monitor, '--wait', '90']);
        await waitFor(async () => {
          const states = await nodes();
          const primary = states.find((n) => n.current_group_state === 'primary');
          return (
            (primary !== undefined &&
              primary.nodeport !== before &&
              states.every((n) => ['primary', 'secondary'].includes(n.current_group_state))) ||
            undefined
          );
        }, 90_000);
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Polls `check` until it returns a value, or fails after `timeoutMs`. */
async function waitFor<T>(check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `pg_auto_failover: timed out${last instanceof Error ? `: ${last.message}` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
