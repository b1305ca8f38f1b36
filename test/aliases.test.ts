/**
 * One person, several addresses (kind User), through the real `roster`, PostgreSQL, SMTP on
 * loopback and the HTTP API: a member named by an alias is the person (one seat, one invitation
 * to the primary address), the access API answers for any address, an address claimed twice is an
 * error naming both places, and an address with access of its own does not silently become an
 * alias.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../src/store/api-keys.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { startTestServer, type TestServer } from './support/http-server.js';
import { linkOf, recipientOf, startSmtp, type CapturingSmtp } from './support/smtp.js';
import { createWorkspace, doc, type Workspace } from './support/workspace.js';

let db: TestDatabase;
let ws: Workspace;
let smtp: CapturingSmtp;
let server: TestServer;
beforeAll(async () => {
  db = await createTestDatabase();
  ws = createWorkspace(db.url);
  smtp = await startSmtp();
  server = await startTestServer(db.pool);
});
afterAll(async () => {
  await server.close();
  await smtp.close();
  ws.dispose();
  await db.drop();
});

const PLAN = doc('Plan', 'duo', { seats: { paid: 2 }, features: ['members', 'resourceGrants'] });
const SOPHIE = doc('User', 'sophie', {
  email: 'sophie@nord.eu',
  aliases: ['s.lambert@nord.eu', 'Compta@Nord.eu'],
});
/** Two paid seats: the owner and Sophie, named once by an alias and once (a grant) by another. */
const NORD = [
  doc('Organization', 'nord', {
    plan: 'duo',
    owner: 'direction@nord.eu',
    resources: [{ type: 'domain', name: 'nord-eu' }],
    members: [{ user: 's.lambert@nord.eu', role: 'billing' }],
  }),
  doc('Grant', 'nord-domain', {
    org: 'nord',
    user: 'compta@nord.eu',
    resource: 'domain/nord-eu',
    role: 'resource-administrator',
  }),
].join('---\n');
const env = () => ({
  SMTP_URL: smtp.url,
  ROSTER_PUBLIC_URL: server.base,
  ROSTER_RETRY_BASE_MS: '0',
});

