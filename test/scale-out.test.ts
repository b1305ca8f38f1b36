/**
 * Two `roster serve` processes on one database, as behind a load balancer: each invitation is
 * mailed once whichever instance's delivery round claims it; an answer one instance holds in
 * memory is forgotten when a write lands through the other, through the application's SQL, or
 * through an apply; a token accepted on one is used up on the other.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../src/store/api-keys.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { eventually } from './kube/harness.js';
import { startServe, type ServeProcess } from './support/serve-process.js';
import { linkOf, recipientOf, startSmtp, type CapturingSmtp } from './support/smtp.js';
import { createWorkspace, TEAM_PLAN, tenant, type Workspace } from './support/workspace.js';

let db: TestDatabase;
let ws: Workspace;
let smtp: CapturingSmtp;
let instances: ServeProcess[] = [];
let key: string;

const MEMBERS = Array.from({ length: 18 }, (_, i) => `member${i}@acme.io`);

beforeAll(async () => {
  db = await createTestDatabase();
  ws = createWorkspace(db.url);
  smtp = await startSmtp();
  ws.write('t.yaml', [TEAM_PLAN, tenant('acme', 'alice@acme.io', MEMBERS)].join('---\n'));
  // Queued, not sent: the two instances deliver them.
  const applied = await ws.rosterAsync(['apply', '-f', 't.yaml', '--yes', '--no-deliver']);
  expect(applied.status, applied.stderr).toBe(0);
  key = await createApiKey(db.pool, 'app', { organizations: ['acme'] });
  const env = {
    DATABASE_URL: db.url,
    SMTP_URL: smtp.url,
    ROSTER_PUBLIC_URL: 'http://access.example.test',
    ROSTER_RETRY_BASE_MS: '0',
    ROSTER_DELIVERY_CONCURRENCY: '2',
  };
  instances = await Promise.all([
    startServe(env, ['--delivery-interval', '1']),
    startServe(env, ['--delivery-interval', '1']),
  ]);
});
afterAll(async () => {
  for (const instance of instances) await instance.terminate();
  await smtp.close();
  ws.dispose();
  await db.drop();
});

const check = async (instance: ServeProcess, user: string, permission: string) => {
  const response = await fetch(
    `${instance.base}/api/v1/check?user=${encodeURIComponent(user)}&permission=${permission}&org=acme`,
    { headers: { authorization: `Bearer ${key}` } },
  );
  return (await response.json()) as { allowed: boolean; reason: string };
};

describe('two roster serve instances on one database', () => {
  it('mail each invitation exactly once between them', async () => {
    await eventually(
      'every invitation sent',
      () => smtp.messages.length >= MEMBERS.length + 1,
      30_000,
    );
    // A round later, nothing more was sent.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const recipients = smtp.messages.map(recipientOf).sort();
    expect(recipients).toEqual([...MEMBERS, 'alice@acme.io'].sort());
    const { rows } = await db.pool.query(
      `SELECT count(*)::int AS queued FROM outbox WHERE delivered_at IS NULL`,
    );
    expect(rows[0].queued).toBe(0);
    // What each instance says it sent adds up to one mail per invitation.
    const sent = await Promise.all(
      instances.map(async (instance) => {
        const text = await (await fetch(`${instance.base}/metrics`)).text();
        return Number(/^roster_invitations_sent_total (\d+)$/m.exec(text)?.[1] ?? 'NaN');
      }),
    );
    expect(sent.reduce((a, b) => a + b, 0)).toBe(MEMBERS.length + 1);
  });

  it('forget what they remembered when a write lands anywhere', async () => {
    const [a, b] = instances as [ServeProcess, ServeProcess];
    // Both remember: member0 is invited, not yet a member who can do anything.
    for (const instance of [a, b]) {
      expect(await check(instance, 'member0@acme.io', 'members.view')).toMatchObject({
        allowed: false,
        reason: 'invitation-pending',
      });
      expect(await check(instance, 'member0@acme.io', 'members.view')).toMatchObject({
        allowed: false,
      });
    }
    // Accepted through instance a: instance b answers from the new state.
    const mail = smtp.messages.find((m) => recipientOf(m) === 'member0@acme.io');
    if (mail === undefined) throw new Error('no invitation for member0');
    const path = new URL(linkOf(mail)).pathname;
    const accepted = await fetch(`${a.base}${path}/accept`, { method: 'POST', redirect: 'manual' });
    expect(accepted.status).toBe(303);
    await eventually('b sees the acceptance', async () => {
      const answer = await check(b, 'member0@acme.io', 'members.view');
      return answer.allowed ? answer : undefined;
    });
    // The token is used up on the other instance too.
    const again = await fetch(`${b.base}${path}/accept`, { method: 'POST' });
    expect(again.status).toBe(410);

    // A write by the application in SQL reaches both.
    await db.pool.query(
      `UPDATE memberships SET status = 'suspended'
        WHERE user_id = (SELECT user_id FROM users WHERE email = 'member0@acme.io')`,
    );
    for (const instance of [a, b]) {
      await eventually('suspension seen', async () => {
        const answer = await check(instance, 'member0@acme.io', 'members.view');
        return answer.reason === 'suspended' ? answer : undefined;
      });
    }
    const metrics = await (await fetch(`${b.base}/metrics`)).text();
    expect(metrics).toMatch(/roster_access_cache_requests_total\{result="hit"\} [1-9]/);
  });
});
