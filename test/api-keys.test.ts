/**
 * API keys scoped to organizations, end to end: made and listed with the real `roster`, used over
 * real HTTP against `roster serve`'s server. A key reads only the organizations it names.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './support/http-server.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { createWorkspace, doc, TEAM_PLAN, tenant, type Workspace } from './support/workspace.js';

let db: TestDatabase;
let ws: Workspace;
let server: TestServer;
let base: string;

beforeAll(async () => {
  db = await createTestDatabase();
  ws = createWorkspace(db.url);
  ws.write(
    't.yaml',
    [
      TEAM_PLAN,
      tenant('acme', 'alice@acme.io', ['sam@both.io']),
      tenant('globex', 'gus@globex.io', ['sam@both.io']),
      doc('Contact', 'acme-ap', { org: 'acme', email: 'ap@acme.io', categories: ['billing'] }),
      doc('Contact', 'globex-ap', {
        org: 'globex',
        email: 'ap@globex.io',
        categories: ['billing'],
      }),
    ].join('---\n'),
  );
  expect((await ws.rosterAsync(['apply', '-f', 't.yaml', '--yes', '--no-deliver'])).status).toBe(0);
  // sam accepted both invitations.
  await db.pool.query(`UPDATE memberships SET status = 'active', joined_at = now()`);
  server = await startTestServer(db.pool);
  base = server.base;
});
afterAll(async () => {
  await server.close();
  ws.dispose();
  await db.drop();
});

const create = async (args: string[]) => {
  const run = await ws.rosterAsync(['api-keys', 'create', ...args]);
  expect(run.status, run.stderr).toBe(0);
  return run.stdout.trim();
};
const get = async (key: string, path: string) => {
  const response = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${key}` } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};
const check = (org: string) =>
  `/api/v1/check?user=sam%40both.io&permission=resources.create&org=${org}`;

describe('scoped API keys', () => {
  it('refuses to make a key without a scope, and names both ways to give one', async () => {
    const run = await ws.rosterAsync(['api-keys', 'create', 'unscoped']);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(
      'api-keys create needs --org ORG (repeatable) for the organizations the key may read, or --all-organizations',
    );
    const both = await ws.rosterAsync([
      'api-keys',
      'create',
      'both',
      '--org',
      'acme',
      '--all-organizations',
    ]);
    expect(both.status).toBe(1);
    const past = await ws.rosterAsync([
      'api-keys',
      'create',
      'old',
      '--org',
      'acme',
      '--expires',
      '2020-01-01',
    ]);
    expect(past.status).toBe(1);
    expect(past.stderr).toContain('--expires must be in the future, not "2020-01-01"');
  });

  it('reads only the organizations a key names: 403 elsewhere, whether the organization exists or not', async () => {
    const key = await create(['acme-reader', '--org', 'acme']);
    expect((await get(key, check('acme'))).status).toBe(200);
    for (const org of ['globex', 'no-such-org']) {
      const denied = await get(key, check(org));
      expect(denied.status).toBe(403);
      expect(denied.body).toEqual({
        error: `the API key "acme-reader" may not read organization "${org}"`,
      });
    }
    expect((await get(key, '/api/v1/organizations/acme/contacts')).body).toEqual({
      contacts: [{ email: 'ap@acme.io', name: null, categories: ['billing'], via: 'contact' }],
    });
    expect((await get(key, '/api/v1/organizations/globex/contacts')).status).toBe(403);
    const orgs = await get(key, '/api/v1/users/sam%40both.io/organizations');
    expect((orgs.body.organizations as { org: string }[]).map((o) => o.org)).toEqual(['acme']);
  });

  it('reads every organization only with --all-organizations', async () => {
    const key = await create(['platform', '--all-organizations']);
    expect((await get(key, check('globex'))).status).toBe(200);
    const orgs = await get(key, '/api/v1/users/sam%40both.io/organizations');
    expect((orgs.body.organizations as { org: string }[]).map((o) => o.org)).toEqual([
      'acme',
      'globex',
    ]);
  });

  it('stops working when it expires', async () => {
    const key = await create(['short-lived', '--org', 'acme', '--expires', '2s']);
    expect((await get(key, check('acme'))).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    expect((await get(key, check('acme'))).status).toBe(401);
  });

  it('lists scopes, creation, last use and expiry, never the key', async () => {
    const key = await create([
      'listed',
      '--org',
      'acme',
      '--org',
      'globex',
      '--expires',
      '2099-01-01',
    ]);
    await get(key, check('acme'));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const text = await ws.rosterAsync(['api-keys', 'list']);
    expect(text.stdout).toMatch(
      /^listed {2}organizations: acme, globex {2}created \S+Z {2}last used \S+Z {2}expires 2099-01-01T00:00:00.000Z$/m,
    );
    expect(text.stdout).toMatch(/^platform {2}organizations: all organizations {2}created/m);
    expect(text.stdout).not.toContain(key);
    const json = JSON.parse(
      (await ws.rosterAsync(['api-keys', 'list', '--format', 'json'])).stdout,
    );
    expect(json.keys.find((k: { name: string }) => k.name === 'listed')).toMatchObject({
      organizations: ['acme', 'globex'],
      expiresAt: '2099-01-01T00:00:00.000Z',
      revokedAt: null,
      lastUsedAt: expect.stringMatching(/Z$/),
    });
  });
});