describe('aliases', () => {
  it('plan the records of the person an alias names: one seat, invitations to the primary address', async () => {
    ws.write('plans.yaml', PLAN);
    ws.write('users.yaml', SOPHIE);
    ws.write('nord.yaml', NORD);
    const plan = await ws.rosterAsync(['plan', '-f', '.', '--format', 'json']);
    expect(plan.stderr).toBe('');
    const changes = (JSON.parse(plan.stdout) as { changes: { id: Record<string, string> }[] })
      .changes;
    expect(changes.map((c) => c.id)).toEqual(
      expect.arrayContaining([
        { kind: 'user', email: 'sophie@nord.eu' },
        { kind: 'membership', org: 'nord', user: 'sophie@nord.eu' },
        { kind: 'grant', org: 'nord', user: 'sophie@nord.eu', resource: 'domain/nord-eu' },
      ]),
    );
    const text = await ws.rosterAsync(['plan', '-f', '.']);
    expect(text.stdout).toMatch(
      /\+ user sophie@nord\.eu\n\s+aliases: \["compta@nord\.eu","s\.lambert@nord\.eu"\]/,
    );

    const applied = await ws.rosterAsync(['apply', '-f', '.', '--yes'], env());
    expect(applied.stderr).toBe('');
    expect(applied.status).toBe(0);
    const { rows } = await db.pool.query(
      `SELECT a.alias, u.email, r.managed_by IS NOT NULL AS managed
         FROM user_aliases a JOIN users u USING (user_id) LEFT JOIN user_records r USING (user_id)
        ORDER BY a.alias`,
    );
    expect(rows).toEqual([
      { alias: 'compta@nord.eu', email: 'sophie@nord.eu', managed: true },
      { alias: 's.lambert@nord.eu', email: 'sophie@nord.eu', managed: true },
    ]);
    // Nobody was created under an alias; the person got her invitations at her primary address.
    const users = await db.pool.query(`SELECT email FROM users ORDER BY email`);
    expect(users.rows.map((r) => r.email)).toEqual(['direction@nord.eu', 'sophie@nord.eu']);
    const recipients = smtp.messages.map(recipientOf).sort();
    expect(recipients).toContain('sophie@nord.eu');
    expect(recipients.filter((r) => r.endsWith('@nord.eu') && r !== 'direction@nord.eu')).toEqual(
      recipients.filter((r) => r === 'sophie@nord.eu'),
    );
    expect((await ws.rosterAsync(['plan', '-f', '.', '--detailed-exitcode'])).status).toBe(0);
  });

  it('count a person once against seats, whatever address a group names them by', async () => {
    // Two paid seats (the owner and Sophie): Sophie in a group under another of her addresses.
    ws.write(
      'nord.yaml',
      NORD.replace(
        `"members":[{"user":"s.lambert@nord.eu","role":"billing"}]`,
        `"members":[{"user":"s.lambert@nord.eu","role":"billing"}],"groups":[{"name":"compta","members":["compta@nord.eu"]}]`,
      ),
    );
    const valid = ws.roster(['validate', '-f', '.']);
    expect(valid.stderr).toBe('');
    expect(valid.status).toBe(0);
    // Someone else in the group would take a third seat.
    ws.write(
      'nord.yaml',
      NORD.replace(
        `"members":[{"user":"s.lambert@nord.eu","role":"billing"}]`,
        `"members":[{"user":"s.lambert@nord.eu","role":"billing"}],"groups":[{"name":"compta","members":["compta@nord.eu","paul@nord.eu"]}]`,
      ),
    );
    const over = ws.roster(['validate', '-f', '.']);
    ws.write('nord.yaml', NORD);
    expect(over.status).toBe(1);
    expect(over.stderr).toMatch(
      /organization "nord" uses 3 paid seats \(the owner's included\) but plan "duo" has 2/,
    );
  });

  it('are read by every incremental plan, and a change of aliases plans every organization', async () => {
    ws.write('other.yaml', doc('Organization', 'other', { plan: 'duo', owner: 'o@other.io' }));
    expect((await ws.rosterAsync(['apply', '-f', '.', '--yes', '--no-deliver'])).status).toBe(0);
    // Only nord.yaml changes (a comment): its alias still names Sophie, nothing to change.
    ws.write('nord.yaml', `# touched\n${NORD}`);
    const quiet = await ws.rosterAsync(['plan', '-f', '.', '--detailed-exitcode']);
    expect(quiet.stderr).toMatch(/^Incremental plan: 1 of 4 files changed/m);
    expect(quiet.status).toBe(0);
    ws.write(
      'users.yaml',
      doc('User', 'sophie', { email: 'sophie@nord.eu', aliases: ['s.lambert@nord.eu'] }),
    );
    const full = await ws.rosterAsync(['plan', '-f', '.', '--detailed-exitcode']);
    expect(full.stderr).toMatch(/^Full plan: the aliases of sophie@nord\.eu change\.$/m);
    // compta@ is nobody's alias any more: the grant is a new person's.
    expect(full.stdout).toMatch(/- grant sophie@nord\.eu on domain\/nord-eu/);
    expect(full.stdout).toMatch(/\+ grant compta@nord\.eu on domain\/nord-eu/);
    expect(full.status).toBe(2);
    ws.write('users.yaml', SOPHIE);
    ws.write('nord.yaml', NORD);
    ws.remove('other.yaml');
  });

  it('are answered by the access API for any address, and accepting works whatever the address', async () => {
    const mail = smtp.messages.find(
      (m) => recipientOf(m) === 'sophie@nord.eu' && /billing/.test(m.text ?? ''),
    );
    expect(mail).toBeDefined();
    const accepted = await fetch(`${linkOf(mail!)}/accept`, { method: 'POST', redirect: 'manual' });
    expect(accepted.status).toBe(303);
    const key = await createApiKey(db.pool, 'nord-app', { organizations: ['nord'] });
    const get = async (path: string) => {
      const response = await fetch(`${server.base}${path}`, {
        headers: { authorization: `Bearer ${key}` },
      });
      return (await response.json()) as Record<string, unknown>;
    };
    for (const address of ['sophie@nord.eu', 's.lambert@nord.eu', 'COMPTA@nord.eu']) {
      const answer = await get(
        `/api/v1/check?user=${encodeURIComponent(address)}&permission=billing.manage&org=nord`,
      );
      expect(answer, address).toMatchObject({ allowed: true, reason: 'role', role: 'billing' });
      const orgs = await get(`/api/v1/users/${encodeURIComponent(address)}/organizations`);
      expect(orgs, address).toMatchObject({ organizations: [{ org: 'nord', role: 'billing' }] });
    }
    const stranger = await get(
      `/api/v1/check?user=someone%40nord.eu&permission=billing.manage&org=nord`,
    );
    expect(stranger).toMatchObject({ allowed: false });
  });

  it('round-trip through export: a users.yaml that plans no change', async () => {
    const out = mkdtempSync(join(tmpdir(), 'roster-export-'));
    const exported = await ws.rosterAsync(['export', '-o', out]);
    expect(exported.status, exported.stderr).toBe(0);
    const users = readFileSync(`${out}/users.yaml`, 'utf8');
    expect(users).toMatch(
      /kind: User\n.*\n\s+name: sophie-at-nord.eu\nspec:\n\s+email: sophie@nord\.eu\n\s+aliases:\n\s+- compta@nord\.eu\n\s+- s\.lambert@nord\.eu/,
    );
    const again = await ws.rosterAsync(['plan', '-f', out, '--detailed-exitcode']);
    rmSync(out, { recursive: true });
    expect(again.stdout + again.stderr).toMatch(/No changes/);
    expect(again.status).toBe(0);
  });

  it('refuse an address claimed by two people, naming both places', () => {
    ws.write(
      'z-users.yaml',
      [
        doc('User', 'sophie-again', { email: 'lambert@nord.eu', aliases: ['s.lambert@nord.eu'] }),
        doc('User', 'boss', { email: 'direction@nord.eu', aliases: ['sophie@nord.eu'] }),
      ].join('---\n'),
    );
    const run = ws.roster(['validate', '-f', '.']);
    ws.remove('z-users.yaml');
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(
      /^z-users\.yaml:4:\d+: error: s\.lambert@nord\.eu \(alias\) is already an address of the User sophie@nord\.eu at users\.yaml:4:\d+: one address names one person/m,
    );
    expect(run.stderr).toMatch(
      /^z-users\.yaml:9:\d+: error: sophie@nord\.eu \(alias\) is already an address of the User sophie@nord\.eu at users\.yaml:4:\d+/m,
    );
  });

  it('refuse a membership declared under two addresses of one person', () => {
    ws.write(
      'nord.yaml',
      NORD.replace(
        `"members":[{"user":"s.lambert@nord.eu","role":"billing"}]`,
        `"members":[{"user":"s.lambert@nord.eu","role":"billing"},{"user":"sophie@nord.eu","role":"developer"}]`,
      ),
    );
    const run = ws.roster(['validate', '-f', '.']);
    ws.write('nord.yaml', NORD);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(
      /nord\.yaml:\d+:\d+: error: membership of sophie@nord\.eu in nord is declared twice: first at nord\.yaml:\d+:\d+/,
    );
  });

  it('do not make an address with access of its own an alias: the plan refuses, and so does the database', async () => {
    // Someone the application added by itself (unmanaged), under an address of their own.
    await db.pool.query(`INSERT INTO users (email) VALUES ('sophie.l@gmail.com')`);
    await db.pool.query(
      `INSERT INTO memberships (org_id, user_id, role, status)
       SELECT o.org_id, u.user_id, 'developer', 'active' FROM organizations o, users u
        WHERE o.name = 'nord' AND u.email = 'sophie.l@gmail.com'`,
    );
    ws.write(
      'users.yaml',
      doc('User', 'sophie', {
        email: 'sophie@nord.eu',
        aliases: ['s.lambert@nord.eu', 'compta@nord.eu', 'sophie.l@gmail.com'],
      }),
    );
    const refused = await ws.rosterAsync(['apply', '-f', '.', '--yes', '--no-deliver']);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(
      /sophie\.l@gmail\.com cannot become an alias of sophie@nord\.eu: it is a user of its own with the membership sophie\.l@gmail\.com in nord/,
    );
    await expect(
      db.pool.query(
        `INSERT INTO user_aliases (alias, user_id) SELECT 'sophie.l@gmail.com', user_id FROM users WHERE email = 'sophie@nord.eu'`,
      ),
    ).rejects.toMatchObject({ code: 'RA001' });
    // No user may be created under an address that is an alias either.
    await expect(
      db.pool.query(`INSERT INTO users (email) VALUES ('compta@nord.eu')`),
    ).rejects.toMatchObject({
      code: 'RA001',
      message: /compta@nord\.eu is an alias of another user/,
    });
    // Once that address's access is gone, the alias is taken in one apply.
    await db.pool.query(
      `DELETE FROM memberships WHERE user_id = (SELECT user_id FROM users WHERE email = 'sophie.l@gmail.com')`,
    );
    const applied = await ws.rosterAsync(['apply', '-f', '.', '--yes', '--no-deliver']);
    expect(applied.status, applied.stderr).toBe(0);
  });

  it('removing a User drops its aliases, not the person', async () => {
    ws.remove('users.yaml');
    ws.write(
      'nord.yaml',
      NORD.replaceAll('s.lambert@nord.eu', 'sophie@nord.eu').replace(
        'compta@nord.eu',
        'sophie@nord.eu',
      ),
    );
    const applied = await ws.rosterAsync([
      'apply',
      '-f',
      '.',
      '--yes',
      '--no-deliver',
      '--prune-all',
    ]);
    expect(applied.status, applied.stderr).toBe(0);
    expect(applied.stdout).toMatch(/- user sophie@nord\.eu/);
    expect((await db.pool.query(`SELECT count(*)::int AS n FROM user_aliases`)).rows[0].n).toBe(0);
    const person = await db.pool.query(
      `SELECT r.managed_by, m.status FROM users u JOIN memberships m USING (user_id)
         LEFT JOIN user_records r USING (user_id) WHERE u.email = 'sophie@nord.eu'`,
    );
    expect(person.rows).toEqual([{ managed_by: null, status: 'active' }]);
  });
});
