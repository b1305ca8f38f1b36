/**
 * The audit log: the person and the pull request behind a CI run, as GitHub Actions and GitLab
 * CI announce them, recorded with each change; and entries that no connection can change or
 * delete.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { createWorkspace, TEAM_PLAN, tenant, type Workspace } from './support/workspace.js';

let db: TestDatabase;
let ws: Workspace;
beforeAll(async () => {
  db = await createTestDatabase();
  ws = createWorkspace(db.url);
});
afterAll(async () => {
  ws.dispose();
  await db.drop();
});

const entries = async () =>
  (
    await db.pool.query(
      `SELECT actor, source FROM audit_log WHERE record = 'membership' ORDER BY audit_id`,
    )
  ).rows as { actor: string; source: Record<string, unknown> }[];

describe('the audit log', () => {
  it('names the person and the pull request behind a GitHub Actions run', async () => {
    ws.write('t.yaml', [TEAM_PLAN, tenant('acme', 'alice@acme.io', ['bob@acme.io'])].join('---\n'));
    const applied = await ws.rosterAsync(['apply', '-f', 't.yaml', '--yes', '--no-deliver'], {
      GITHUB_ACTIONS: 'true',
      GITHUB_ACTOR: 'octocat',
      GITHUB_REPOSITORY: 'acme/access',
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_RUN_ID: '1234',
      GITHUB_REF: 'refs/pull/42/merge',
      GITHUB_SHA: 'a'.repeat(40),
    });
    expect(applied.status, applied.stderr).toBe(0);
    const [owner] = await entries();
    expect(owner).toEqual({
      actor: 'octocat via GitHub Actions',
      source: {
        ci: 'github-actions',
        run: 'https://github.com/acme/access/actions/runs/1234',
        pullRequest: 'https://github.com/acme/access/pull/42',
        commit: 'a'.repeat(40),
        file: 't.yaml',
      },
    });
  });

  it('names the GitLab user and merge request, and the machine user outside CI', async () => {
    ws.write(
      't.yaml',
      [TEAM_PLAN, tenant('acme', 'alice@acme.io', ['bob@acme.io', 'carol@acme.io'])].join('---\n'),
    );
    const gitlab = await ws.rosterAsync(['apply', '-f', 't.yaml', '--yes', '--no-deliver'], {
      GITLAB_CI: 'true',
      GITLAB_USER_LOGIN: 'mona',
      CI_PIPELINE_URL: 'https://gitlab.example.com/acme/access/-/pipelines/7',
      CI_PROJECT_URL: 'https://gitlab.example.com/acme/access',
      CI_MERGE_REQUEST_IID: '9',
    });
    expect(gitlab.status, gitlab.stderr).toBe(0);
    expect((await entries()).at(-1)).toMatchObject({
      actor: 'mona via GitLab CI',
      source: {
        ci: 'gitlab-ci',
        run: 'https://gitlab.example.com/acme/access/-/pipelines/7',
        pullRequest: 'https://gitlab.example.com/acme/access/-/merge_requests/9',
      },
    });
    ws.write('t.yaml', [TEAM_PLAN, tenant('acme', 'alice@acme.io', ['bob@acme.io'])].join('---\n'));
    const local = await ws.rosterAsync(['apply', '-f', 't.yaml', '--yes', '--no-deliver'], {
      GITHUB_ACTIONS: '',
      GITLAB_CI: '',
    });
    expect(local.status, local.stderr).toBe(0);
    expect((await entries()).at(-1)?.actor).toMatch(/^roster-cli \S+@\S+$/);
  });

  it('is append-only: an entry cannot be changed or deleted, by any connection', async () => {
    await expect(
      db.pool.query(`UPDATE audit_log SET actor = 'someone else'`),
    ).rejects.toMatchObject({
      code: 'RA002',
      message: 'the audit log is append-only: its entries are never changed or deleted',
    });
    await expect(db.pool.query(`DELETE FROM audit_log`)).rejects.toMatchObject({ code: 'RA002' });
    expect((await entries()).length).toBe(4);
  });
});
