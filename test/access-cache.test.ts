/**
 * `roster serve` answers repeated access checks from memory, and never from a memory older than
 * a committed write: an apply, an acceptance's kind of write made in SQL, or any write while the
 * notification connection was down. Real serve process, real PostgreSQL, real NOTIFY.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { startServe, type ServeProcess } from './support/serve-process.js';
import { createWorkspace, TEAM_PLAN, tenant, type Workspace } from './support/workspace.js';
import { eventually } from './kube/harness.js';

let db: TestDatabase;
let ws: Workspace;
let serve: ServeProcess;
let key: string;

beforeAll(async () => {
  db = await createTestDatabase();
  ws = createWorkspace(db.url);
  ws.write(
    't.yaml',
    [TEAM_PLAN, tenant('acme', 'alice@acme.io', ['bob@acme.io', 'carol@acme.io'])].join('---\n'),
  );
  expect(ws.roster(['apply', '-f', 't.yaml', '--yes', '--no-deliver']).status).toBe(0);
  await db.pool.query(`UPDATE memberships SET status = 'active', joined_at = now()`);
  const created = ws.roster(['api-keys', 'create', 'cache-test', '--all-organizations']);
  key = created.stdout.trim().split('\n').pop() ?? '';
  serve = await startServe({ DATABASE_URL: db.url });
  await eventually('the cache listens', async () => (await cacheCount('hit')) >= 0 && listening());
});
afterAll(async () => {
  await serve?.terminate();
  ws?.dispose();
  await db?.drop();
});

async function listening(): Promise<boolean> {
  const { rows } = await db.pool.query(
    `SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE application_name = 'roster listener' AND query ILIKE 'LISTEN roster_access%'`,
  );
  return rows[0].n > 0;
}

async function check(user: string): Promise<{ allowed: boolean; reason: string }> {
  const res = await fetch(
    `${serve.base}/api/v1/check?user=${encodeURIComponent(user)}&org=acme&permission=members.view`,
    { headers: { authorization: `Bearer ${key}` } },
  );
  expect(res.status).toBe(200);
  return (await res.json()) as { allowed: boolean; reason: string };
}

async function cacheCount(result: 'hit' | 'miss'): Promise<number> {
  const metrics = await (await fetch(`${serve.base}/metrics`)).text();
  const line = new RegExp(
    `^roster_access_cache_requests_total\\{result="${result}"\\} (\\d+)$`,
    'm',
  );
  return Number(line.exec(metrics)?.[1] ?? 0);
}

describe('the access cache of roster serve', () => {
  it('answers a repeated check from memory', async () => {
    const hits = await cacheCount('hit');
    expect(await check('bob@acme.io')).toMatchObject({ allowed: true, reason: 'role' });
    expect(await check('BOB@acme.io')).toMatchObject({ allowed: true, reason: 'role' });
    expect(await cacheCount('hit')).toBe(hits + 1);
  });

  it('is never stale after an apply commits', async () => {
    expect(await check('bob@acme.io')).toMatchObject({ allowed: true });
    ws.write(
      't.yaml',
      [TEAM_PLAN, tenant('acme', 'alice@acme.io', ['carol@acme.io'])].join('---\n'),
    );
    expect(ws.roster(['apply', '-f', 't.yaml', '--yes', '--no-deliver']).status).toBe(0);
    expect(await check('bob@acme.io')).toMatchObject({ allowed: false, reason: 'not-a-member' });
  });

  it('is never stale after a write made in SQL outside Roster', async () => {
    expect(await check('carol@acme.io')).toMatchObject({ allowed: true });
    await db.pool.query(
      `UPDATE memberships SET status = 'suspended'
        WHERE user_id = (SELECT user_id FROM users WHERE email = 'carol@acme.io')`,
    );
    expect(await check('carol@acme.io')).toMatchObject({ allowed: false, reason: 'suspended' });
  });

  it('reads the database while it cannot hear changes, and caches again once it can', async () => {
    expect(await check('alice@acme.io')).toMatchObject({ allowed: true, reason: 'owner' });
    await db.pool.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'roster listener'`,
    );
    // A write no notification reaches: the answer must come from the database anyway.
    await db.pool.query(
      `UPDATE memberships SET status = 'active'
        WHERE user_id = (SELECT user_id FROM users WHERE email = 'carol@acme.io')`,
    );
    expect(await check('carol@acme.io')).toMatchObject({ allowed: true, reason: 'role' });
    await eventually('listening again', listening, 20_000);
    await check('carol@acme.io');
    const hits = await cacheCount('hit');
    await check('carol@acme.io');
    expect(await cacheCount('hit')).toBe(hits + 1);
  });
});
