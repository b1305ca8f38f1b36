/**
 * The rules hold over the whole database, not only the input: applying a file of plans or roles
 * alone is refused when it would break an organization the input does not mention, and the
 * refusal names that organization. Through the real `roster` process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, tableCounts, type TestDatabase } from './support/database.js';
import { createWorkspace, doc, tenant, type Workspace } from './support/workspace.js';

let db: TestDatabase;
let ws: Workspace;

const plan = (spec: object) =>
  doc('Plan', 'team', {
    seats: { paid: 20, free: 5 },
    maxResources: 5,
    features: ['members', 'resourceGrants', 'customRoles'],
    ...spec,
  });
const role = (scope: 'organization' | 'resource', permissions: string[]) =>
  doc('Role', 'accountant', { scope, permissions });

beforeAll(async () => {
  db = await createTestDatabase();
  ws = createWorkspace(db.url);
  ws.write('platform/plans.yaml', plan({}));
  ws.write('platform/roles.yaml', role('organization', ['billing.view']));
  ws.write(
    'tenants/acme.yaml',
    tenant(
      'acme',
      'alice@acme.io',
      ['bob@acme.io', 'carol@acme.io'],
      [
        doc('Membership', 'acme-dana', {
          org: 'acme',
          user: 'dana@acme.io',
          role: 'accountant',
        }),
        doc('Grant', 'acme-eve', {
          org: 'acme',
          user: 'eve@freelance.io',
          resource: 'site/www',
          role: 'resource-developer',
        }),
      ].join('---\n'),
    ),
  );
  const first = await ws.rosterAsync(['apply', '-f', '.', '--yes', '--no-deliver']);
  expect(first.status, first.stderr).toBe(0);
});
afterAll(async () => {
  ws.dispose();
  await db.drop();
});

/** Applies the platform files alone; returns the run and whether the database changed. */
async function applyPlatformAlone() {
  const before = await tableCounts(db.pool);
  const plans = (await db.pool.query('SELECT paid_seats, features, max_resources FROM plans')).rows;
  const run = await ws.rosterAsync(['apply', '-f', 'platform', '--yes', '--no-deliver']);
  const after = (await db.pool.query('SELECT paid_seats, features, max_resources FROM plans')).rows;
  return {
    run,
    unchanged:
      JSON.stringify({ before, plans }) ===
      JSON.stringify({ before: await tableCounts(db.pool), plans: after }),
  };
}

describe('a plan or role change checked against organizations the input does not declare', () => {
  it.each([
    [
      'paid seats cut below what acme uses',
      { seats: { paid: 3, free: 5 } },
      /organization "acme" would use 4 paid seats and plan "team" has 3/,
    ],
    [
      'members removed from the features',
      { features: ['resourceGrants', 'customRoles'] },
      /organization "acme" would be on plan "team" without the members feature.*\(3 records need it\)/,
    ],
    [
      'resource grants removed',
      { features: ['members', 'customRoles'] },
      /without the resourceGrants feature, which granting access to single resources needs \(1 record need/,
    ],
    [
      'custom roles removed',
      { features: ['members', 'resourceGrants'] },
      /without the customRoles feature/,
    ],
    [
      'maxResources lowered below what acme has',
      { maxResources: 0 },
      /organization "acme" would have 1 resources and plan "team" allows 0/,
    ],
  ])('refuses %s, naming the organization, and changes nothing', async (_what, spec, message) => {
    ws.write('platform/plans.yaml', plan(spec));
    const { run, unchanged } = await applyPlatformAlone();
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(message);
    expect(unchanged).toBe(true);
    // A plan shows the same refusal before anything is applied.
    const planned = await ws.rosterAsync(['plan', '-f', 'platform']);
    expect(planned.status).toBe(1);
    expect(planned.stdout).toMatch(message);
  });

  it('refuses to change the scope of a role in use, naming the organizations', async () => {
    ws.write('platform/plans.yaml', plan({}));
    ws.write('platform/roles.yaml', role('resource', ['resource.view']));
    const { run, unchanged } = await applyPlatformAlone();
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(
      'role "accountant" cannot change its scope from organization to resource while organization acme use it',
    );
    // That refusal alone: acme, outside the input, is counted, not taken for deleted.
    const lines = run.stderr.trim().split('\n');
    expect(lines.filter((l) => !l.startsWith('Incremental plan:'))).toHaveLength(2);
    expect(unchanged).toBe(true);
  });

  it('applies a change that keeps every organization within its plan', async () => {
    ws.write('platform/roles.yaml', role('organization', ['billing.view', 'billing.manage']));
    ws.write('platform/plans.yaml', plan({ seats: { paid: 4, free: 0 } }));
    const run = await ws.rosterAsync(['apply', '-f', 'platform', '--yes', '--no-deliver']);
    expect(run.status, run.stderr).toBe(0);
    expect((await db.pool.query('SELECT paid_seats FROM plans')).rows).toEqual([{ paid_seats: 4 }]);
  });
});
