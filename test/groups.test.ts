/**
 * Groups of an organization through the real `roster`, PostgreSQL, SMTP on loopback and the HTTP
 * API: validated with positions, planned (one invitation per person, once), applied, answered by
 * the access API with the group named, counted once against seats, removed under the removal
 * caps, and exported back without changes.
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
let key: string;
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

/** Four paid seats: the owner, Marc (a member), and Léa and Hugo through groups only. */
const PLAN = doc('Plan', 'mail-team', {
  seats: { paid: 4 },
  maxResources: 3,
  features: ['members', 'resourceGrants'],
});
const groups = (
  support: string[],
  compta: string[],
  extra: Record<string, unknown>[] = [],
): string =>
  doc('Organization', 'nord', {
    plan: 'mail-team',
    owner: 'direction@nord.eu',
    resources: [
      { type: 'mailbox', name: 'support' },
      { type: 'mailbox', name: 'factures' },
    ],
    members: [{ user: 'marc@nord.eu', role: 'developer' }],
    groups: [
      {
        name: 'support',
        members: support,
        grants: [{ resource: 'mailbox/support', role: 'resource-developer' }],
      },
      { name: 'compta', role: 'billing', members: compta },
      ...extra,
    ],
  });
const NORD = groups(['lea@nord.eu', 'marc@nord.eu'], ['lea@nord.eu', 'hugo@nord.eu']);
const env = () => ({
  SMTP_URL: smtp.url,
  ROSTER_PUBLIC_URL: server.base,
  ROSTER_RETRY_BASE_MS: '0',
});
const check = async (user: string, permission: string, resource?: string) => {
  const query = new URLSearchParams({ user, permission, org: 'nord' });
  if (resource !== undefined) query.set('resource', resource);
  const response = await fetch(`${server.base}/api/v1/check?${query}`, {
    headers: { authorization: `Bearer ${key}` },
  });
  return (await response.json()) as Record<string, unknown>;
};

