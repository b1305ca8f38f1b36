/**
 * The quick start's main job on the embedded defaults: no DATABASE_URL, so Roster starts its own
 * PostgreSQL in .roster/ of the working directory, and stops it after each command.
 */
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, runRoster } from './support/run-roster.js';
import { TEAM_PLAN, tenant } from './support/workspace.js';

const dir = mkdtempSync(join(tmpdir(), 'roster-embedded-'));
chmodSync(dir, 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const roster = (args: string[]) => runRoster(args, { cwd: dir, env: { DATABASE_URL: '' } });

describe('embedded PostgreSQL default', () => {
  it('applies the examples, then plans no changes, keeping its data in .roster/', () => {
    cpSync(join(ROOT, 'examples'), join(dir, 'examples'), { recursive: true });
    const apply = roster(['apply', '-f', 'examples/', '--yes']);
    expect(apply.stderr).toBe('');
    expect(apply.status).toBe(0);
    expect(apply.stdout).toContain('Apply complete:');
    expect(existsSync(join(dir, '.roster', 'pg', 'PG_VERSION'))).toBe(true);
    // The server was stopped with the command.
    expect(existsSync(join(dir, '.roster', 'pg', 'postmaster.pid'))).toBe(false);
    expect(statSync(join(dir, '.roster', 'pg-password')).mode & 0o077).toBe(0);

    const plan = roster(['plan', '-f', 'examples/', '--detailed-exitcode']);
    expect(plan.stdout).toBe(
      'No changes. The access database matches the input.\n24 members and 4 grant holders have not accepted their invitation yet (roster invitations list).\n',
    );
    expect(plan.status).toBe(0);
    expect(roster(['db', 'migrate']).stdout).toMatch(
      /^The database is up to date \(embedded PostgreSQL/,
    );
  });

  it('keeps every documented exit code: 2 for changes, 1 for a refusal, 0 for none', () => {
    const project = mkdtempSync(join(tmpdir(), 'roster-exit-'));
    chmodSync(project, 0o755);
    const run = (args: string[]) => runRoster(args, { cwd: project, env: { DATABASE_URL: '' } });
    try {
      writeFileSync(
        join(project, 't.yaml'),
        [TEAM_PLAN, tenant('acme', 'alice@acme.io', ['a@acme.io', 'b@acme.io'])].join('---\n'),
      );
      expect(run(['plan', '-f', 't.yaml', '--detailed-exitcode']).status).toBe(2);
      expect(run(['apply', '-f', 't.yaml', '--detailed-exitcode']).status).toBe(2);
      expect(run(['apply', '-f', 't.yaml', '--yes', '--no-deliver']).status).toBe(0);
      expect(run(['plan', '-f', 't.yaml', '--detailed-exitcode']).status).toBe(0);
      // Removing both members is over the 25 % removal guard: refused, exit 1.
      writeFileSync(
        join(project, 't.yaml'),
        [TEAM_PLAN, tenant('acme', 'alice@acme.io', [])].join('---\n'),
      );
      const refused = run(['apply', '-f', 't.yaml', '--yes']);
      expect(refused.stderr).toContain('the plan was refused, nothing was changed');
      expect(refused.status).toBe(1);
      expect(run(['plan', '-f', 't.yaml', '--detailed-exitcode']).status).toBe(1);
      expect(run(['validate', '-f', 'missing.yaml']).status).toBe(1);
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });

  it.runIf(process.getuid?.() === 0)(
    'works as root in a private (mode 700) directory, keeping the cluster where postgres can reach it',
    () => {
      const hidden = mkdtempSync(join(tmpdir(), 'roster-private-'));
      chmodSync(hidden, 0o700);
      let cluster = '';
      try {
        cpSync(join(ROOT, 'examples'), join(hidden, 'examples'), { recursive: true });
        const run = (args: string[]) => runRoster(args, { cwd: hidden, env: { DATABASE_URL: '' } });
        const apply = run(['apply', '-f', 'examples/', '--yes']);
        expect(apply.stderr).toBe('');
        expect(apply.status).toBe(0);
        cluster = readFileSync(join(hidden, '.roster', 'pg-location'), 'utf8').trim();
        expect(cluster).toMatch(/^\/var\/lib\/roster\/clusters\/[0-9a-f]{16}\/pg$/);
        expect(existsSync(join(cluster, 'PG_VERSION'))).toBe(true);
        // The cluster is the postgres user's alone; the password stays root's.
        expect(statSync(cluster).mode & 0o077).toBe(0);
        expect(statSync(join(hidden, '.roster', 'pg-password')).mode & 0o077).toBe(0);
        expect(run(['plan', '-f', 'examples/', '--detailed-exitcode']).status).toBe(0);
      } finally {
        rmSync(hidden, { recursive: true, force: true });
        if (cluster !== '') rmSync(dirname(cluster), { recursive: true, force: true });
      }
    },
  );
});
