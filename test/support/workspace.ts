/** A scratch directory with manifests, for running `roster` against a test database. */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runRoster, runRosterAsync, type RosterRun } from './run-roster.js';

/** A directory of manifests and a `roster` bound to one database. */
export interface Workspace {
  readonly dir: string;
  write(path: string, text: string): void;
  remove(path: string): void;
  roster(args: readonly string[], env?: NodeJS.ProcessEnv): RosterRun;
  /** The same, without blocking this process (when it serves what the command talks to). */
  rosterAsync(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<RosterRun>;
  dispose(): void;
}

/** Creates a workspace whose `roster` uses `databaseUrl`. */
export function createWorkspace(databaseUrl: string): Workspace {
  const dir = mkdtempSync(join(tmpdir(), 'roster-ws-'));
  return {
    dir,
    write(path, text) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    },
    remove(path) {
      rmSync(join(dir, path), { recursive: true, force: true });
    },
    roster(args, env = {}) {
      return runRoster(args, { cwd: dir, env: { DATABASE_URL: databaseUrl, ...env } });
    },
    rosterAsync(args, env = {}) {
      return runRosterAsync(args, { cwd: dir, env: { DATABASE_URL: databaseUrl, ...env } });
    },
    dispose() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A manifest document. */
export function doc(kind: string, name: string, spec: object): string {
  return `apiVersion: roster.dev/v1alpha1\nkind: ${kind}\nmetadata: { name: ${JSON.stringify(name)} }\nspec: ${JSON.stringify(spec)}\n`;
}

/** An organization on plan `team` with `members` developers, as one file. */
export function tenant(org: string, owner: string, members: readonly string[], extra = ''): string {
  return [
    doc('Organization', org, {
      plan: 'team',
      owner,
      resources: [{ type: 'site', name: 'www' }],
      members: members.map((user) => ({ user, role: 'developer' })),
    }),
    ...(extra === '' ? [] : [extra]),
  ].join('---\n');
}

/** The plan every test tenant uses. */
export const TEAM_PLAN = doc('Plan', 'team', {
  seats: { paid: 20, free: 5 },
  maxResources: 5,
  features: ['members', 'resourceGrants', 'customRoles'],
});

/** A tenant with `n` developers on a plan of its own: an apply big enough to cut in its middle. */
export function bigTenant(org: string, n: number): string {
  return [
    doc('Plan', `${org}-plan`, { seats: { paid: n + 10 }, features: ['members'] }),
    doc('Organization', org, {
      plan: `${org}-plan`,
      owner: `owner@${org}.io`,
      members: Array.from({ length: n }, (_, i) => ({
        user: `m${i}@${org}.io`,
        role: 'developer',
      })),
    }),
  ].join('---\n');
}
