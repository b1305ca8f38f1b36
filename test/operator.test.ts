/**
 * The operator end to end: the real kubectl applies Roster's custom resources to the
 * protocol-level API server (test/kube/api-server.ts), operators in this process reconcile them
 * into a real PostgreSQL and send invitations to a real SMTP server on loopback.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { Operator } from '../src/operator/operator.js';
import { acceptInvitation } from '../src/store/accept-invitation.js';
import { ROOT } from './support/run-roster.js';
import { linkOf, recipientOf } from './support/smtp.js';
import { eventually, startCluster, type TestCluster } from './kube/harness.js';

let cluster: TestCluster;
let operator: Operator;

beforeAll(async () => {
  cluster = await startCluster();
  operator = await cluster.startOperator();
});

afterAll(async () => {
  await cluster?.dispose();
});

const query = async (sql: string, params: unknown[] = []) =>
  (await cluster.db.pool.query(sql, params)).rows;

const kubectl = (...args: string[]) => cluster.kubectl(args);
const apply = (yaml: string, namespace = 'default') =>
  cluster.kubectl(['apply', '--validate=false', '-n', namespace, '-f', '-'], yaml);

/** `.status` of a resource, read with kubectl. */
async function statusOf(resource: string, namespace = 'default') {
  const run = await kubectl('get', resource, '-n', namespace, '-o', 'json');
  if (run.status !== 0) return undefined;
  return JSON.parse(run.stdout) as {
    metadata: { generation: number; finalizers?: string[] };
    status?: {
      observedGeneration?: number;
      memberStatus?: string;
      invitation?: { state: string; sentAt?: string };
      members?: number;
      conditions?: {
        type: string;
        status: string;
        reason: string;
        message: string;
        observedGeneration: number;
      }[];
    };
  };
}

const condition = (s: Awaited<ReturnType<typeof statusOf>>, type: string) =>
  s?.status?.conditions?.find((c) => c.type === type);

async function roleOf(org: string, email: string) {
  const rows = await query(
    `SELECT m.role, m.managed_by FROM memberships m JOIN organizations o USING (org_id)
       JOIN users u USING (user_id) WHERE o.name = $1 AND u.email = $2`,
    [org, email],
  );
  return rows[0] as { role: string; managed_by: string | null } | undefined;
}

const membership = (name: string, org: string, user: string, role: string, extra = '') =>
  `apiVersion: roster.dev/v1alpha1\nkind: Membership\nmetadata: { name: ${name} }\nspec: { org: ${org}, user: ${user}, role: ${role}${extra} }\n`;

const organization = (name: string, owner: string, plan = 'agency-client') =>
  `apiVersion: roster.dev/v1alpha1\nkind: Organization\nmetadata: { name: ${name} }\nspec: { plan: ${plan}, owner: ${owner} }\n`;

