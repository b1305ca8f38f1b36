/**
 * The README's CI recipe runs as written: its `run:` lines, in order, against a repository made
 * of the agency example (`tenants/`) and its access tests (`access-tests/`), with a real
 * PostgreSQL as the workflow's DATABASE_URL. `npx roster` is this checkout's bin/roster.js.
 */
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { ROOT } from './support/run-roster.js';
import { createWorkspace, type Workspace } from './support/workspace.js';

let db: TestDatabase;
let ws: Workspace;
beforeAll(async () => {
  db = await createTestDatabase();
  ws = createWorkspace(db.url);
  cpSync(join(ROOT, 'examples/hosting-agency'), join(ws.dir, 'tenants'), { recursive: true });
  cpSync(
    join(ROOT, 'examples/access-tests/agency-promises.yaml'),
    join(ws.dir, 'access-tests/agency.yaml'),
  );
});
afterAll(async () => {
  ws.dispose();
  await db.drop();
});

/** The `run:` lines of the README's block marked `<!-- ci-recipe -->`. */
function recipe(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const block = /<!-- ci-recipe -->\s*```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
  if (block === undefined) throw new Error('README.md has no ci-recipe block');
  return [...block.matchAll(/^\s+(?:- )?run: (.+)$/gm)].map((m) => (m[1] ?? '').trim());
}

/** Runs a recipe line: `npx roster ARGS [> FILE]`, as a GitHub Actions step would. */
async function step(line: string, env: NodeJS.ProcessEnv) {
  const match = /^npx roster (.+?)(?: > (\S+))?$/.exec(line);
  if (match === null) throw new Error(`not a roster command: ${line}`);
  const args = (match[1] ?? '').split(' ');
  const run = await ws.rosterAsync(args, env);
  if (match[2] !== undefined) ws.write(match[2], run.stdout);
  return run;
}

describe("the README's CI recipe", () => {
  it('validates, tests, plans as a pull-request comment, and applies on merge', async () => {
    const lines = recipe();
    expect(lines).toEqual([
      'npm ci',
      'npx roster validate -f tenants/',
      'npx roster test -f tenants/ -f access-tests/',
      'npx roster plan -f tenants/ --format markdown > plan.md',
      'npx roster apply -f tenants/ --yes',
    ]);
    const pullRequest = {
      GITHUB_ACTIONS: 'true',
      GITHUB_ACTOR: 'octocat',
      GITHUB_REPOSITORY: 'agency/access',
      GITHUB_RUN_ID: '7',
      GITHUB_REF: 'refs/pull/12/merge',
    };
    for (const line of lines.slice(1, 4)) {
      const run = await step(line, pullRequest);
      expect(run.status, `${line}\n${run.stderr}`).toBe(0);
    }
    expect(readFileSync(join(ws.dir, 'plan.md'), 'utf8')).toMatch(/^#+ .*plan/im);
    const merged = { ...pullRequest, GITHUB_REF: 'refs/heads/main' };
    const apply = await step(lines[4] ?? '', merged);
    expect(apply.status, apply.stderr).toBe(0);
    const { rows } = await db.pool.query(
      `SELECT DISTINCT actor, source->>'run' AS run FROM audit_log WHERE action = 'create'`,
    );
    expect(rows).toEqual([
      {
        actor: 'octocat via GitHub Actions',
        run: 'https://github.com/agency/access/actions/runs/7',
      },
    ]);
  });
});
