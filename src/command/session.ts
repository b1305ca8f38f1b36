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

/** Who and what ran Roster in CI, from the variables the CI sets: for the audit log. */
export interface CiContext {
  /** The person behind the run: `octocat via GitHub Actions`; undefined outside a known CI. */
  readonly actor?: string;
  /** The run, and the pull (merge) request it belongs to, as links. */
  readonly source: Readonly<Record<string, string>>;
}

/**
 * The person and the pull request behind a CI run, from GitHub Actions' variables (GITHUB_ACTOR,
 * GITHUB_REF `refs/pull/N/merge`, GITHUB_RUN_ID) or GitLab CI's (GITLAB_USER_LOGIN,
 * CI_MERGE_REQUEST_IID, CI_PIPELINE_URL), as their documentation names them.
 */
export function ciContext(env: NodeJS.ProcessEnv): CiContext {
  const set = (value: string | undefined): value is string => value !== undefined && value !== '';
  if (env.GITHUB_ACTIONS === 'true') {
    const repository = `${env.GITHUB_SERVER_URL ?? 'https://github.com'}/${env.GITHUB_REPOSITORY ?? ''}`;
    const pull = /^refs\/pull\/(\d+)\//.exec(env.GITHUB_REF ?? '')?.[1];
    return {
      ...(set(env.GITHUB_ACTOR) && { actor: `${env.GITHUB_ACTOR} via GitHub Actions` }),
      source: {
        ci: 'github-actions',
        ...(set(env.GITHUB_RUN_ID) && { run: `${repository}/actions/runs/${env.GITHUB_RUN_ID}` }),
        ...(pull !== undefined && { pullRequest: `${repository}/pull/${pull}` }),
      },
    };
  }
  if (env.GITLAB_CI === 'true') {
    return {
      ...(set(env.GITLAB_USER_LOGIN) && { actor: `${env.GITLAB_USER_LOGIN} via GitLab CI` }),
      source: {
        ci: 'gitlab-ci',
        ...(set(env.CI_PIPELINE_URL) && { run: env.CI_PIPELINE_URL }),
        ...(set(env.CI_MERGE_REQUEST_IID) && {
          pullRequest: `${env.CI_PROJECT_URL ?? ''}/-/merge_requests/${env.CI_MERGE_REQUEST_IID}`,
        }),
      },
    };
  }
  return { source: {} };
}

/** Who runs a command, for the audit log: the person behind a CI run, or `roster-cli user@host`. */
export function cliActor(io: CliIo): string {
  return ciContext(io.env).actor ?? `roster-cli ${whoAmI()}`;
}
