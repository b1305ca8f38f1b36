/** `roster serve` as a real process, as a user (or a container) runs it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../../src/store/scratch-postgres.js';
import { ROOT } from './run-roster.js';

/** A running `roster serve`. */
export interface ServeProcess {
  readonly base: string;
  readonly child: ChildProcess;
  /** Everything it wrote to stderr so far (the request log). */
  stderr(): string;
  /** Sends SIGTERM; resolves with the exit code and how long the exit took. */
  terminate(): Promise<{ code: number | null; ms: number }>;
}

/** Starts `roster serve` on a free port with `env` (DATABASE_URL and so on) and extra `args`. */
export async function startServe(
  env: NodeJS.ProcessEnv,
  args: readonly string[] = [],
  cwd = ROOT,
): Promise<ServeProcess> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [`${ROOT}bin/roster.js`, 'serve', '--port', String(port), ...args],
    { cwd, env: { ...process.env, ROSTER_DEBUG: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('Roster is serving')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    base: `http://127.0.0.1:${port}`,
    child,
    stderr: () => stderr,
    async terminate() {
      const started = Date.now();
      if (child.exitCode === null) child.kill('SIGTERM');
      const code = await exited;
      return { code, ms: Date.now() - started };
    },
  };
}
