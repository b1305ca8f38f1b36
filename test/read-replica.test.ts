/**
 * `roster serve` reading the API from a real streaming replica (pg_basebackup -R) within its
 * staleness bound: while the replica keeps up, checks are read there; when its replay is paused
 * and the primary changes, the answers move to the primary within the bound instead of staying
 * stale; when replay resumes, reads go back to the replica.
 */
import { existsSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../src/store/api-keys.js';
import { eventually } from './kube/harness.js';
import { PG_BASEBACKUP, startReplicatedPair, type ReplicatedPair } from './support/replica.js';
import { startServe, type ServeProcess } from './support/serve-process.js';
import { createWorkspace, TEAM_PLAN, tenant, type Workspace } from './support/workspace.js';

const BOUND_MS = 1_000;
let pair: ReplicatedPair;
let ws: Workspace;
let serve: ServeProcess;
let primary: pg.Pool;
let standby: pg.Pool;
let key: string;

// CI has Debian's PostgreSQL tools (pg_basebackup); a developer machine without them skips.
const runnable = existsSync(PG_BASEBACKUP) || Boolean(process.env.CI);

beforeAll(async () => {
  if (!runnable) return;
  pair = await startReplicatedPair();
  primary = new pg.Pool({ connectionString: pair.primaryUrl, max: 2 });
  standby = new pg.Pool({ connectionString: pair.standbyUrl, max: 2 });
  ws = createWorkspace(pair.primaryUrl);
  ws.write('t.yaml', [TEAM_PLAN, tenant('acme', 'alice@acme.io', ['bob@acme.io'])].join('---\n'));
  const applied = await ws.rosterAsync(['apply', '-f', 't.yaml', '--yes', '--no-deliver']);
  expect(applied.status, applied.stderr).toBe(0);
  key = await createApiKey(primary, 'app', { organizations: ['acme'] });
  serve = await startServe(
    {
      DATABASE_URL: pair.primaryUrl,
      DATABASE_READ_URL: pair.standbyUrl,
      ROSTER_READ_MAX_LAG: `${BOUND_MS}ms`,
      ROSTER_ACCESS_CACHE: 'off',
    },
    ['--delivery-interval', '0'],
  );
}, 120_000);
afterAll(async () => {
  if (!runnable) return;
  await serve?.terminate();
  await primary?.end();
  await standby?.end();
  ws?.dispose();
  await pair?.stop();
});

const check = async () => {
  const response = await fetch(
    `${serve.base}/api/v1/check?user=bob%40acme.io&permission=members.view&org=acme`,
    { headers: { authorization: `Bearer ${key}` } },
  );
  return (await response.json()) as { allowed: boolean; reason: string };
};
const reads = async (target: 'replica' | 'primary') => {
  const text = await (await fetch(`${serve.base}/metrics`)).text();
  const match = new RegExp(`^roster_database_reads_total\\{target="${target}"\\} (\\d+)$`, 'm');
  return Number(match.exec(text)?.[1] ?? 0);
};

describe.runIf(runnable)('reading from a replica (DATABASE_READ_URL)', () => {
  it('reads checks from the replica while it keeps up', async () => {
    await eventually('the replica is used', async () => {
      await check();
      return (await reads('replica')) > 0;
    });
    expect(await check()).toEqual({
      allowed: false,
      reason: 'invitation-pending',
      role: 'developer',
    });
    const { rows } = await standby.query('SELECT pg_is_in_recovery() AS standby');
    expect(rows[0].standby).toBe(true);
  });

  it('answers from the primary, within the bound, while the replica stalls; and goes back', async () => {
    await standby.query('SELECT pg_wal_replay_pause()');
    try {
      await primary.query(
        `UPDATE memberships SET status = 'active', joined_at = now()
          WHERE user_id = (SELECT user_id FROM users WHERE email = 'bob@acme.io')`,
      );
      const changed = Date.now();
      const fresh = await eventually('the change is answered', async () => {
        const answer = await check();
        return answer.allowed ? answer : undefined;
      });
      expect(fresh).toEqual({ allowed: true, reason: 'role', role: 'developer' });
      // The bound, plus polling and a request under load.
      expect(Date.now() - changed).toBeLessThan(BOUND_MS + 2_000);
      // The replica still has the old state: the answer came from the primary.
      const stale = await standby.query(
        `SELECT m.status FROM memberships m JOIN users u USING (user_id) WHERE u.email = 'bob@acme.io'`,
      );
      expect(stale.rows[0].status).toBe('invited');
      expect(await reads('primary')).toBeGreaterThan(0);
    } finally {
      await standby.query('SELECT pg_wal_replay_resume()');
    }
    const before = await reads('replica');
    await eventually('reads go back to the replica', async () => {
      expect((await check()).allowed).toBe(true);
      return (await reads('replica')) > before;
    });
    const lag = await (await fetch(`${serve.base}/metrics`)).text();
    expect(lag).toMatch(/^roster_read_replica_lag_seconds \d/m);
  });
});
