/**
 * Who has access, since when, and who changed it: `roster members`, `orgs`, `contacts`, `check`
 * and `audit` run as the real process, and the same views over real HTTP, paginated, within an
 * API key's scope.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../src/store/api-keys.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { startTestServer, type TestServer } from './support/http-server.js';
import { createWorkspace, doc, TEAM_PLAN, type Workspace } from './support/workspace.js';

let db: TestDatabase;
let ws: Workspace;
let server: TestServer;
let acmeKey: string;
beforeAll(async () => {
  db = await createTestDatabase();
  ws = createWorkspace(db.url);
  ws.write(
    'acme.yaml',
    [
      TEAM_PLAN,
      doc('Organization', 'acme', {
        plan: 'team',
        owner: 'alice@acme.io',
        resources: [{ type: 'site', name: 'www' }],
        members: [
          { user: 'bob@acme.io', role: 'developer' },
          { user: 'carol@acme.io', role: 'billing', seat: 'free' },
        ],
        contacts: [{ email: 'ap@acme.io', categories: ['billing'] }],
      }),
      doc('Grant', 'www-dave', {
        org: 'acme',
        user: 'dave@freelance.io',
        resource: 'site/www',
        role: 'resource-developer',
      }),
    ].join('---\n'),
  );
  ws.write(
    'globex.yaml',
    doc('Organization', 'globex', {
      plan: 'team',
      owner: 'gus@globex.io',
      members: [{ user: 'bob@acme.io', role: 'administrator' }],
    }),
  );
  const applied = await ws.rosterAsync(['apply', '-f', '.', '--yes', '--no-deliver']);
  expect(applied.status, applied.stderr).toBe(0);
  await db.pool.query(
    `UPDATE memberships SET status = 'active', joined_at = '2026-11-02T09:00:00Z'
      WHERE user_id = (SELECT user_id FROM users WHERE email = 'bob@acme.io')`,
  );
  server = await startTestServer(db.pool);
  acmeKey = await createApiKey(db.pool, 'acme-app', { organizations: ['acme'] });
});
afterAll(async () => {
  await server.close();
  ws.dispose();
  await db.drop();
});

const api = async (path: string, key = acmeKey) => {
  const response = await fetch(`${server.base}${path}`, {
    headers: { authorization: `Bearer ${key}` },
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

describe('the views', () => {
  it('list the members with their facts and last change, from the CLI and the API alike', async () => {
    const text = await ws.rosterAsync(['members', '--org', 'acme']);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(
      /^USER\s+ROLE\s+SEAT\s+STATUS\s+JOINED\s+INVITED BY\s+MANAGED BY\s+LAST CHANGE$/m,
    );
    expect(text.stdout).toMatch(
      /^bob@acme\.io\s+developer\s+paid\s+active\s+2026-11-02\s+roster-cli \S+\s+roster-cli\s+\S+Z create by roster-cli \S+ \(acme\.yaml(:\d+)?\)$/m,
    );
    const json = JSON.parse(
      (await ws.rosterAsync(['members', '--org', 'acme', '--format', 'json'])).stdout,
    );
    const viaApi = await api('/api/v1/organizations/acme/members');
    expect(viaApi.status).toBe(200);
    expect(viaApi.body).toEqual(json);
    expect(json.members.map((m: { user: string }) => m.user)).toEqual([
      'alice@acme.io',
      'bob@acme.io',
      'carol@acme.io',
    ]);
    expect(json.members[2]).toMatchObject({
      role: 'billing',
      seat: 'free',
      status: 'invited',
      joinedAt: null,
      managedBy: 'roster-cli',
      lastChange: { action: 'create', source: { file: 'acme.yaml' } },
    });
    // Pages: two, then the rest, by cursor.
    const first = await api('/api/v1/organizations/acme/members?limit=2');
    expect(first.body.next).toBe('bob@acme.io');
    const second = await api('/api/v1/organizations/acme/members?limit=2&after=bob%40acme.io');
    expect(second.body).toMatchObject({ members: [{ user: 'carol@acme.io' }], next: null });
    // Outside the key's scope: 403, whether the organization exists or not.
    expect((await api('/api/v1/organizations/globex/members')).status).toBe(403);
    expect((await api('/api/v1/organizations/nowhere/members')).status).toBe(403);
    const missing = await ws.rosterAsync(['members', '--org', 'nowhere']);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('no organization "nowhere"');
  });

  it('show the organizations a person can switch to, and the contacts of a category', async () => {
    const orgs = await ws.rosterAsync(['orgs', '--user', 'bob@acme.io', '--format', 'json']);
    expect(JSON.parse(orgs.stdout).organizations.map((o: { org: string }) => o.org)).toEqual([
      'acme',
      'globex',
    ]);
    // The API key for acme sees acme only.
    const scoped = await api('/api/v1/users/bob%40acme.io/organizations');
    expect((scoped.body.organizations as { org: string }[]).map((o) => o.org)).toEqual(['acme']);
    const contacts = await ws.rosterAsync(['contacts', '--org', 'acme', '--category', 'support']);
    expect(contacts.stdout).toMatch(/^alice@acme\.io\s+-\s+-\s+owner$/m);
    const billing = await ws.rosterAsync([
      'contacts',
      '--org',
      'acme',
      '--category',
      'billing',
      '--format',
      'json',
    ]);
    expect(JSON.parse(billing.stdout)).toEqual(
      (await api('/api/v1/organizations/acme/contacts?category=billing')).body,
    );
  });

  it('check access with the reason, and exit 3 when denied', async () => {
    const allowed = await ws.rosterAsync([
      'check',
      'bob@acme.io',
      'resources.create',
      '--org',
      'acme',
    ]);
    expect(allowed.stdout).toBe('allowed: role, role developer\n');
    expect(allowed.status).toBe(0);
    const denied = await ws.rosterAsync([
      'check',
      'carol@acme.io',
      'billing.view',
      '--org',
      'acme',
    ]);
    expect(denied.stdout).toBe('denied: invitation-pending, role billing\n');
    expect(denied.status).toBe(3);
    const grant = await ws.rosterAsync([
      'check',
      'dave@freelance.io',
      'resource.deploy',
      '--org',
      'acme',
      '--resource',
      'site/www',
      '--format',
      'json',
    ]);
    expect(JSON.parse(grant.stdout)).toEqual({
      allowed: false,
      reason: 'invitation-pending',
      role: 'resource-developer',
    });
    const usage = await ws.rosterAsync(['check', 'bob@acme.io', '--org', 'acme']);
    expect(usage.status).toBe(1);
    expect(usage.stderr).toContain('check needs USER PERMISSION --org ORG');
  });

  it('read the audit log by organization, person and time, within the key scope', async () => {
    const all = JSON.parse((await ws.rosterAsync(['audit', '--format', 'json'])).stdout);
    const acme = JSON.parse(
      (await ws.rosterAsync(['audit', '--org', 'acme', '--format', 'json'])).stdout,
    );
    expect(acme.entries.length).toBeGreaterThan(0);
    expect(acme.entries.every((e: { org: string }) => e.org === 'acme')).toBe(true);
    expect(all.entries.length).toBeGreaterThan(acme.entries.length);
    const bob = JSON.parse(
      (await ws.rosterAsync(['audit', '--user', 'bob@acme.io', '--format', 'json'])).stdout,
    );
    expect(
      bob.entries.map((e: { org: string; record: string }) => `${e.record} ${e.org}`).sort(),
    ).toEqual(['membership acme', 'membership globex']);
    expect(bob.entries[0]).toMatchObject({
      actor: expect.stringMatching(/^roster-cli /),
      action: 'create',
      key: { kind: 'membership', user: 'bob@acme.io' },
      source: { file: expect.stringMatching(/\.yaml$/) },
    });
    const future = await ws.rosterAsync(['audit', '--since', '2099-01-01']);
    expect(future.stdout).toBe('No entries.\n');
    const text = await ws.rosterAsync(['audit', '--org', 'acme', '--user', 'bob@acme.io']);
    expect(text.stdout).toMatch(
      /^\S+Z\s+acme\s+roster-cli \S+\s+create\s+membership bob@acme\.io\s+acme\.yaml(:\d+)?$/m,
    );
    const bad = await ws.rosterAsync(['audit', '--since', 'yesterday']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('--since takes a date (2026-11-01) or an RFC 3339 time');

    // The API: a key for acme reads acme's entries only, and nothing of globex.
    const scoped = await api('/api/v1/audit?user=bob%40acme.io');
    expect(scoped.status).toBe(200);
    expect((scoped.body.entries as { org: string }[]).map((e) => e.org)).toEqual(['acme']);
    expect((await api('/api/v1/audit?org=globex')).status).toBe(403);
    const every = await createApiKey(db.pool, 'platform', { organizations: 'all' });
    const page = await api('/api/v1/audit?limit=2', every);
    expect((page.body.entries as unknown[]).length).toBe(2);
    const rest = await api(`/api/v1/audit?limit=1000&after=${String(page.body.next)}`, every);
    // The key's use today is itself an entry (written once, before the first page).
    const whole = await api('/api/v1/audit?limit=1000', every);
    expect((rest.body.entries as unknown[]).length).toBe(
      (whole.body.entries as unknown[]).length - 2,
    );
    expect((await api('/api/v1/audit?since=soon', every)).status).toBe(400);
    expect((await api('/api/v1/audit?after=x', every)).status).toBe(400);
  });
});
