/** Who is running Roster, and from what commit: recorded in the audit log and lock holder. */
import { spawnSync } from 'node:child_process';
import { hostname, userInfo } from 'node:os';
import type { CliIo } from './io.js';

/** `alice@laptop`. */
export function whoAmI(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (some containers).
  }
  return `${user}@${hostname()}`;
}

/** The git commit of the working directory, from CI variables or git itself, if any. */
export function currentCommit(io: CliIo): string | undefined {
  const fromEnv = io.env.GITHUB_SHA ?? io.env.CI_COMMIT_SHA ?? io.env.GIT_COMMIT;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const git = spawnSync('git', ['rev-parse', 'HEAD'], {
    cwd: io.cwd,
    encoding: 'utf8',
    timeout: 5000,
  });
  const sha = git.status === 0 ? git.stdout.trim() : '';
  return /^[0-9a-f]{40,64}$/.test(sha) ? sha : undefined;
}
