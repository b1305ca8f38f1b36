/**
 * The audit log: the person and the pull request behind a CI run, as GitHub Actions and GitLab
 * CI announce them, recorded with each change; and entries that no connection can change or
 * delete.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acceptInvitation } from '../src/store/accept-invitation.js';
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
        // A plan of a reviewable size says the line too: the owner's, the Organization's spec.
        file: 't.yaml',
        line: 9,
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

  it('gives lines for a plan of up to 100 files, and the file alone beyond (re-reading each costs)', async () => {
    const many = createWorkspace(db.url);
    try {
      many.write('plan.yaml', TEAM_PLAN);
      for (let i = 0; i < 101; i += 1) {
        many.write(`t${i}.yaml`, tenant(`many-${i}`, `o${i}@many.io`, []));
      }
      const applied = await many.rosterAsync(['apply', '-f', '.', '--yes', '--no-deliver']);
      expect(applied.status, applied.stderr).toBe(0);
      const { rows } = await db.pool.query<{ source: Record<string, unknown> }>(
        `SELECT source FROM audit_log WHERE record = 'organization' AND record_key LIKE '%many-%'`,
      );
      expect(rows).toHaveLength(101);
      expect(rows.every((r) => typeof r.source.file === 'string' && !('line' in r.source))).toBe(
        true,
      );
      many.write('t0.yaml', tenant('many-0', 'o0@many.io', ['x@many.io']));
      const one = await many.rosterAsync(['apply', '-f', '.', '--yes', '--no-deliver']);
      expect(one.status, one.stderr).toBe(0);
      const latest = await db.pool.query<{ source: Record<string, unknown> }>(
        `SELECT source FROM audit_log WHERE record = 'membership' AND record_key LIKE '%x@many.io%'`,
      );
      expect(latest.rows[0]?.source).toMatchObject({ file: 't0.yaml', line: expect.any(Number) });
    } finally {
      many.dispose();
    }
  });

  it('records invitations re-sent and revoked, and API keys created, used (once a day) and revoked', async () => {
    const smtpless = { ROSTER_PUBLIC_URL: 'http://127.0.0.1:9' };
    const resent = await ws.rosterAsync(
      ['invitations', 'resend', '--org', 'acme', '--user', 'bob@acme.io'],
      { ...smtpless, GITHUB_ACTIONS: 'true', GITHUB_ACTOR: 'octocat' },
    );
    expect(resent.status, resent.stderr).toBe(0);
    const revoked = await ws.rosterAsync([
      'invitations',
      'revoke',
      '--org',
      'acme',
      '--user',
      'bob@acme.io',
    ]);
    expect(revoked.status, revoked.stderr).toBe(0);
    const created = await ws.rosterAsync(['api-keys', 'create', 'acme-app', '--org', 'acme']);
    expect(created.status, created.stderr).toBe(0);
    const key = created.stdout.trim();
    const { startTestServer } = await import('./support/http-server.js');
    const server = await startTestServer(db.pool);
    try {
      for (let i = 0; i < 2; i++) {
        const answer = await fetch(
          `${server.base}/api/v1/check?user=bob%40acme.io&permission=billing.view&org=acme`,
          { headers: { authorization: `Bearer ${key}` } },
        );
        expect(answer.status).toBe(200);
      }
    } finally {
      await server.close();
    }
    expect((await ws.rosterAsync(['api-keys', 'revoke', 'acme-app'])).status).toBe(0);
    // The invitation of alice (the owner) is accepted through its token, as from the e-mail.
    const { rows: events } = await db.pool.query(
      `SELECT action, actor, record_key::jsonb AS key FROM audit_log
        WHERE (action LIKE 'invitation-%' AND action <> 'invitation-sent') OR action LIKE 'api-key-%'
        ORDER BY audit_id`,
    );
    expect(events).toEqual([
      {
        action: 'invitation-resent',
        actor: 'octocat via GitHub Actions',
        key: {
          kind: 'invitation',
          org: 'acme',
          user: 'bob@acme.io',
          subject: 'membership',
          resource: null,
        },
      },
      {
        action: 'invitation-revoked',
        actor: expect.stringMatching(/^roster-cli /),
        key: {
          kind: 'invitation',
          org: 'acme',
          user: 'bob@acme.io',
          subject: 'membership',
          resource: null,
        },
      },
      {
        action: 'api-key-created',
        actor: expect.stringMatching(/^roster-cli /),
        key: { kind: 'api-key', name: 'acme-app' },
      },
      // Once a day, however many requests.
      { action: 'api-key-used', actor: 'acme-app', key: { kind: 'api-key', name: 'acme-app' } },
      {
        action: 'api-key-revoked',
        actor: expect.stringMatching(/^roster-cli /),
        key: { kind: 'api-key', name: 'acme-app' },
      },
    ]);
    const history = JSON.parse(
      (await ws.rosterAsync(['audit', '--user', 'bob@acme.io', '--format', 'json'])).stdout,
    );
    // Newest first: the revocation; before it, the re-send and the e-mails it delivered.
    const actions = history.entries.map((e: { action: string }) => e.action);
    expect(actions[0]).toBe('invitation-revoked');
    expect(new Set(actions)).toEqual(
      new Set(['invitation-revoked', 'invitation-sent', 'invitation-resent', 'create']),
    );
  });

  it('records an invitation e-mailed, and accepted by the person who accepted it', async () => {
    // Delivered as .eml files (no SMTP_URL); alice follows the link of hers.
    const delivered = await ws.rosterAsync(['deliver'], {
      ROSTER_PUBLIC_URL: 'http://127.0.0.1:9',
    });
    expect(delivered.status, delivered.stderr).toBe(0);
    const sent = await db.pool.query(
      `SELECT actor, record_key::jsonb ->> 'user' AS user FROM audit_log
        WHERE action = 'invitation-sent' ORDER BY audit_id`,
    );
    // Alice's and bob's (delivered when bob's was re-sent: a delivery sends all that is queued).
    expect(sent.rows).toContainEqual({ actor: 'roster delivery', user: 'alice@acme.io' });
    expect(sent.rows).toContainEqual({ actor: 'roster delivery', user: 'bob@acme.io' });
    expect(new Set(sent.rows.map((r) => r.actor))).toEqual(new Set(['roster delivery']));
    const outbox = join(ws.dir, '.roster', 'outbox');
    const mail = readdirSync(outbox)
      .map((f) => readFileSync(join(outbox, f), 'utf8'))
      .find((text) => /^To: alice@acme\.io/m.test(text));
    const token = /\/invitations\/([A-Za-z0-9_-]{20,})/.exec(mail ?? '')?.[1];
    expect(token).toBeDefined();
    expect(await acceptInvitation(db.pool, token ?? '')).toMatchObject({ accepted: true });
    const { rows } = await db.pool.query(
      `SELECT actor, record_key::jsonb AS key FROM audit_log WHERE action = 'invitation-accepted'`,
    );
    expect(rows).toEqual([
      {
        actor: 'alice@acme.io',
        key: {
          kind: 'invitation',
          org: 'acme',
          user: 'alice@acme.io',
          subject: 'membership',
          resource: null,
        },
      },
    ]);
  });

  it('records an invitation that expired for good', async () => {
    ws.write('t.yaml', [TEAM_PLAN, tenant('acme', 'alice@acme.io', ['dan@acme.io'])].join('---\n'));
    expect((await ws.rosterAsync(['apply', '-f', 't.yaml', '--yes'])).status).toBe(0);
    // Its link lapsed, and no re-send is left.
    await db.pool.query(
      `UPDATE invitations SET expires_at = now() - interval '1 minute', resend_count = 99
        WHERE user_id = (SELECT user_id FROM users WHERE email = 'dan@acme.io')`,
    );
    expect((await ws.rosterAsync(['deliver'])).status).toBe(0);
    const { rows } = await db.pool.query(
      `SELECT actor FROM audit_log WHERE action = 'invitation-expired'
          AND record_key::jsonb ->> 'user' = 'dan@acme.io'`,
    );
    expect(rows).toEqual([{ actor: 'roster delivery' }]);
  });
});
