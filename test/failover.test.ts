/**
 * A failover of the access database, on real PostgreSQL servers: a primary with a synchronous
 * streaming standby, the standby promoted after the primary stops. Roster is given both hosts
 * (the standby first) with target_session_attrs=read-write, as libpq would be: it finds the
 * primary, and finds the new one after the failover by itself — between two applies, in the
 * middle of one (rolled back, and a re-run converges), and while `roster serve` answers (not
 * ready during the switch, then ready again without a restart).
 *
 * The promotion is done by hand here (pg_promote), where pg_auto_failover's monitor would do it;
 * docs/scale.md says what a pg_auto_failover test would add.
 */
import { existsSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../src/store/api-keys.js';
import { eventually } from './kube/harness.js';
import { PG_BASEBACKUP, startReplicatedPair, type ReplicatedPair } from './support/replica.js';
import { startServe, type ServeProcess } from './support/serve-process.js';
import { membershipCount } from './support/database.js';
import {
  bigTenant,
  createWorkspace,
  TEAM_PLAN,
  tenant,
  type Workspace,
} from './support/workspace.js';

const runnable = existsSync(PG_BASEBACKUP) || Boolean(process.env.CI);

describe.runIf(runnable)('failover of the access database', () => {
  let pair: ReplicatedPair;
  let ws: Workspace;
  beforeAll(async () => {
    pair = await startReplicatedPair({ synchronous: true });
    ws = createWorkspace(pair.clusterUrl);
  }, 120_000);
  afterAll(async () => {
    ws?.dispose();
    await pair?.stop();
  });

  it('applies on the primary of the list, and on the new one after a failover, losing nothing', async () => {
    ws.write('a.yaml', [TEAM_PLAN, tenant('acme', 'alice@acme.io', ['bob@acme.io'])].join('---\n'));
    const first = await ws.rosterAsync(['apply', '-f', 'a.yaml', '--yes', '--no-deliver']);
    expect(first.status, first.stderr).toBe(0);

    // An apply in flight when the primary stops is rolled back; nothing of it is half there.
    ws.write('b.yaml', bigTenant('bigco', 3_000));
    const interrupted = ws.rosterAsync([
      'apply',
      '-f',
      'a.yaml',
      '-f',
      'b.yaml',
      '--yes',
      '--no-deliver',
    ]);
    await new Promise((resolve) => setTimeout(resolve, 700));
    await pair.stopPrimary();
    const failed = await interrupted;
    await pair.promote();

    const db = new pg.Client({ connectionString: pair.standbyUrl });
    await db.connect();
    try {
      const count = () => membershipCount(db, 'bigco');
      // Either the apply committed before the stop (and the synchronous standby has all of it),
      // or it did not (and none of it): never a part.
      expect([0, 3_001]).toContain(await count());
      if (failed.status !== 0) expect(failed.stderr).toMatch(/^roster: /m);
      // What the first apply committed survived the failover.
      const acme = await db.query(`SELECT name FROM organizations WHERE name = 'acme'`);
      expect(acme.rowCount).toBe(1);

      // The same command again converges, on the new primary.
      const again = await ws.rosterAsync([
        'apply',
        '-f',
        'a.yaml',
        '-f',
        'b.yaml',
        '--yes',
        '--no-deliver',
      ]);
      expect(again.status, again.stderr).toBe(0);
      expect(await count()).toBe(3_001);
      const plan = await ws.rosterAsync(['plan', '-f', 'a.yaml', '-f', 'b.yaml']);
      expect(plan.stdout).toMatch(/^No changes\./);
    } finally {
      await db.end();
    }
  }, 120_000);
});

describe.runIf(runnable)('roster serve through a failover', () => {
  let pair: ReplicatedPair;
  let ws: Workspace;
  let serve: ServeProcess;
  let key: string;
  beforeAll(async () => {
    pair = await startReplicatedPair({ synchronous: true });
    ws = createWorkspace(pair.clusterUrl);
    ws.write('a.yaml', [TEAM_PLAN, tenant('acme', 'alice@acme.io', ['bob@acme.io'])].join('---\n'));
    const applied = await ws.rosterAsync(['apply', '-f', 'a.yaml', '--yes', '--no-deliver']);
    expect(applied.status, applied.stderr).toBe(0);
    const primary = new pg.Pool({ connectionString: pair.primaryUrl, max: 1 });
    key = await createApiKey(primary, 'app', { organizations: ['acme'] });
    await primary.end();
    serve = await startServe(
      {
        DATABASE_URL: pair.clusterUrl,
        ROSTER_DB_ACQUIRE_TIMEOUT_MS: '1000',
        ROSTER_ACCESS_CACHE: 'off',
      },
      ['--delivery-interval', '0'],
    );
  }, 120_000);
  afterAll(async () => {
    await serve?.terminate();
    ws?.dispose();
    await pair?.stop();
  });

  const check = () =>
    fetch(`${serve.base}/api/v1/check?user=alice%40acme.io&permission=billing.view&org=acme`, {
      headers: { authorization: `Bearer ${key}` },
    });

  it('is not ready while the primary is gone, and answers again from the new one by itself', async () => {
    const before = await check();
    expect(before.status).toBe(200);
    const decision = await before.json();
    expect(decision).toEqual({ allowed: false, reason: 'invitation-pending', role: 'owner' });
    await pair.stopPrimary();
    await eventually('not ready', async () => (await fetch(`${serve.base}/readyz`)).status === 503);
    // Meanwhile the API says to come back, rather than fail or hang.
    const during = await check();
    expect(during.status).toBe(503);
    expect(during.headers.get('retry-after')).toBe('5');
    await pair.promote();
    await eventually(
      'ready again',
      async () => (await fetch(`${serve.base}/readyz`)).status === 200,
      30_000,
    );
    const after = await check();
    expect(after.status).toBe(200);
    expect(await after.json()).toEqual(decision);
    // It answered from the promoted server, now the only primary.
    const promoted = new pg.Client({ connectionString: pair.standbyUrl });
    await promoted.connect();
    const { rows } = await promoted.query('SELECT pg_is_in_recovery() AS standby');
    await promoted.end();
    expect(rows[0].standby).toBe(false);
    expect(serve.stderr()).not.toMatch(/"status":500/);
  }, 90_000);
});
