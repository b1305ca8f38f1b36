/**
 * Failover without loss, on a real highly available PostgreSQL run by pg_auto_failover (a
 * monitor, a primary and a synchronous secondary on loopback ports; `pg_autoctl perform
 * failover` switches them). Roster is given the formation's URI (both hosts,
 * target_session_attrs=read-write) and, for each case, the database is left consistent and
 * nothing is lost: (a) between applies, (b) in the middle of an apply, (c) while invitations
 * are being mailed (the mails sent twice are counted), (d) while `roster serve` answers checks
 * and accepts (not ready during the switch, ready again by itself).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../src/store/api-keys.js';
import { eventually } from './kube/harness.js';
import { hasAutoFailover, startFormation, type Formation } from './support/auto-failover.js';
import { startServe, type ServeProcess } from './support/serve-process.js';
import { linkOf, recipientOf, startSmtp, type CapturingSmtp } from './support/smtp.js';
import { membershipCount } from './support/database.js';
import {
  bigTenant,
  createWorkspace,
  TEAM_PLAN,
  tenant,
  type Workspace,
} from './support/workspace.js';

// CI installs pg_auto_failover (.ci/run); a developer machine without it skips.
const runnable = hasAutoFailover() || Boolean(process.env.CI);

/** A line in the test run's output (CI's log shows what each failover did). */
const report = (line: string) => process.stdout.write(`${line}\n`);

let formation: Formation;
let ws: Workspace;
let smtp: CapturingSmtp;
let db: pg.Pool;

const count = (org: string) => membershipCount(db, org);

beforeAll(async () => {
  if (!runnable) return;
  formation = await startFormation();
  ws = createWorkspace(formation.url);
  smtp = await startSmtp(0, { acceptDelayMs: 20 });
  db = new pg.Pool({ connectionString: formation.url.replace(/,[^/]+/, ''), max: 2 });
  db.on('error', () => undefined);
}, 180_000);
afterAll(async () => {
  if (!runnable) return;
  await db?.end().catch(() => undefined);
  await smtp?.close();
  ws?.dispose();
  await formation?.stop();
});

/** A pool on whichever node is primary now. */
const primaryPool = async () => {
  await db.end().catch(() => undefined);
  const port = await formation.primaryPort();
  db = new pg.Pool({
    connectionString: `postgresql://postgres@127.0.0.1:${port}/postgres?sslmode=disable`,
    max: 2,
  });
  db.on('error', () => undefined);
};

