/**
 * Planning with what only the database knows besides the snapshot. The audit log's memory: a
 * declared record that Roster wrote and that is gone
 * from the database, without Roster deleting it, was deleted outside Roster. The plan then
 * reports it as drift ("deleted outside Roster; created again") instead of a plain create.
 */
import type pg from 'pg';
import { planChanges, type ActualState, type Plan, type PlanOptions } from '../core/plan.js';
import { recordKey, type DesiredRecord } from '../core/records.js';
import { withUsageOutside } from './snapshot.js';
import { run, statement } from './sql/statement.js';

type Queryable = Pick<pg.PoolClient, 'query'>;

/**
 * Plans `desired` against `snapshot`; plans again, only when needed, with what the database adds:
 * the usage of organizations outside the scope (when a plan or a role changes) and the records
 * deleted outside Roster (when the plan creates records in existing organizations).
 */
export async function planWithHistory(
  db: Queryable,
  desired: readonly DesiredRecord[],
  snapshot: ActualState,
  options: PlanOptions,
): Promise<Plan> {
  let actual = snapshot;
  let plan = planChanges(desired, actual, options);
  const widened = await withUsageOutside(db, actual, options.scope, plan.changes);
  if (widened !== actual) {
    actual = widened;
    plan = planChanges(desired, actual, options);
  }
  const deletedOutside = await findDeletedOutside(db, plan, actual);
  if (deletedOutside.size === 0) return plan;
  return planChanges(desired, { ...actual, deletedOutside }, options);
}

const AUDIT_OF_CREATES = statement(
  'audit-of-creates',
  // Each key's latest entry by index (audit_log_record): keys are written as JSON.stringify
  // writes them, so they are compared as text.
  `SELECT k.key, a.action, a.at, a.actor
       FROM unnest($1::text[], $2::text[]) AS k(org, key)
       JOIN organizations o ON o.name = k.org
       CROSS JOIN LATERAL (
         SELECT a.action, a.at, a.actor FROM audit_log a
          WHERE a.org_id = o.org_id AND a.record_key = k.key
          ORDER BY a.audit_id DESC LIMIT 1) a`,
);

/**
 * Of the records the plan creates in organizations that already exist, those whose last audit
 * entry is a create or an update (Roster wrote them, and never deleted them): one index lookup
 * per record (audit_log_record), however long the log.
 */
async function findDeletedOutside(
  db: Queryable,
  plan: Plan,
  snapshot: ActualState,
): Promise<Map<string, { lastAppliedAt: string; by: string }>> {
  const existing = new Set(
    snapshot.records.flatMap((r) => (r.id.kind === 'organization' ? [r.id.name] : [])),
  );
  const creates = plan.changes.filter(
    (c) =>
      c.action === 'create' &&
      c.id.kind !== 'organization' &&
      c.org !== null &&
      existing.has(c.org),
  );
  if (creates.length === 0) return new Map();
  const { rows } = await run<{ key: string; action: string; at: Date; actor: string }>(
    db,
    AUDIT_OF_CREATES,
    [creates.map((c) => c.org), creates.map((c) => JSON.stringify(c.id))],
  );
  const found = new Map<string, { lastAppliedAt: string; by: string }>();
  for (const row of rows) {
    if (row.action === 'delete') continue;
    const id = JSON.parse(row.key) as DesiredRecord['id'];
    found.set(recordKey(id), { lastAppliedAt: row.at.toISOString(), by: row.actor });
  }
  return found;
}
