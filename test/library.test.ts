/** The library API an onboarding pipeline uses, against a real PostgreSQL. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyPlan,
  loadManifests,
  openAccessDatabase,
  planChanges,
  PlanRefusedError,
  readSnapshot,
  desiredRecords,
  type AccessDatabase,
} from '../src/index.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { ROOT } from './support/run-roster.js';

let db: TestDatabase;
let access: AccessDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
  access = await openAccessDatabase({
    env: { DATABASE_URL: db.url },
    cwd: ROOT,
    applicationName: 'library test',
  });
});
afterAll(async () => {
  await access.close();
  await db.drop();
});

describe('library API', () => {
  it('loads, applies with progress, and converges', async () => {
    const { state, errors } = await loadManifests(['examples'], { cwd: ROOT });
    expect(errors).toBe(0);
    const progress: string[] = [];
    const result = await applyPlan(access, state, {
      actor: 'onboarding-pipeline',
      source: { commit: 'abc123' },
      onProgress: (_done, _total, what) => progress.push(what),
    });
    expect(result.plan.summary.add).toBeGreaterThan(50);
    expect(result.rowsWritten).toBeGreaterThan(result.plan.changes.length);
    expect(progress).toContain('memberships');
    expect(progress.at(-1)).toBe('done');

    const audit = await db.pool.query(
      `SELECT DISTINCT actor, source->>'commit' AS commit FROM audit_log`,
    );
    expect(audit.rows).toEqual([{ actor: 'onboarding-pipeline', commit: 'abc123' }]);

    const again = await applyPlan(access, state, { actor: 'onboarding-pipeline' });
    expect(again.plan.changes).toEqual([]);
    expect(again.rowsWritten).toBe(0);
  });

  it('plans purely against a snapshot', async () => {
    const { state } = await loadManifests(['examples/small-saas'], { cwd: ROOT });
    const client = await access.pool.connect();
    try {
      const plan = planChanges(desiredRecords(state), await readSnapshot(client, ['brightlane']), {
        manager: 'roster-cli',
        prune: false,
        maxOrgRemovalRatio: 0.25,
        now: new Date(),
        scope: ['brightlane'],
      });
      expect(plan.changes).toEqual([]);
    } finally {
      client.release();
    }
  });

  it('throws a refusal with its reasons and writes nothing', async () => {
    const { state } = await loadManifests(['examples/small-saas'], { cwd: ROOT });
    const emptied = { ...state, memberships: [] };
    await expect(applyPlan(access, emptied, { actor: 'test' })).rejects.toBeInstanceOf(
      PlanRefusedError,
    );
    const { rows } = await db.pool.query(
      `SELECT count(*)::int AS n FROM memberships JOIN organizations USING (org_id) WHERE name = 'brightlane'`,
    );
    expect(rows[0].n).toBe(5);
  });
});