describe.runIf(runnable)('failover with pg_auto_failover', () => {
  it('(a) between applies: the next apply finds the new primary; nothing committed is lost', async () => {
    ws.write('a.yaml', [TEAM_PLAN, tenant('acme', 'alice@acme.io', ['bob@acme.io'])].join('---\n'));
    const first = await ws.rosterAsync(['apply', '-f', 'a.yaml', '--yes', '--no-deliver']);
    expect(first.status, first.stderr).toBe(0);
    const before = await formation.primaryPort();
    await formation.failover();
    expect(await formation.primaryPort()).not.toBe(before);
    await primaryPool();
    expect(await count('acme')).toBe(2);
    ws.write('b.yaml', tenant('beta', 'bea@beta.io', ['bo@beta.io']));
    const second = await ws.rosterAsync([
      'apply',
      '-f',
      'a.yaml',
      '-f',
      'b.yaml',
      '--yes',
      '--no-deliver',
    ]);
    expect(second.status, second.stderr).toBe(0);
    expect(await count('beta')).toBe(2);
    report(
      `(a) primary ${before} -> ${await formation.primaryPort()}: acme and beta whole, nothing lost`,
    );
  }, 180_000);

  it('(b) in the middle of an apply: all of it or none, and a re-run converges', async () => {
    ws.write('big.yaml', bigTenant('bigco', 3_000));
    const files = ['-f', 'a.yaml', '-f', 'b.yaml', '-f', 'big.yaml'];
    const applying = ws.rosterAsync(['apply', ...files, '--yes', '--no-deliver']);
    await new Promise((resolve) => setTimeout(resolve, 600));
    await formation.failover();
    const interrupted = await applying;
    await primaryPool();
    const after = await count('bigco');
    expect([0, 3_001]).toContain(after);
    report(
      `(b) the apply ${interrupted.status === 0 ? 'committed before the switch' : `was rolled back: ${interrupted.stderr.trim().split('\n').at(-1)}`}`,
    );
    const again = await ws.rosterAsync(['apply', ...files, '--yes', '--no-deliver']);
    expect(again.status, again.stderr).toBe(0);
    expect(await count('bigco')).toBe(3_001);
    const plan = await ws.rosterAsync(['plan', ...files]);
    expect(plan.stdout).toMatch(/^No changes\./);
  }, 180_000);

  it('(c) while invitations are mailed: none lost, at most the mails in flight sent twice', async () => {
    const queued =
      (
        await db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM outbox WHERE delivered_at IS NULL`,
        )
      ).rows[0]?.n ?? 0;
    expect(queued).toBeGreaterThan(3_000);
    smtp.messages.length = 0;
    const env = {
      SMTP_URL: smtp.url,
      ROSTER_RETRY_BASE_MS: '0',
      ROSTER_DELIVERY_LEASE_MS: '2000',
      ROSTER_DELIVERY_CONCURRENCY: '4',
    };
    const delivering = ws.rosterAsync(['deliver'], env);
    await eventually('mail is going out', () => smtp.messages.length > 50);
    await formation.failover();
    await delivering;
    await primaryPool();
    // Run again until the outbox is empty (rows claimed when the switch came are free again
    // once their lease is over).
    await eventually(
      'every invitation delivered',
      async () => {
        await ws.rosterAsync(['deliver'], env);
        const left = await db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM outbox WHERE delivered_at IS NULL`,
        );
        return left.rows[0]?.n === 0;
      },
      120_000,
    );
    const recipients = smtp.messages.map(recipientOf);
    const unique = new Set(recipients);
    const duplicates = recipients.length - unique.size;
    report(
      `(c) ${recipients.length} mails for ${unique.size} invitations: ${duplicates} sent twice`,
    );
    expect(unique.size).toBe(queued);
    // The mails in flight (4 at once) and the marks of one write in progress, at most.
    expect(duplicates).toBeLessThanOrEqual(100);
  }, 240_000);

  describe('(d) while roster serve answers', () => {
    let serve: ServeProcess;
    let key: string;
    beforeAll(async () => {
      key = await createApiKey(db, 'app', { organizations: ['acme'] });
      serve = await startServe(
        {
          DATABASE_URL: formation.url,
          ROSTER_DB_ACQUIRE_TIMEOUT_MS: '1000',
          ROSTER_ACCESS_CACHE: 'off',
        },
        ['--delivery-interval', '0'],
      );
    }, 60_000);
    afterAll(async () => {
      await serve?.terminate();
    });

    it('is not ready during the switch, then answers checks and accepts by itself', async () => {
      const check = () =>
        fetch(`${serve.base}/api/v1/check?user=bob%40acme.io&permission=members.view&org=acme`, {
          headers: { authorization: `Bearer ${key}` },
        });
      expect((await check()).status).toBe(200);
      const seen = new Set<number>();
      let polling = true;
      const poll = (async () => {
        while (polling) {
          seen.add((await fetch(`${serve.base}/readyz`)).status);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      })();
      await formation.failover();
      await eventually(
        'ready again',
        async () => (await fetch(`${serve.base}/readyz`)).status === 200,
        60_000,
      );
      polling = false;
      await poll;
      expect(seen).toContain(503);
      report(
        `(d) /readyz during the switch: ${[...seen].sort().join(', ')}; ready again by itself`,
      );
      expect((await check()).status).toBe(200);
      // Accepting writes: it lands on the new primary.
      // The last mail bob got: a mail sent again after the switch carries a new link, and the
      // link of the first one no longer works (a token is replaced when its row is re-sent).
      const mail = smtp.messages.findLast((m) => recipientOf(m) === 'bob@acme.io');
      if (mail === undefined) throw new Error('no invitation for bob');
      const path = new URL(linkOf(mail)).pathname;
      const accepted = await fetch(`${serve.base}${path}/accept`, {
        method: 'POST',
        redirect: 'manual',
      });
      expect(accepted.status).toBe(303);
      expect(await (await check()).json()).toMatchObject({ allowed: true, reason: 'role' });
      expect(serve.stderr()).not.toMatch(/"status":500/);
    }, 180_000);
  });
});
