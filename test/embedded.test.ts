/**
 * The quick start's main job on the embedded defaults: no DATABASE_URL, so Roster starts its own
 * PostgreSQL in .roster/ of the working directory, and stops it after each command.
 */
import { chmodSync, cpSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, runRoster } from './support/run-roster.js';

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
      'No changes. The access database matches the input.\n23 members and 4 grant holders have not accepted their invitation yet (roster invitations list).\n',
    );
    expect(plan.status).toBe(0);
    expect(roster(['db', 'migrate']).stdout).toMatch(
      /^The database is up to date \(embedded PostgreSQL/,
    );
  });

  it.runIf(process.getuid?.() === 0)(
    'explains a working directory the postgres user cannot reach',
    () => {
      const hidden = mkdtempSync(join(tmpdir(), 'roster-hidden-'));
      chmodSync(hidden, 0o700);
      try {
        const run = runRoster(['db', 'migrate'], { cwd: hidden, env: { DATABASE_URL: '' } });
        expect(run.status).toBe(1);
        expect(run.stderr).toContain('is not accessible to other users');
      } finally {
        rmSync(hidden, { recursive: true, force: true });
      }
    },
  );
});
