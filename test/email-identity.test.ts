/**
 * One e-mail identity everywhere: an address with an internationalised domain is stored in its
 * normalised (punycode) form, and every boundary (the access API, the invitation commands)
 * normalises what it is given the same way, instead of lowercasing it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../src/store/api-keys.js';
import { startTestServer, type TestServer } from './support/http-server.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { createWorkspace, TEAM_PLAN, tenant, type Workspace } from './support/workspace.js';

let db: TestDatabase;
let ws: Workspace;
let server: TestServer;
let base: string;
let key: string;

beforeAll(async () => {
  db = await createTestDatabase();
  ws = createWorkspace(db.url);
  ws.write(
    't.yaml',
    [TEAM_PLAN, tenant('acme', 'alice@acme.io', ['someone@bücher.example'])].join('---\n'),
  );
  const apply = await ws.rosterAsync(['apply', '-f', 't.yaml', '--yes', '--no-deliver']);
  expect(apply.status, apply.stderr).toBe(0);
  server = await startTestServer(db.pool);
  base = server.base;
  key = await createApiKey(db.pool, 'idn', { organizations: ['acme'] });
});
afterAll(async () => {
  await server.close();
  ws.dispose();
  await db.drop();
});

const api = async (path: string) =>
  (await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${key}` } })).json();

describe('an internationalised address', () => {
  it('is stored once, in its punycode form', async () => {
    const { rows } = await db.pool.query(`SELECT email FROM users ORDER BY email`);
    expect(rows.map((r) => r.email)).toEqual(['alice@acme.io', 'someone@xn--bcher-kva.example']);
  });

  it('is found by the invitation commands in any spelling', async () => {
    for (const spelling of ['someone@bücher.example', 'SomeOne@BÜCHER.example']) {
      const list = JSON.parse(
        (await ws.rosterAsync(['invitations', 'list', '--user', spelling, '--format', 'json']))
          .stdout,
      ).invitations;
      expect(list).toMatchObject([{ org: 'acme', user: 'someone@xn--bcher-kva.example' }]);
    }
  });

  it('is the same member for the access API, whatever the spelling', async () => {
    await db.pool.query(`UPDATE memberships SET status = 'active', joined_at = now()`);
    for (const spelling of [
      'someone@bücher.example',
      'SOMEONE@Bücher.Example',
      'someone@xn--bcher-kva.example',
    ]) {
      const user = encodeURIComponent(spelling);
      expect(await api(`/api/v1/check?user=${user}&permission=resources.create&org=acme`)).toEqual({
        allowed: true,
        reason: 'role',
        role: 'developer',
      });
      const orgs = (await api(`/api/v1/users/${user}/organizations`)) as {
        organizations: { org: string }[];
      };
      expect(orgs.organizations.map((o) => o.org)).toEqual(['acme']);
    }
  });
});