describe('the operator', () => {
  it('applies the examples with kubectl: database filled, invitations sent, memberships Ready', async () => {
    const applied = await kubectl(
      'apply',
      '--validate=false',
      '-f',
      `${ROOT}examples/hosting-agency/`,
    );
    expect(applied.stderr).toBe('');
    const lines = await eventually('every membership Ready', async () => {
      const table = await kubectl('get', 'memberships');
      const rows = table.stdout.trim().split('\n').slice(1);
      return rows.length === 8 && rows.every((l) => /\sinvited\s+True\s/.test(l))
        ? rows
        : undefined;
    });
    expect(lines.join('\n')).toContain('pixel-forge-samir');
    const members = await query(
      `SELECT o.name AS org, u.email, m.role, m.managed_by FROM memberships m
         JOIN organizations o USING (org_id) JOIN users u USING (user_id)`,
    );
    // 8 Membership resources and the 3 owners of the Organizations.
    expect(members).toHaveLength(11);
    expect(new Set(members.map((m) => m.managed_by))).toEqual(new Set(['operator:test/default']));
    const grants = await query(`SELECT count(*)::int AS n FROM grants`);
    expect(grants[0]?.n).toBe(3);
    // Every member and grantee gets an e-mail (hugo once per organization).
    await eventually('13 invitations sent', () => cluster.smtp.messages.length >= 13);
    const recipients = cluster.smtp.messages.map(recipientOf);
    expect(recipients).toContain('samir.haddad@pixelforge.studio');
    const samir = await eventually('sentAt in status', async () => {
      const s = await statusOf('membership/pixel-forge-samir');
      return s?.status?.invitation?.sentAt !== undefined ? s : undefined;
    });
    expect(samir.status?.invitation?.state).toBe('Pending');
    expect(samir.metadata.finalizers).toEqual(['roster.dev/finalizer']);
    expect(condition(samir, 'Synced')).toMatchObject({
      status: 'True',
      reason: 'Applied',
      observedGeneration: 1,
    });
    const org = await statusOf('organization/pixel-forge');
    expect(org?.status?.members).toBe(6);
    const reasons = await eventually('invitation events', async () => {
      const events = await kubectl('get', 'events', '-o', 'json');
      const items = JSON.parse(events.stdout).items as {
        reason: string;
        involvedObject: { name: string };
      }[];
      const found = items
        .filter((e) => e.involvedObject.name === 'pixel-forge-samir')
        .map((e) => e.reason);
      return found.includes('InvitationSent') ? found : undefined;
    });
    expect(reasons).toContain('InvitationQueued');
    // Every write went through the limiter: never more than 8 in flight across the workers.
    expect(operator.limiter.peakInFlight).toBeGreaterThan(0);
    expect(operator.limiter.peakInFlight).toBeLessThanOrEqual(8);
  });

  it('shows an accepted invitation at once (LISTEN/NOTIFY, no resync)', async () => {
    const mail = cluster.smtp.messages.find(
      (m) =>
        recipientOf(m) === 'samir.haddad@pixelforge.studio' && /Pixel Forge/.test(m.subject ?? ''),
    );
    expect(mail).toBeDefined();
    const token =
      linkOf(mail as NonNullable<typeof mail>)
        .split('/')
        .pop() ?? '';
    await acceptInvitation(cluster.db.pool, token);
    const s = await eventually(
      'Accepted in status',
      async () => {
        const status = await statusOf('membership/pixel-forge-samir');
        return status?.status?.invitation?.state === 'Accepted' ? status : undefined;
      },
      5_000,
    );
    expect(s.status?.memberStatus).toBe('active');
  });

  it('changes a role when the spec changes, with observedGeneration following', async () => {
    const patched = await kubectl(
      'patch',
      'membership',
      'pixel-forge-lea',
      '--type',
      'merge',
      '-p',
      '{"spec":{"role":"administrator"}}',
    );
    expect(patched.status).toBe(0);
    await eventually(
      'role in the database',
      async () =>
        (await roleOf('pixel-forge', 'lea.petit@pixelforge.studio'))?.role === 'administrator',
    );
    const s = await eventually('observedGeneration 2', async () => {
      const status = await statusOf('membership/pixel-forge-lea');
      return condition(status, 'Ready')?.observedGeneration === 2 ? status : undefined;
    });
    expect(s.metadata.generation).toBe(2);
    expect(condition(s, 'Ready')?.status).toBe('True');
  });

  it('deletes the record on delete (deletionPolicy Delete, the default)', async () => {
    const deleted = await kubectl('delete', 'membership', 'pixel-forge-lea', '--timeout=20s');
    expect(deleted.status).toBe(0);
    expect(await roleOf('pixel-forge', 'lea.petit@pixelforge.studio')).toBeUndefined();
    expect((await kubectl('get', 'membership', 'pixel-forge-lea')).status).not.toBe(0);
  });

  it('leaves the record, unmanaged, on delete with deletionPolicy Orphan', async () => {
    await kubectl(
      'patch',
      'membership',
      'cabinet-durand-hugo',
      '--type',
      'merge',
      '-p',
      '{"spec":{"deletionPolicy":"Orphan"}}',
    );
    const deleted = await kubectl('delete', 'membership', 'cabinet-durand-hugo', '--timeout=20s');
    expect(deleted.status).toBe(0);
    expect(await roleOf('cabinet-durand', 'hugo.bernard@pixelforge.studio')).toEqual({
      role: 'administrator',
      managed_by: null,
    });
  });

  it('does not take over what another namespace manages: the refusal shows in status and events', async () => {
    await kubectl('create', 'namespace', 'team-b');
    await apply(organization('pixel-forge', 'mallory@team-b.example'), 'team-b');
    const s = await eventually('Refused', async () => {
      const status = await statusOf('organization/pixel-forge', 'team-b');
      return condition(status, 'Ready')?.reason === 'Refused' ? status : undefined;
    });
    expect(condition(s, 'Ready')).toMatchObject({ status: 'False' });
    expect(condition(s, 'Ready')?.message).toMatch(/managed by operator:test\/default/);
    // Retried with backoff meanwhile, the refusal is recorded once, not once per retry.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(
      Number(/result="error"\} (\d+)/.exec(await operator.metrics.render())?.[1]),
    ).toBeGreaterThan(2);
    const events = await kubectl('get', 'events', '-n', 'team-b', '-o', 'json');
    const refusals = (JSON.parse(events.stdout).items as { type: string; reason: string }[]).filter(
      (e) => e.type === 'Warning' && e.reason === 'Refused',
    );
    expect(refusals).toHaveLength(1);
    const owners = await query(
      `SELECT u.email FROM memberships m JOIN organizations o USING (org_id) JOIN users u USING (user_id)
        WHERE o.name = 'pixel-forge' AND m.role = 'owner'`,
    );
    expect(owners).toEqual([{ email: 'claire.moreau@pixelforge.studio' }]);
    await kubectl('delete', 'organization', 'pixel-forge', '-n', 'team-b', '--timeout=20s');
  });

  it('reports an invalid resource in status and writes nothing for it', async () => {
    // Admission refuses what the CRD's CEL rules catch (role owner); a membership of the owner
    // passes admission and is the operator's to report.
    const owner = await apply(
      membership('pixel-forge-owner', 'pixel-forge', 'eve@pixelforge.studio', 'owner'),
    );
    expect(owner.status).not.toBe(0);
    expect(owner.stderr).toContain('owner is not a membership role');
    await apply(
      membership('pixel-forge-bad', 'pixel-forge', 'claire.moreau@pixelforge.studio', 'developer'),
    );
    const s = await eventually('Invalid', async () => {
      const status = await statusOf('membership/pixel-forge-bad');
      return condition(status, 'Ready')?.reason === 'Invalid' ? status : undefined;
    });
    expect(condition(s, 'Ready')?.message).toMatch(/spec\.user.*is the owner of "pixel-forge"/);
    expect(await roleOf('pixel-forge', 'claire.moreau@pixelforge.studio')).toMatchObject({
      role: 'owner',
    });
    await kubectl('delete', 'membership', 'pixel-forge-bad', '--timeout=20s');
  });

  it('keeps a role of one organization there: used elsewhere it is Invalid, and its org is immutable', async () => {
    const intern = (org: string) =>
      `apiVersion: roster.dev/v1alpha1\nkind: Role\nmetadata: { name: pixel-intern }\nspec: { org: ${org}, scope: organization, permissions: [members.view] }\n`;
    expect((await apply(intern('pixel-forge'))).status).toBe(0);
    await eventually(
      'the role in the database, with its organization',
      async () =>
        (await query(`SELECT org FROM roles WHERE name = 'pixel-intern'`))[0]?.org ===
        'pixel-forge',
    );
    await apply(membership('durand-intern', 'cabinet-durand', 'intern@durand.fr', 'pixel-intern'));
    const s = await eventually('Invalid', async () => {
      const status = await statusOf('membership/durand-intern');
      return condition(status, 'Ready')?.reason === 'Invalid' ? status : undefined;
    });
    expect(condition(s, 'Ready')?.message).toMatch(
      /role "pixel-intern" belongs to organization "pixel-forge" and cannot be used in "cabinet-durand"/,
    );
    expect(await roleOf('cabinet-durand', 'intern@durand.fr')).toBeUndefined();
    // The API server refuses to move it (x-kubernetes-validations: org is immutable).
    const moved = await apply(intern('cabinet-durand'));
    expect(moved.status).not.toBe(0);
    expect(moved.stderr).toContain('org is immutable');
    await kubectl('delete', 'membership', 'durand-intern', '--timeout=20s');
    await kubectl('delete', 'role', 'pixel-intern', '--timeout=20s');
  });

  it('reconciles a User: a Membership naming its alias is the person, one row', async () => {
    const user = `apiVersion: roster.dev/v1alpha1\nkind: User\nmetadata: { name: claire }\nspec: { email: claire@durand.fr, aliases: [secretariat@durand.fr] }\n`;
    expect((await apply(user)).status).toBe(0);
    await eventually(
      'the alias in the database',
      async () =>
        (
          await query(
            `SELECT u.email FROM user_aliases a JOIN users u USING (user_id) WHERE a.alias = 'secretariat@durand.fr'`,
          )
        )[0]?.email === 'claire@durand.fr',
    );
    await apply(
      membership('durand-secretariat', 'cabinet-durand', 'secretariat@durand.fr', 'billing'),
    );
    await eventually(
      'the membership, under the primary address',
      async () => (await roleOf('cabinet-durand', 'claire@durand.fr'))?.role === 'billing',
    );
    expect(await query(`SELECT 1 FROM users WHERE email = 'secretariat@durand.fr'`)).toEqual([]);
    const s = await eventually('Ready', async () => {
      const status = await statusOf('membership/durand-secretariat');
      return condition(status, 'Ready')?.status === 'True' ? status : undefined;
    });
    expect(s?.status?.memberStatus).toBe('invited');
    // The API server keeps the primary address (x-kubernetes-validations: email is immutable).
    const moved = await apply(user.replace('email: claire@durand.fr', 'email: c.durand@durand.fr'));
    expect(moved.status).not.toBe(0);
    expect(moved.stderr).toContain('email is immutable');
    // Deleting the Membership removes the person's record, found through the alias.
    await kubectl('delete', 'membership', 'durand-secretariat', '--timeout=20s');
    expect(await roleOf('cabinet-durand', 'claire@durand.fr')).toBeUndefined();
    await kubectl('delete', 'user', 'claire', '--timeout=20s');
    expect(
      await query(`SELECT alias FROM user_aliases WHERE alias = 'secretariat@durand.fr'`),
    ).toEqual([]);
  });

  it('reconciles a Group: its people, role and grants, one invitation, removed with it', async () => {
    const group = (members: string) =>
      `apiVersion: roster.dev/v1alpha1\nkind: Group\nmetadata: { name: durand-assistants }\nspec: { org: cabinet-durand, role: billing, members: [${members}], grants: [{ resource: site/cabinet-www, role: resource-developer }] }\n`;
    expect((await apply(group('assistant@durand.fr, hugo.bernard@pixelforge.studio'))).status).toBe(
      0,
    );
    const people = async () =>
      (
        await query(
          `SELECT u.email, gm.status FROM group_members gm JOIN users u USING (user_id)
             JOIN organizations o USING (org_id)
            WHERE o.name = 'cabinet-durand' AND gm.group_name = 'durand-assistants' ORDER BY 1`,
        )
      ).map((r) => `${r.email}:${r.status}`);
    await eventually('the group in the database', async () => (await people()).length === 2);
    // Hugo is a member there (his invitation is pending): no group invitation for him, and his
    // group access starts when he accepts; the assistant is invited through the group.
    expect(await people()).toEqual([
      'assistant@durand.fr:invited',
      'hugo.bernard@pixelforge.studio:invited',
    ]);
    expect(
      await query(
        `SELECT i.subject, i.resource_type || '/' || i.resource_name AS resource, u.email
           FROM invitations i JOIN users u USING (user_id) WHERE i.subject = 'group'`,
      ),
    ).toEqual([
      { subject: 'group', resource: 'group/durand-assistants', email: 'assistant@durand.fr' },
    ]);
    expect(
      await query(`SELECT role FROM group_grants WHERE group_name = 'durand-assistants'`),
    ).toEqual([{ role: 'resource-developer' }]);
    const s = await eventually('Ready', async () => {
      const status = await statusOf('group/durand-assistants');
      return condition(status, 'Ready')?.status === 'True' ? status : undefined;
    });
    expect(condition(s, 'Ready')?.reason).toBe('Applied');
    await kubectl('delete', 'group', 'durand-assistants', '--timeout=20s');
    expect(await query(`SELECT 1 FROM groups WHERE name = 'durand-assistants'`)).toEqual([]);
  });

  it('reconciles a Delegation: applied when its delegate is an administrator, Invalid otherwise', async () => {
    const expires = new Date(Date.now() + 5 * 86_400_000).toISOString();
    const delegation = (name: string, delegate: string, member: string) =>
      `apiVersion: roster.dev/v1alpha1\nkind: Delegation\nmetadata: { name: ${name} }\nspec: { org: pixel-forge, delegate: ${delegate}, onBehalfOf: ${member}, expires: '${expires}', reason: cover }\n`;
    expect(
      (
        await apply(
          delegation(
            'hugo-for-client',
            'hugo.bernard@pixelforge.studio',
            'contact@boulangerie-martin.fr',
          ),
        )
      ).status,
    ).toBe(0);
    await eventually(
      'the delegation in the database',
      async () =>
        (await query(`SELECT 1 FROM delegations WHERE name = 'hugo-for-client'`)).length === 1,
    );
    await apply(
      delegation(
        'samir-for-client',
        'samir.haddad@pixelforge.studio',
        'contact@boulangerie-martin.fr',
      ),
    );
    const s = await eventually('Invalid', async () => {
      const status = await statusOf('delegation/samir-for-client');
      return condition(status, 'Ready')?.reason === 'Invalid' ? status : undefined;
    });
    expect(condition(s, 'Ready')?.message).toMatch(
      /samir\.haddad@pixelforge\.studio is release-manager of "pixel-forge": a delegate must be its owner or hold members\.manage/,
    );
    await kubectl('delete', 'delegation', 'samir-for-client', '--timeout=20s');
    await kubectl('delete', 'delegation', 'hugo-for-client', '--timeout=20s');
    expect(await query(`SELECT 1 FROM delegations WHERE name = 'hugo-for-client'`)).toEqual([]);
  });

  it('records who changed a resource: the changed-by annotation, and the field manager', async () => {
    const annotated = `apiVersion: roster.dev/v1alpha1\nkind: Membership\nmetadata:\n  name: durand-jane\n  annotations: { roster.dev/changed-by: jane@agency.example }\nspec: { org: cabinet-durand, user: jane@durand.fr, role: developer }\n`;
    // Server-side apply: the stand-in API server keeps managedFields for applies (the real one
    // for every write).
    const applied = await cluster.kubectl(
      ['apply', '--server-side', '--validate=false', '-n', 'default', '-f', '-'],
      annotated,
    );
    expect(applied.status, applied.stderr).toBe(0);
    const entry = await eventually('the audit entry', async () => {
      const rows = await query(
        `SELECT actor, source FROM audit_log
          WHERE action = 'create' AND record_key::jsonb ->> 'user' = 'jane@durand.fr'`,
      );
      return rows[0] as { actor: string; source: Record<string, string> } | undefined;
    });
    expect(entry.actor).toBe('jane@agency.example via Kubernetes');
    expect(entry.source).toMatchObject({
      operator: 'test',
      namespace: 'default',
      fieldManager: expect.stringMatching(/^kubectl/),
    });
    await kubectl('delete', 'membership', 'durand-jane', '--timeout=20s');
  });

  it('pauses an organization with the annotation, and resumes', async () => {
    await kubectl('annotate', 'organization', 'boulangerie-martin', 'roster.dev/paused=true');
    await kubectl(
      'patch',
      'membership',
      'boulangerie-martin-lea',
      '--type',
      'merge',
      '-p',
      '{"spec":{"role":"administrator"}}',
    );
    await eventually(
      'Paused',
      async () =>
        condition(await statusOf('membership/boulangerie-martin-lea'), 'Synced')?.reason ===
        'Paused',
    );
    expect((await roleOf('boulangerie-martin', 'lea.petit@pixelforge.studio'))?.role).toBe(
      'developer',
    );
    await kubectl('annotate', 'organization', 'boulangerie-martin', 'roster.dev/paused-');
    await eventually(
      'applied after resume',
      async () =>
        (await roleOf('boulangerie-martin', 'lea.petit@pixelforge.studio'))?.role ===
        'administrator',
    );
  });

  it('recovers from a dropped watch and from 410 Gone', async () => {
    const restartsBefore = await watchRestarts(operator);
    cluster.api.compact();
    cluster.api.dropWatches();
    await apply(membership('pixel-forge-zoe', 'pixel-forge', 'zoe@pixelforge.studio', 'developer'));
    await eventually(
      'zoe in the database',
      async () => (await roleOf('pixel-forge', 'zoe@pixelforge.studio'))?.role === 'developer',
    );
    expect(await watchRestarts(operator)).toBeGreaterThan(restartsBefore);
  });

  it('carries on when the database drops every connection, LISTEN included', async () => {
    await query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid()`,
    );
    await apply(membership('pixel-forge-yan', 'pixel-forge', 'yan@pixelforge.studio', 'developer'));
    await eventually(
      'yan in the database',
      async () => (await roleOf('pixel-forge', 'yan@pixelforge.studio'))?.role === 'developer',
    );
    const mail = await eventually('yan invited', () =>
      cluster.smtp.messages.find((m) => recipientOf(m) === 'yan@pixelforge.studio'),
    );
    // The acceptance shows without a resync: the LISTEN connection was opened again.
    await eventually('listening again', () =>
      cluster.logs.some((l) => l.includes('lost the LISTEN connection')),
    );
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await acceptInvitation(cluster.db.pool, linkOf(mail).split('/').pop() ?? '');
    await eventually(
      'Accepted',
      async () =>
        (await statusOf('membership/pixel-forge-yan'))?.status?.invitation?.state === 'Accepted',
      5_000,
    );
  });

  it('serves metrics, liveness and readiness', async () => {
    const base = `http://127.0.0.1:${operator.port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(
      /roster_operator_reconciles_total\{kind="Organization",result="applied"\} [1-9]/,
    );
    expect(metrics).toMatch(/roster_operator_queue_depth \d+/);
    expect(metrics).toMatch(/roster_operator_leader 1/);
    expect(metrics).toMatch(
      /roster_operator_reconcile_duration_seconds_count\{kind="Organization"\} [1-9]/,
    );
  });

  it('asks the API server only for what deploy/base/rbac.yaml grants', () => {
    const rendered = execFileSync('kubectl', ['kustomize', `${ROOT}deploy/`], { encoding: 'utf8' });
    const docs = parseAllDocuments(rendered).map((d) => d.toJSON());
    const rules = docs
      .filter((d) => d.kind === 'ClusterRole' || d.kind === 'Role')
      .flatMap((d) => d.rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[]);
    const allowed = (group: string, resource: string, verb: string) =>
      rules.some(
        (r) =>
          r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb),
      );
    const operatorRequests = cluster.api.requests.filter((r) => !r.userAgent.startsWith('kubectl'));
    expect(operatorRequests.length).toBeGreaterThan(0);
    const denied = operatorRequests
      .map((r) => ({ ...r, full: r.subresource ? `${r.resource}/${r.subresource}` : r.resource }))
      .filter((r) => !allowed(r.group, r.full, r.verb))
      .map((r) => `${r.verb} ${r.group}/${r.full}`);
    expect([...new Set(denied)]).toEqual([]);
    // And nothing more: every granted verb is used.
    const used = new Set(
      operatorRequests.map(
        (r) =>
          `${r.group}/${r.subresource ? `${r.resource}/${r.subresource}` : r.resource}/${r.verb}`,
      ),
    );
    for (const rule of rules) {
      for (const verb of rule.verbs) {
        expect(
          rule.resources.some((res) => used.has(`${rule.apiGroups[0]}/${res}/${verb}`)),
          `${verb} on ${rule.resources.join(',')}`,
        ).toBe(true);
      }
    }
  });

  it('removes the organization and its records when the Organization is deleted', async () => {
    const deleted = await kubectl('delete', 'organization', 'cabinet-durand', '--timeout=20s');
    expect(deleted.status).toBe(0);
    // The membership orphaned earlier (unmanaged now) goes with its organization.
    const left = await query(
      `SELECT count(*)::int AS n FROM organizations WHERE name = 'cabinet-durand'`,
    );
    expect(left[0]?.n).toBe(0);
    // What still names it says so, and waits for it to come back.
    const s = await eventually('grants waiting', async () => {
      const status = await statusOf('grant/cabinet-durand-www-ines');
      return condition(status, 'Ready')?.reason === 'MissingReference' ? status : undefined;
    });
    expect(condition(s, 'Ready')?.status).toBe('False');
    expect(condition(s, 'Ready')?.message).toMatch(/organization "cabinet-durand" does not exist/);
    expect(await query(`SELECT count(*)::int AS n FROM grants`)).toEqual([{ n: 1 }]);
  });
});

