/** Runs the built `roster` command as a user would, in a child process. */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * The CI variables that change the audit log's actor (`ciContext`): cleared, so that tests see
 * the same actor on a laptop and in CI; a test that means to set them passes them.
 */
const NOT_IN_CI = { GITHUB_ACTIONS: '', GITLAB_CI: '' };

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** What a run of `roster` printed and returned. */
export interface RosterRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `roster ...args` from `cwd` (the repository root by default). */
export function runRoster(
  args: readonly string[],
  options: { cwd?: string; input?: string | Uint8Array; env?: NodeJS.ProcessEnv } = {},
): RosterRun {
  const result = spawnSync(process.execPath, [`${ROOT}bin/roster.js`, ...args], {
    cwd: options.cwd ?? ROOT,
    input: options.input ?? '',
    env: { ...process.env, ...NOT_IN_CI, ROSTER_DEBUG: '', ...options.env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** True when the text looks like a JavaScript stack trace. */
export function hasStackTrace(text: string): boolean {
  return /^\s+at .+:\d+:\d+\)?$/m.test(text);
}

/**
 * Like `runRoster`, without blocking the event loop: needed when the test process itself serves
 * something the command talks to (an SMTP server, an HTTP server).
 */
export function runRosterAsync(
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RosterRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`${ROOT}bin/roster.js`, ...args], {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, ...NOT_IN_CI, ROSTER_DEBUG: '', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}
