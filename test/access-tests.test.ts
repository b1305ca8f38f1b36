/**
 * `roster test`: access tests run as the real process against declared manifests, without a
 * database: the examples' passing and failing tests, positions, JSON, and what makes a run fail.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runRoster } from './support/run-roster.js';
import { createWorkspace, doc, TEAM_PLAN, type Workspace } from './support/workspace.js';

let ws: Workspace;
beforeAll(() => {
  ws = createWorkspace('postgresql://nobody@127.0.0.1:9/none');
});
afterAll(() => ws.dispose());

const test = (...paths: string[]) => runRoster(['test', ...paths.flatMap((p) => ['-f', p])]);

describe('roster test', () => {
  it("passes the agency's promises, and fails the broken one at its lines", () => {
    const passing = test('examples/hosting-agency', 'examples/access-tests/agency-promises.yaml');
    expect(passing.stdout).toBe('passed: 9 expectations, 0 failed\n');
    expect(passing.status).toBe(0);
    const failing = test('examples/hosting-agency', 'examples/access-tests');
    expect(failing.status).toBe(1);
    expect(failing.stdout).toBe('failed: 11 expectations, 2 failed\n');
    expect(failing.stderr.trim().split('\n')).toEqual([
      'examples/access-tests/failing/broken-promise.yaml:12:7: error: expected "lea.petit@pixelforge.studio can members.manage in pixel-forge", but the declared state says denied: permission-not-granted, role developer [access-test]',
      'examples/access-tests/failing/broken-promise.yaml:13:7: error: expected "nadia.roux@compta-conseil.fr can resources.view in pixel-forge", but the declared state says denied: permission-not-granted, role accountant [access-test]',
    ]);
  });

  it('decides through groups, aliases, grants and delegations as the access API does', () => {
    const soon = new Date(Date.now() + 5 * 86_400_000).toISOString();
    ws.write(
      'tenant.yaml',
      [
        doc('Plan', 'team', {
          seats: { paid: 20 },
          features: ['members', 'resourceGrants', 'delegation'],
        }),
        doc('User', 'bob', { email: 'bob@acme.io', aliases: ['robert@acme.io'] }),
        doc('Organization', 'acme', {
          plan: 'team',
          owner: 'alice@acme.io',
          resources: [{ type: 'site', name: 'shop' }],
          members: [
            { user: 'robert@acme.io', role: 'developer' },
            { user: 'carol@acme.io', role: 'administrator' },
          ],
          groups: [{ name: 'compta', role: 'billing', members: ['erin@acme.io'] }],
        }),
        doc('Grant', 'shop-dave', {
          org: 'acme',
          user: 'dave@x.io',
          resource: 'site/shop',
          role: 'resource-developer',
        }),
        doc('Delegation', 'carol-for-bob', {
          org: 'acme',
          delegate: 'carol@acme.io',
          onBehalfOf: 'bob@acme.io',
          permissions: ['resources.view'],
          expires: soon,
          reason: 'cover',
        }),
      ].join('---\n'),
    );
    ws.write(
      'tests.yaml',
      doc('AccessTest', 'acme', {
        expect: [
          { user: 'bob@acme.io', can: 'resources.create', in: 'acme', reason: 'role' },
          { user: 'robert@acme.io', can: 'resources.create', in: 'acme' },
          { user: 'erin@acme.io', can: 'billing.manage', in: 'acme', reason: 'group' },
          { user: 'erin@acme.io', cannot: 'members.manage', in: 'acme' },
          { user: 'dave@x.io', can: 'resource.deploy', in: 'acme', resource: 'site/shop' },
          {
            user: 'dave@x.io',
            cannot: 'resource.deploy',
            in: 'globex',
            reason: 'unknown-organization',
          },
          {
            user: 'carol@acme.io',
            can: 'resources.view',
            in: 'acme',
            actingAs: 'robert@acme.io',
            reason: 'delegation',
          },
          {
            user: 'carol@acme.io',
            cannot: 'resources.create',
            in: 'acme',
            actingAs: 'bob@acme.io',
            reason: 'permission-not-delegated',
          },
        ],
      }),
    );
    const run = runRoster(['test', '-f', '.', '--format', 'json'], { cwd: ws.dir });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toMatchObject({ passed: true, expectations: 8, failed: 0 });
    expect(run.status).toBe(0);
  });

  it('reports a malformed expectation at its place, and runs nothing on invalid manifests', () => {
    ws.write(
      'tenant.yaml',
      [TEAM_PLAN, doc('Organization', 'acme', { plan: 'team', owner: 'alice@acme.io' })].join(
        '---\n',
      ),
    );
    ws.write(
      'tests.yaml',
      doc('AccessTest', 'acme', {
        expect: [
          { user: 'alice@acme.io', can: 'billing.view', cannot: 'billing.view', in: 'acme' },
          { user: 'alice@acme.io', can: 'billing.veiw', in: 'acme' },
        ],
      }),
    );
    const malformed = runRoster(['test', '-f', '.'], { cwd: ws.dir });
    expect(malformed.status).toBe(1);
    expect(malformed.stderr).toMatch(
      /^tests\.yaml:4:\d+: error: an expectation says either can: PERMISSION or cannot: PERMISSION \[access-test\]$/m,
    );
    expect(malformed.stderr).toMatch(
      /^tests\.yaml:4:\d+: error: "billing\.veiw" is not a permission \[unknown-permission\]$/m,
    );
    expect(malformed.stderr).toMatch(/no access test was run/);
    ws.remove('tests.yaml');
    const none = runRoster(['test', '-f', '.'], { cwd: ws.dir });
    expect(none.status).toBe(1);
    expect(none.stderr).toContain('no AccessTest document in the input: nothing was tested');
  });
});

describe('roster plan --test and apply --test', () => {
  it('plan and apply only when the access tests hold on the planned state', async () => {
    const { createTestDatabase } = await import('./support/database.js');
    const db = await createTestDatabase();
    const repo = createWorkspace(db.url);
    try {
      const agency = (file: string) =>
        readFileSync(join(ROOT, 'examples/hosting-agency', file), 'utf8');
      for (const file of readdirSync(join(ROOT, 'examples/hosting-agency'))) {
        repo.write(`tenants/${file}`, agency(file));
      }
      repo.write(
        'tests/agency.yaml',
        readFileSync(join(ROOT, 'examples/access-tests/agency-promises.yaml'), 'utf8'),
      );
      const plan = await repo.rosterAsync(['plan', '-f', 'tenants', '-f', 'tests', '--test']);
      expect(plan.status, plan.stderr).toBe(0);
      expect(plan.stdout).toMatch(/^Plan: \d+ to add/m);
      // Samir becomes an accountant: two promises (he ships sites, never sees invoices) break.
      repo.write(
        'tenants/pixel-forge.yaml',
        agency('pixel-forge.yaml').replace(
          'user: samir.haddad@pixelforge.studio\n  role: release-manager',
          'user: samir.haddad@pixelforge.studio\n  role: accountant',
        ),
      );
      const apply = await repo.rosterAsync([
        'apply',
        '-f',
        'tenants',
        '-f',
        'tests',
        '--test',
        '--yes',
        '--no-deliver',
      ]);
      expect(apply.status).toBe(1);
      expect(apply.stderr).toMatch(
        /^tests\/agency\.yaml:\d+:\d+: error: expected "samir\.haddad@pixelforge\.studio cannot billing\.view in pixel-forge \(permission-not-granted\)", but the declared state says allowed: role, role accountant \[access-test\]$/m,
      );
      expect(apply.stderr).toContain(
        'roster: 2 of 9 access expectations fail on the planned state; nothing was planned',
      );
      const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM organizations');
      expect(rows).toEqual([{ n: 0 }]);
    } finally {
      repo.dispose();
      await db.drop();
    }
  });
});