describe('groups', () => {
  it('are validated with positions: roles, their scope, resources, seats counted once per person', () => {
    ws.write('plans.yaml', PLAN);
    ws.write(
      'nord.yaml',
      groups(
        ['lea@nord.eu', 'marc@nord.eu'],
        ['lea@nord.eu', 'hugo@nord.eu'],
        [
          {
            name: 'stagiaires',
            role: 'resource-developer',
            members: ['zoe@nord.eu'],
            grants: [{ resource: 'mailbox/ventes', role: 'billing' }],
          },
        ],
      ),
    );
    const run = ws.roster(['validate', '-f', '.']);
    ws.write('nord.yaml', NORD);
    expect(run.status).toBe(1);
    const errors = run.stderr.split('\n').filter((l) => l.includes('error:'));
    expect(errors).toEqual([
      // Owner, Marc, Léa, Hugo and Zoé: 5 people, whatever the number of groups each is in.
      expect.stringMatching(
        /^nord\.yaml:4:\d+: error: organization "nord" uses 5 paid seats \(the owner's included\) but plan "mail-team" has 4/,
      ),
      expect.stringMatching(
        /^nord\.yaml:4:\d+: error: role "resource-developer" is a resource role: a group's role needs an organization role \[role-scope\]$/,
      ),
      expect.stringMatching(
        /^nord\.yaml:4:\d+: error: organization "nord" has no resource mailbox\/ventes: add it to spec\.resources/,
      ),
      expect.stringMatching(
        /^nord\.yaml:4:\d+: error: role "billing" is an organization role: a group's grant needs a resource role \[role-scope\]$/,
      ),
    ]);
    const valid = ws.roster(['validate', '-f', '.']);
    expect(valid.stderr).toBe('');
    expect(valid.status).toBe(0);
  });

  it('invite each person not yet a member once, whatever the number of groups', async () => {
    const plan = await ws.rosterAsync(['plan', '-f', '.', '--format', 'json']);
    expect(plan.stderr).toBe('');
    const json = JSON.parse(plan.stdout) as {
      changes: { id: Record<string, string>; after: Record<string, unknown> }[];
      invitations: Record<string, string>[];
    };
    expect(json.changes.find((c) => c.id.kind === 'group' && c.id.name === 'compta')).toMatchObject(
      {
        id: { kind: 'group', org: 'nord', name: 'compta' },
        after: { role: 'billing', members: ['hugo@nord.eu', 'lea@nord.eu'], grants: [] },
      },
    );
    expect(json.invitations.filter((i) => i.subject === 'group')).toEqual([
      expect.objectContaining({ user: 'hugo@nord.eu', resource: 'group/compta', role: 'billing' }),
      expect.objectContaining({ user: 'lea@nord.eu', resource: 'group/compta', role: 'billing' }),
    ]);
    const text = await ws.rosterAsync(['plan', '-f', '.']);
    expect(text.stdout).toMatch(/\+ group support\n/);

    const applied = await ws.rosterAsync(['apply', '-f', '.', '--yes'], env());
    expect(applied.stderr).toBe('');
    expect(applied.status).toBe(0);
    const mails = smtp.messages.map(recipientOf).sort();
    expect(mails).toEqual(['direction@nord.eu', 'hugo@nord.eu', 'lea@nord.eu', 'marc@nord.eu']);
    const { rows } = await db.pool.query(
      `SELECT gm.group_name, u.email, gm.status FROM group_members gm JOIN users u USING (user_id)
        ORDER BY 1, 2`,
    );
    expect(rows).toEqual([
      { group_name: 'compta', email: 'hugo@nord.eu', status: 'invited' },
      { group_name: 'compta', email: 'lea@nord.eu', status: 'invited' },
      { group_name: 'support', email: 'lea@nord.eu', status: 'invited' },
      { group_name: 'support', email: 'marc@nord.eu', status: 'invited' },
    ]);
    expect((await ws.rosterAsync(['plan', '-f', '.', '--detailed-exitcode'])).status).toBe(0);
  });

  it('give their access once accepted, and the access API names the group', async () => {
    key = await createApiKey(db.pool, 'nord-app', { organizations: ['nord'] });
    expect(await check('lea@nord.eu', 'billing.manage')).toMatchObject({
      allowed: false,
      reason: 'invitation-pending',
      group: 'compta',
    });
    const accept = async (user: string) => {
      const mail = smtp.messages.find((m) => recipientOf(m) === user);
      const response = await fetch(`${linkOf(mail!)}/accept`, {
        method: 'POST',
        redirect: 'manual',
      });
      expect(response.status).toBe(303);
    };
    const lea = smtp.messages.find((m) => recipientOf(m) === 'lea@nord.eu');
    expect(lea?.text).toContain('to join nord in the group compta as billing.');
    const page = await (await fetch(linkOf(lea!))).text();
    expect(page).toContain('to join this organization in the group <strong>compta</strong>');
    await accept('lea@nord.eu');
    await accept('marc@nord.eu');
    expect(await check('lea@nord.eu', 'billing.manage')).toEqual({
      allowed: true,
      reason: 'group',
      role: 'billing',
      group: 'compta',
    });
    expect(await check('lea@nord.eu', 'resource.deploy', 'mailbox/support')).toMatchObject({
      allowed: true,
      reason: 'group',
      role: 'resource-developer',
      group: 'support',
    });
    // Marc's own role comes first; the group adds the mailbox.
    expect(await check('marc@nord.eu', 'resources.view')).toMatchObject({ reason: 'role' });
    expect(await check('marc@nord.eu', 'resource.deploy', 'mailbox/support')).toMatchObject({
      allowed: true,
      reason: 'role',
    });
    expect(await check('lea@nord.eu', 'members.manage')).toMatchObject({
      allowed: false,
      reason: 'permission-not-granted',
    });
    expect(await check('hugo@nord.eu', 'billing.view')).toMatchObject({
      reason: 'invitation-pending',
    });
    const orgs = await fetch(`${server.base}/api/v1/users/lea%40nord.eu/organizations`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(await orgs.json()).toEqual({
      organizations: [
        {
          org: 'nord',
          displayName: null,
          via: 'group',
          role: null,
          resources: [],
          groups: [
            { group: 'compta', role: 'billing' },
            { group: 'support', role: null },
          ],
        },
      ],
    });
  });

  it('join an active person active, and do not invite them again', async () => {
    ws.write(
      'nord.yaml',
      groups(
        ['lea@nord.eu', 'marc@nord.eu'],
        ['lea@nord.eu', 'hugo@nord.eu'],
        [{ name: 'equipe', members: ['lea@nord.eu'], role: 'developer' }],
      ),
    );
    const applied = await ws.rosterAsync(['apply', '-f', '.', '--yes', '--format', 'json'], env());
    expect(applied.status, applied.stderr).toBe(0);
    expect((JSON.parse(applied.stdout) as { invitations: unknown[] }).invitations).toEqual([]);
    expect(await check('lea@nord.eu', 'resources.create')).toMatchObject({
      allowed: true,
      reason: 'group',
      group: 'equipe',
    });
  });

  it('remove access when a person leaves the last group, under the removal caps', async () => {
    ws.write('nord.yaml', groups(['marc@nord.eu'], []));
    const refused = await ws.rosterAsync(['plan', '-f', '.']);
    expect(refused.status).toBe(1);
    // The owner, Marc, and Léa and Hugo through groups only: both of those leave.
    expect(refused.stdout).toMatch(
      /! the plan removes 2 of the 4 members of "nord" \(50 %\), more than the 25 % allowed/,
    );
    const applied = await ws.rosterAsync(
      ['apply', '-f', '.', '--yes', '--max-org-removal-ratio', '1'],
      env(),
    );
    expect(applied.status, applied.stderr).toBe(0);
    expect(await check('lea@nord.eu', 'billing.view')).toMatchObject({
      allowed: false,
      reason: 'not-a-member',
    });
    // Hugo never accepted: his link no longer works.
    const { rows } = await db.pool.query(
      `SELECT i.status FROM invitations i JOIN users u USING (user_id) WHERE u.email = 'hugo@nord.eu'`,
    );
    expect(rows).toEqual([{ status: 'revoked' }]);
  });

  it('round-trip through export, inline in their organization', async () => {
    ws.write('nord.yaml', NORD);
    expect((await ws.rosterAsync(['apply', '-f', '.', '--yes', '--no-deliver'])).status).toBe(0);
    const out = mkdtempSync(join(tmpdir(), 'roster-export-'));
    expect((await ws.rosterAsync(['export', '-o', out])).status).toBe(0);
    const nord = readFileSync(`${out}/nord.yaml`, 'utf8');
    expect(nord).toMatch(
      /groups:\n\s+- name: compta\n\s+role: billing\n\s+members:\n\s+- hugo@nord\.eu\n\s+- lea@nord\.eu/,
    );
    const again = await ws.rosterAsync(['plan', '-f', out, '--detailed-exitcode']);
    rmSync(out, { recursive: true });
    expect(again.stdout + again.stderr).toMatch(/No changes/);
    expect(again.status).toBe(0);
  });
});
