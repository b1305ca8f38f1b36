/**
 * Roles of one organization (Role.spec.org) through the CLI and the database: applied with their
 * organization, answered by the access checks only there, exported and planned again without
 * changes, and planned incrementally when the role's organization is not among the files read.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planOfInput } from '../src/cli/commands/plan.js';
import { checkAccess } from '../src/store/access.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { memoryIo, prepare } from './support/library-apply.js';
import { createWorkspace, doc, type Workspace } from './support/workspace.js';

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

const PLAN = doc('Plan', 'team', {
  seats: { paid: 9 },
  maxResources: 2,
  features: ['members', 'resourceGrants', 'customRoles'],
});
const org = (name: string, members: { user: string; role: string }[]) =>
  doc('Organization', name, { plan: 'team', owner: `o@${name}.io`, members });
const INTERN = doc('Role', 'intern', {
  org: 'acme',
  scope: 'organization',
  permissions: ['members.view', 'support.tickets'],
});

describe('a role of one organization', () => {
  it('is applied with its organization and grants its permissions there only', async () => {
    ws.write('plans.yaml', PLAN);
    ws.write(
      'acme.yaml',
      [org('acme', [{ user: 'bob@acme.io', role: 'intern' }]), INTERN].join('---\n'),
    );
    ws.write('globex.yaml', org('globex', [{ user: 'carol@globex.io', role: 'developer' }]));
    const applied = ws.roster(['apply', '-f', '.', '--yes', '--no-deliver']);
    expect(applied.stderr).toBe('');
    expect(applied.status).toBe(0);
    expect(applied.stdout).toMatch(/\+ role intern\n(.*\n)*?\s+org: "?acme"?/);
    const { rows } = await db.pool.query(`SELECT org FROM roles WHERE name = 'intern'`);
    expect(rows).toEqual([{ org: 'acme' }]);

    await db.pool.query(`UPDATE memberships SET status = 'active', joined_at = now()`);
    const check = (user: string, orgName: string) =>
      checkAccess(db.pool, { user, permission: 'support.tickets', org: orgName, resource: null });
    expect(await check('bob@acme.io', 'acme')).toMatchObject({ allowed: true, role: 'intern' });
    // Someone gives carol the role in globex, in SQL: it grants nothing there.
    await db.pool.query(
      `UPDATE memberships SET role = 'intern'
        WHERE user_id = (SELECT user_id FROM users WHERE email = 'carol@globex.io')`,
    );
    expect(await check('carol@globex.io', 'globex')).toMatchObject({ allowed: false });
    // ... and the next plan puts her role back (the role is not usable there).
    const plan = ws.roster(['plan', '-f', '.', '--detailed-exitcode']);
    expect(plan.status).toBe(2);
    expect(plan.stdout).toMatch(/~ role: "intern" -> "developer"/);
    expect(ws.roster(['apply', '-f', '.', '--yes', '--no-deliver']).status).toBe(0);
  });

  it('is refused in another organization, and for an organization that does not exist', () => {
    ws.write('globex.yaml', org('globex', [{ user: 'carol@globex.io', role: 'intern' }]));
    const refused = ws.roster(['plan', '-f', '.']);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(
      /^globex\.yaml:\d+:\d+: error: role "intern" belongs to organization "acme" and cannot be used in "globex"/m,
    );
    ws.write('globex.yaml', org('globex', [{ user: 'carol@globex.io', role: 'developer' }]));
    ws.write(
      'more.yaml',
      doc('Role', 'temp', { org: 'initech', scope: 'organization', permissions: ['members.view'] }),
    );
    const unknown = ws.roster(['plan', '-f', '.']);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(
      /^more\.yaml:4:\d+: error: organization "initech" does not exist/m,
    );
    ws.remove('more.yaml');
  });

  it('round-trips through export, and plans incrementally when its organization is not read', async () => {
    const exported = ws.roster(['export', '-o', 'out']);
    expect(exported.status).toBe(0);
    const roles = ws.roster(['validate', '-f', 'out']);
    expect(roles.status, roles.stderr).toBe(0);
    ws.remove('out');
    // The role of acme is indexed with acme, not with the roles every plan reads.
    const indexed = await db.pool.query(
      `SELECT organizations, roles FROM input_files WHERE path = 'acme.yaml'`,
    );
    expect(indexed.rows).toEqual([{ organizations: ['acme'], roles: [] }]);
    // Only globex's file changes.
    ws.write('globex.yaml', org('globex', [{ user: 'carol@globex.io', role: 'administrator' }]));
    const now = new Date();
    const incremental = await prepare(db.pool, ws.dir, { full: false, now, io: memoryIo(ws.dir) });
    const full = await prepare(db.pool, ws.dir, { full: true, now });
    expect(incremental?.incremental).toBe(true);
    expect(full).toBeDefined();
    const [a, b] = [
      await planOfInput(db.pool, incremental!, { basis: true }),
      await planOfInput(db.pool, full!, { basis: true }),
    ].map((p) => ({ ...JSON.parse(JSON.stringify(p)), createdAt: null }));
    expect(a).toEqual(b);
    expect(a.changes).toHaveLength(1);
  });

  it('is found, and refused, when a record of another organization names it', async () => {
    expect(ws.roster(['apply', '-f', '.', '--yes', '--no-deliver']).status).toBe(0);
    ws.write('globex.yaml', org('globex', [{ user: 'carol@globex.io', role: 'intern' }]));
    const run = ws.roster(['plan', '-f', '.']);
    expect(run.stderr).toMatch(
      /^globex\.yaml:\d+:\d+: error: role "intern" belongs to organization "acme" and cannot be used in "globex"/m,
    );
    expect(run.status).toBe(1);
  });
});