async function watchRestarts(o: Operator): Promise<number> {
  return [
    ...(await o.metrics.render()).matchAll(/roster_operator_watch_restarts_total\{[^}]*\} (\d+)/g),
  ].reduce((sum, m) => sum + Number(m[1]), 0);
}

describe('the operator across replicas and restarts', () => {
  let second: TestCluster;

  beforeAll(async () => {
    second = await startCluster();
  });

  afterAll(async () => {
    await second?.dispose();
  });

  const patchLease = (spec: Record<string, unknown>) =>
    second.kubectl([
      'patch',
      'lease',
      'roster-operator',
      '--type',
      'merge',
      '-p',
      JSON.stringify({ spec }),
    ]);
  const secondApply = (yaml: string) =>
    second.kubectl(['apply', '--validate=false', '-f', '-'], yaml);
  const secondRole = async (org: string, email: string) =>
    (
      await second.db.pool.query(
        `SELECT m.role FROM memberships m JOIN organizations o USING (org_id) JOIN users u USING (user_id)
          WHERE o.name = $1 AND u.email = $2`,
        [org, email],
      )
    ).rows[0]?.role as string | undefined;

  it('elects one leader; the other takes over when it stops', async () => {
    await secondApply(`${planYaml}---\n${organization('north', 'ann@north.example', 'basic')}`);
    const a = await second.startOperator({ identity: 'replica-a' });
    await eventually('a leads', () => a.isLeader);
    let lost = false;
    const b = await second.startOperator({
      identity: 'replica-b',
      onLostLeadership: () => (lost = true),
    });
    await eventually(
      'north applied',
      async () => (await secondRole('north', 'ann@north.example')) === 'owner',
    );
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(b.isLeader).toBe(false);
    const lease = JSON.parse(
      (await second.kubectl(['get', 'lease', 'roster-operator', '-o', 'json'])).stdout,
    );
    expect(lease.spec.holderIdentity).toBe('replica-a');
    await a.stop();
    await eventually('b leads', () => b.isLeader, 10_000);
    await secondApply(membership('north-bob', 'north', 'bob@north.example', 'developer'));
    await eventually(
      'b reconciles',
      async () => (await secondRole('north', 'bob@north.example')) === 'developer',
    );
    // Someone else takes the Lease (a replica that thinks b is gone): b stops and says so.
    const renewTime = new Date(Date.now() + 60_000).toISOString().replace('Z', '000Z');
    await patchLease({ holderIdentity: 'intruder', renewTime });
    await eventually('b lost the lease', () => lost);
    expect(b.isLeader).toBe(false);
    await b.stop();
    // The intruder goes away: hand the Lease back for the next test.
    await patchLease({ holderIdentity: '' });
  });

  it('says on /readyz when it cannot reach its Lease, instead of looking healthy', async () => {
    const stray = await second.startOperator({
      identity: 'replica-stray',
      leaderElection: {
        namespace: 'no-such-namespace',
        name: 'roster-operator',
        identity: 'replica-stray',
        leaseDurationSeconds: 3,
        retryPeriodMs: 200,
        renewDeadlineMs: 2_000,
      },
    });
    const base = `http://127.0.0.1:${stray.port}`;
    await eventually('not ready', async () => (await fetch(`${base}/readyz`)).status === 503);
    expect(await (await fetch(`${base}/readyz`)).text()).toBe(
      'not ready: cannot reach the leader-election Lease: HTTP 404: namespaces "no-such-namespace" not found\n',
    );
    expect(stray.isLeader).toBe(false);
    await stray.stop();
  });

  it('writes nothing to the API server on a resync that finds no change', async () => {
    const d = await second.startOperator({ identity: 'replica-d', resyncMs: 250 });
    await eventually('d leads', () => d.isLeader, 10_000);
    await eventually('d ready', async () => d.isReady());
    // Let the first reconciles settle their statuses, then watch a few resyncs.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const reconciles = async () =>
      [
        ...(await (await fetch(`http://127.0.0.1:${d.port}/metrics`)).text()).matchAll(
          /^roster_operator_reconciles_total\{[^}]*\} (\d+)$/gm,
        ),
      ].reduce((sum, m) => sum + Number(m[1]), 0);
    const before = second.api.requests.length;
    const reconcilesBefore = await reconciles();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const writes = second.api.requests
      .slice(before)
      .filter((r) => !r.userAgent.startsWith('kubectl') && r.group === 'roster.dev')
      .filter((r) => ['create', 'update', 'patch', 'delete'].includes(r.verb));
    expect(await reconciles()).toBeGreaterThan(reconcilesBefore);
    expect(writes).toEqual([]);
    await d.stop();
  });

  it('reconciles resources applied with kubectl apply --server-side, as Flux and Argo CD do', async () => {
    const e = await second.startOperator({ identity: 'replica-e' });
    await eventually('e leads', () => e.isLeader, 10_000);
    const applied = await second.kubectl(
      ['apply', '--server-side', '--validate=false', '-f', '-'],
      readFileSync(`${ROOT}examples/small-saas/tenant.yaml`, 'utf8'),
    );
    expect(applied.status, applied.stderr).toBe(0);
    expect(applied.stdout).toContain('serverside-applied');
    await eventually(
      'brightlane applied',
      async () => (await secondRole('brightlane', 'priya@brightlane.app')) === 'developer',
    );
    const org = await eventually('Ready', async () => {
      const run = await second.kubectl(['get', 'organization', 'brightlane', '-o', 'json']);
      const o = JSON.parse(run.stdout) as {
        status?: { conditions?: { type: string; status: string }[] };
      };
      return o.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
        ? o
        : undefined;
    });
    expect(org).toBeDefined();
    await e.stop();
  });

  it('converges after a restart: changes made while it was down, and drift in the database', async () => {
    // While no operator runs: a role changes, a member is added, another deleted (held by the finalizer).
    await second.kubectl([
      'patch',
      'membership',
      'north-bob',
      '--type',
      'merge',
      '-p',
      '{"spec":{"role":"administrator"}}',
    ]);
    await secondApply(membership('north-cy', 'north', 'cy@north.example', 'developer'));
    await second.db.pool.query(
      `UPDATE memberships SET role = 'billing' FROM organizations o, users u
        WHERE memberships.org_id = o.org_id AND memberships.user_id = u.user_id AND o.name = 'north' AND u.email = 'ann@north.example'`,
    );
    await second.kubectl(['delete', 'membership', 'north-bob', '--wait=false']);
    const c = await second.startOperator({ identity: 'replica-c', resyncMs: 60_000 });
    await eventually(
      'cy added',
      async () => (await secondRole('north', 'cy@north.example')) === 'developer',
    );
    await eventually(
      'bob removed',
      async () => (await secondRole('north', 'bob@north.example')) === undefined,
    );
    await eventually(
      'drift corrected',
      async () => (await secondRole('north', 'ann@north.example')) === 'owner',
    );
    await eventually(
      'bob gone from the cluster',
      async () => (await second.kubectl(['get', 'membership', 'north-bob'])).status !== 0,
    );
    await c.stop();
  });
});

const planYaml = `apiVersion: roster.dev/v1alpha1
kind: Plan
metadata: { name: basic }
spec: { seats: { paid: 5 }, features: [members] }
`;
