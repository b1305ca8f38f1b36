/**
 * Delegated access through the real `roster`, PostgreSQL and the HTTP API: validated with
 * positions (who may delegate, for whom, for how long, on which plan), applied, answered by
 * `check(user, permission, org, actingAs)` only within the expiry and the member's own
 * permissions, and every use audited before it is answered.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../src/store/api-keys.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { startTestServer, type TestServer } from './support/http-server.js';
import { createWorkspace, doc, type Workspace } from './support/workspace.js';

let db: TestDatabase;
let ws: Workspace;
let server: TestServer;
let key: string;
beforeAll(async () => {
  db = await createTestDatabase();
  ws = createWorkspace(db.url);
  server = await startTestServer(db.pool);
});
afterAll(async () => {
  await server.close();
  ws.dispose();
  await db.drop();
});

const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString();
const plan = (features: string[]) =>
  doc('Plan', 'agency', { seats: { paid: 10 }, maxDelegationDays: 30, features });
const AGENCY = doc('Organization', 'agence', {
  plan: 'agency',
  owner: 'claire@agence.fr',
  resources: [{ type: 'site', name: 'client-www' }],
  members: [
    { user: 'hugo@agence.fr', role: 'administrator' },
    { user: 'lea@agence.fr', role: 'developer' },
    { user: 'client@boulangerie.fr', role: 'developer' },
    { user: 'compta@boulangerie.fr', role: 'billing' },
  ],
});
const delegation = (name: string, spec: Record<string, unknown>) =>
  doc('Delegation', name, {
    org: 'agence',
    delegate: 'hugo@agence.fr',
    onBehalfOf: 'client@boulangerie.fr',
    expires: day(10),
    reason: 'Campaign while the client is away',
    ...spec,
  });
const FOR_CLIENT = delegation('hugo-for-client', {
  permissions: ['resources.view', 'resources.manage', 'billing.view'],
});
const check = async (params: Record<string, string>) => {
  const query = new URLSearchParams({ org: 'agence', ...params });
  const response = await fetch(`${server.base}/api/v1/check?${query}`, {
    headers: { authorization: `Bearer ${key}` },
  });
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
};

describe('delegations', () => {
  it('are validated with positions: administrator, member, duration, plan feature', () => {
    ws.write('plans.yaml', plan(['members', 'resourceGrants']));
    ws.write(
      'agence.yaml',
      [
        AGENCY,
        delegation('lea-for-client', { delegate: 'lea@agence.fr' }),
        delegation('hugo-for-stranger', { onBehalfOf: 'someone@else.fr' }),
        delegation('hugo-for-owner', { onBehalfOf: 'claire@agence.fr' }),
        delegation('hugo-too-long', { expires: day(45), permissions: ['billing.veiw'] }),
        delegation('hugo-expired', { expires: day(-1) }),
      ].join('---\n'),
    );
    const run = ws.roster(['validate', '-f', '.']);
    expect(run.status).toBe(1);
    const errors = run.stderr.split('\n').filter((l) => l.includes('error:'));
    expect(errors).toEqual([
      expect.stringMatching(
        /^agence\.yaml:\d+:\d+: error: plan "agency" of "agence" lacks the delegation feature, which delegated access \(an administrator acting for a member\) needs \(5 records need it, the first here\)/,
      ),
      expect.stringMatching(
        /^agence\.yaml:\d+:\d+: error: lea@agence\.fr is developer of "agence": a delegate must be its owner or hold members\.manage \(administrator\) \[delegate-not-administrator\]$/,
      ),
      expect.stringMatching(
        /^agence\.yaml:\d+:\d+: error: someone@else\.fr is not a member of "agence": a delegation is for one of its members, or "\*" for all \[delegation-member\]$/,
      ),
      expect.stringMatching(
        /^agence\.yaml:\d+:\d+: error: claire@agence\.fr is the owner: a delegation is for another member \[delegation-member\]$/,
      ),
      expect.stringMatching(
        /^agence\.yaml:\d+:\d+: error: the delegation lasts until .*, more than the 30 days plan "agency" allows \(spec\.maxDelegationDays\) from now: set an earlier date \[delegation-too-long\]$/,
      ),
      expect.stringMatching(
        /^agence\.yaml:\d+:\d+: error: "billing\.veiw" is not a permission\. Did you mean "billing\.view"\? \[unknown-permission\]$/,
      ),
      expect.stringMatching(
        /^agence\.yaml:\d+:\d+: error: the delegation expired at .*: remove it, or set a later date \[delegation-expired\]$/,
      ),
    ]);
  });

  it('are applied on a plan with the feature, and exported back unchanged', async () => {
    ws.write('plans.yaml', plan(['members', 'resourceGrants', 'delegation']));
    ws.write(
      'agence.yaml',
      [
        AGENCY,
        FOR_CLIENT,
        delegation('hugo-for-all', {
          onBehalfOf: '*',
          permissions: ['members.view'],
          starts: day(5),
          expires: day(20),
        }),
      ].join('---\n'),
    );
    const applied = await ws.rosterAsync(['apply', '-f', '.', '--yes', '--no-deliver']);
    expect(applied.stderr).toBe('');
    expect(applied.status).toBe(0);
    expect(applied.stdout).toMatch(/\+ delegation hugo-for-client\n/);
    const { rows } = await db.pool.query(
      `SELECT d.name, u.email AS delegate, m.email AS member, d.permissions
         FROM delegations d JOIN users u ON u.user_id = d.delegate_id
         LEFT JOIN users m ON m.user_id = d.on_behalf_of_id ORDER BY d.name`,
    );
    expect(rows).toEqual([
      {
        name: 'hugo-for-all',
        delegate: 'hugo@agence.fr',
        member: null,
        permissions: ['members.view'],
      },
      {
        name: 'hugo-for-client',
        delegate: 'hugo@agence.fr',
        member: 'client@boulangerie.fr',
        permissions: ['billing.view', 'resources.manage', 'resources.view'],
      },
    ]);
    const out = mkdtempSync(join(tmpdir(), 'roster-export-'));
    expect((await ws.rosterAsync(['export', '-o', out])).status).toBe(0);
    expect(readFileSync(`${out}/agence.yaml`, 'utf8')).toMatch(
      /kind: Delegation\nmetadata:\n\s+name: hugo-for-client\nspec:\n\s+org: agence\n\s+delegate: hugo@agence\.fr\n\s+onBehalfOf: client@boulangerie\.fr/,
    );
    const again = await ws.rosterAsync(['plan', '-f', out, '--detailed-exitcode']);
    rmSync(out, { recursive: true });
    expect(again.stdout + again.stderr).toMatch(/No changes/);
    expect(again.status).toBe(0);
  });

  it("answer actingAs within the delegation and the member's own permissions, and audit each use", async () => {
    await db.pool.query(`UPDATE memberships SET status = 'active', joined_at = now()`);
    key = await createApiKey(db.pool, 'agency-app', { organizations: ['agence'] });
    const as = (permission: string, extra: Record<string, string> = {}) =>
      check({ user: 'hugo@agence.fr', actingAs: 'client@boulangerie.fr', permission, ...extra });
    expect(await as('resources.manage')).toEqual({
      allowed: true,
      reason: 'delegation',
      role: 'developer',
      actingAs: 'client@boulangerie.fr',
      delegation: 'hugo-for-client',
    });
    expect(await as('resource.deploy', { resource: 'site/client-www' })).toMatchObject({
      allowed: false,
      reason: 'permission-not-delegated',
    });
    // Delegated, but the client cannot do it themselves: the delegate cannot either.
    expect(await as('billing.view')).toMatchObject({
      allowed: false,
      reason: 'permission-not-granted',
      delegation: 'hugo-for-client',
    });
    // Nobody delegated Léa's workspace (the "every member" one starts in 5 days).
    expect(
      await check({
        user: 'hugo@agence.fr',
        actingAs: 'lea@agence.fr',
        permission: 'members.view',
      }),
    ).toMatchObject({
      allowed: false,
      reason: 'delegation-not-started',
      delegation: 'hugo-for-all',
    });
    expect(
      await check({
        user: 'lea@agence.fr',
        actingAs: 'client@boulangerie.fr',
        permission: 'resources.view',
      }),
    ).toMatchObject({ allowed: false, reason: 'delegate-not-administrator' });

    const audit = await db.pool.query(
      `SELECT actor, after->>'actingAs' AS acting_as, after->>'permission' AS permission,
              after->>'reason' AS reason, source->>'apiKey' AS api_key
         FROM audit_log WHERE action = 'act-as' ORDER BY audit_id`,
    );
    expect(audit.rows).toEqual([
      {
        actor: 'hugo@agence.fr',
        acting_as: 'client@boulangerie.fr',
        permission: 'resources.manage',
        reason: 'delegation',
        api_key: 'agency-app',
      },
      {
        actor: 'hugo@agence.fr',
        acting_as: 'client@boulangerie.fr',
        permission: 'resource.deploy',
        reason: 'permission-not-delegated',
        api_key: 'agency-app',
      },
      {
        actor: 'hugo@agence.fr',
        acting_as: 'client@boulangerie.fr',
        permission: 'billing.view',
        reason: 'permission-not-granted',
        api_key: 'agency-app',
      },
      {
        actor: 'hugo@agence.fr',
        acting_as: 'lea@agence.fr',
        permission: 'members.view',
        reason: 'delegation-not-started',
        api_key: 'agency-app',
      },
      {
        actor: 'lea@agence.fr',
        acting_as: 'client@boulangerie.fr',
        permission: 'resources.view',
        reason: 'delegate-not-administrator',
        api_key: 'agency-app',
      },
    ]);
  });

  it('deny an expired delegation, and a delegate who lost the administrator role', async () => {
    await db.pool.query(
      `UPDATE delegations SET starts_at = NULL, expires_at = now() - interval '1 minute' WHERE name = 'hugo-for-client'`,
    );
    const as = () =>
      check({
        user: 'hugo@agence.fr',
        actingAs: 'client@boulangerie.fr',
        permission: 'resources.view',
      });
    expect(await as()).toMatchObject({
      allowed: false,
      reason: 'delegation-expired',
      delegation: 'hugo-for-client',
    });
    await db.pool.query(
      `UPDATE delegations SET expires_at = now() + interval '1 day' WHERE name = 'hugo-for-client'`,
    );
    expect(await as()).toMatchObject({ allowed: true, reason: 'delegation' });
    await db.pool.query(
      `UPDATE memberships SET role = 'developer' WHERE user_id = (SELECT user_id FROM users WHERE email = 'hugo@agence.fr')`,
    );
    expect(await as()).toMatchObject({ allowed: false, reason: 'delegate-not-administrator' });
    // Without the plan feature (changed in SQL), nothing is delegated.
    await db.pool.query(
      `UPDATE memberships SET role = 'administrator' WHERE user_id = (SELECT user_id FROM users WHERE email = 'hugo@agence.fr')`,
    );
    await db.pool.query(`UPDATE plans SET features = '{members,resourceGrants}'`);
    expect(await as()).toMatchObject({ allowed: false, reason: 'feature-not-in-plan' });
  });

  it('are refused by the planner when the delegate is no longer an administrator', async () => {
    await db.pool.query(`UPDATE plans SET features = '{members,resourceGrants,delegation}'`);
    ws.write(
      'agence.yaml',
      [
        AGENCY.replace(
          `{"user":"hugo@agence.fr","role":"administrator"}`,
          `{"user":"hugo@agence.fr","role":"developer"}`,
        ),
        FOR_CLIENT,
      ].join('---\n'),
    );
    const run = await ws.rosterAsync(['validate', '-f', '.']);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/hugo@agence\.fr is developer of "agence": a delegate must be/);
  });
});
