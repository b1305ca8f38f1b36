/**
 * Applies a plan in one transaction, serialised by an advisory lock, with one set-based statement
 * per kind and action (arrays through `unnest`, never a round trip per record). The snapshot is
 * read again under the lock: a plan computed from manifests is recomputed there, a saved plan is
 * refused if the database changed since it was made.
 */
import type pg from 'pg';
import { RosterError } from '../core/errors.js';
import {
  fingerprint,
  type ActualState,
  planRecordChanges,
  type Plan,
  type PlanOptions,
  type PlannedChange,
  type Refusal,
} from '../core/plan.js';
import type { DesiredRecord, RecordId, RecordKind } from '../core/records.js';
import { explainDatabaseError, LockHeldError, StalePlanError } from './errors.js';
import { planWithHistory } from './plan-history.js';
import { canonicalJson } from './plan-signature.js';
import { readSnapshot, withUsageOutside } from './snapshot.js';

/**
 * Rows per statement: bounds each statement's memory, and keeps the audit log's JSON document
 * well under the 256 MB a jsonb value may hold.
 */
const WRITE_BATCH = 50_000;

/** The advisory lock every apply takes ("rost", 1). */
export const APPLY_LOCK: readonly [number, number] = [0x726f7374, 1];

/** A plan refused at plan time: nothing was written. */
export class PlanRefusedError extends RosterError {
  constructor(readonly refusals: readonly Refusal[]) {
    super(
      'plan-refused',
      `the plan was refused, nothing was changed:\n${refusals.map((r) => `  - ${r.message}`).join('\n')}`,
    );
  }
}

/** Who applies, and from where; recorded in the audit log. */
export interface ApplyContext {
  /** e.g. `roster-cli alice@laptop`. */
  readonly actor: string;
  /** The source recorded in the audit log, e.g. `{ commit }`. */
  readonly source?: Readonly<Record<string, string>>;
  /** Called per step on long applies (e.g. a progress line on a terminal). */
  readonly onProgress?: (done: number, total: number, what: string) => void;
  /**
   * Wait this long for another apply to finish instead of failing at once (a long-running driver
   * such as the operator; the CLI fails fast and names the holder).
   */
  readonly lockWaitMs?: number;
  /** Test hook: runs inside the transaction, just before COMMIT. */
  readonly beforeCommit?: () => Promise<void>;
  /**
   * Aborts the apply: the statement in progress (a wait for the lock included) is cancelled on
   * the server, and the transaction rolls back. Nothing is written once it fires.
   */
  readonly signal?: AbortSignal;
}

/** What an apply did. */
export interface ApplyResult {
  readonly plan: Plan;
  readonly rowsWritten: number;
}

/** What to apply: manifests (planned under the lock) or a saved plan (checked under the lock). */
export type ApplyInput =
  | { readonly desired: readonly DesiredRecord[]; readonly options: PlanOptions }
  | {
      /** Single records: these created or updated, `removals` deleted, nothing else touched. */
      readonly records: readonly DesiredRecord[];
      readonly removals: readonly RecordId[];
      /** Records left in place but no longer managed (an orphaning delete). */
      readonly releases?: readonly RecordId[];
      /**
       * Read only the organizations in scope (see `SnapshotOptions`): for changes to one
       * organization's records that create or delete no plan or role.
       */
      readonly narrowSnapshot?: boolean;
      readonly options: PlanOptions;
    }
  | { readonly plan: Plan };

/**
 * A saved plan is not written as it stands in the file: its records are planned again against the
 * snapshot under the lock, through every rule, and the result must be the plan that was saved.
 * What is written is what the planner produced now, never the file's content.
 */
async function recheckSavedPlan(
  client: pg.PoolClient,
  saved: Plan,
  snapshot: ActualState,
): Promise<Plan> {
  const records = saved.changes
    .filter((c) => c.after !== null)
    .map((c) => ({ id: c.id, fields: c.after ?? {} }));
  const removals = saved.changes.filter((c) => c.action === 'delete').map((c) => c.id);
  const actual = await withUsageOutside(client, snapshot, saved.options.scope, saved.changes);
  const replanned = planRecordChanges(records, removals, actual, {
    manager: saved.manager,
    prune: saved.options.prune,
    pruneAbsent: saved.options.pruneAbsent === true,
    ...(saved.options.maxRemovals !== null && { maxRemovals: saved.options.maxRemovals }),
    maxOrgRemovalRatio: saved.options.maxOrgRemovalRatio,
    now: new Date(),
    scope: saved.options.scope,
  });
  if (replanned.refusals.length > 0) throw new PlanRefusedError(replanned.refusals);
  const shape = (changes: readonly PlannedChange[]) =>
    changes
      .map((c) => canonicalJson({ action: c.action, id: c.id, after: c.after }))
      .sort()
      .join('\n');
  if (shape(replanned.changes) !== shape(saved.changes)) {
    throw new RosterError(
      'saved-plan-mismatch',
      'the saved plan does not match what Roster plans for its records now: nothing was applied; run "roster plan" again',
    );
  }
  return replanned;
}

/** Plans (or re-checks) and applies under the lock, in one transaction. */
export async function applyChanges(
  pool: pg.Pool,
  input: ApplyInput,
  context: ApplyContext,
): Promise<ApplyResult> {
  context.signal?.throwIfAborted();
  const client = await pool.connect();
  let open = false;
  const pid = (client as unknown as { processID?: number }).processID;
  const cancel = () => {
    if (pid !== undefined) {
      pool.query('SELECT pg_cancel_backend($1)', [pid]).catch(() => undefined);
    }
  };
  context.signal?.addEventListener('abort', cancel, { once: true });
  try {
    await client.query('BEGIN');
    open = true;
    await takeApplyLock(client, context.lockWaitMs);
    const scope = 'plan' in input ? input.plan.options.scope : input.options.scope;
    const narrow = 'records' in input && input.narrowSnapshot === true;
    const snapshot = await readSnapshot(client, scope, narrow ? { organizations: 'scope' } : {});
    let plan: Plan;
    if ('plan' in input) {
      if (fingerprint(snapshot) !== input.plan.basis) throw new StalePlanError();
      plan = await recheckSavedPlan(client, input.plan, snapshot);
    } else if ('records' in input) {
      plan = planRecordChanges(
        input.records,
        input.removals,
        snapshot,
        input.options,
        input.releases,
      );
    } else {
      plan = await planWithHistory(client, input.desired, snapshot, input.options);
    }
    if (plan.refusals.length > 0) throw new PlanRefusedError(plan.refusals);
    if (plan.changes.length === 0) {
      await client.query('ROLLBACK');
      open = false;
      return { plan, rowsWritten: 0 };
    }
    const rowsWritten = await executePlan(client, plan, context);
    await context.beforeCommit?.();
    context.signal?.throwIfAborted();
    await client.query('COMMIT');
    open = false;
    return { plan, rowsWritten };
  } catch (error) {
    if (open) await client.query('ROLLBACK').catch(() => undefined);
    if (context.signal?.aborted === true) {
      throw new RosterError('cancelled', 'the apply was cancelled; nothing was written', {
        cause: error,
      });
    }
    throw explainDatabaseError(error);
  } finally {
    context.signal?.removeEventListener('abort', cancel);
    client.release();
  }
}

/** Takes the apply lock for the transaction, or says who holds it. */
async function takeApplyLock(client: pg.PoolClient, waitMs?: number): Promise<void> {
  const [classId, objectId] = APPLY_LOCK;
  if (waitMs !== undefined && waitMs > 0) {
    await client.query(`SELECT set_config('lock_timeout', $1, true)`, [`${Math.round(waitMs)}ms`]);
    try {
      await client.query('SELECT pg_advisory_xact_lock($1, $2)', [classId, objectId]);
      await client.query(`SELECT set_config('lock_timeout', '0', true)`);
      return;
    } catch (error) {
      // 55P03 lock_not_available: the wait ran out; say who holds the lock, as below.
      if ((error as { code?: string }).code !== '55P03') throw error;
      await client.query('ROLLBACK');
      await client.query('BEGIN');
    }
  }
  const { rows } = await client.query<{ locked: boolean }>(
    'SELECT pg_try_advisory_xact_lock($1, $2) AS locked',
    [classId, objectId],
  );
  if (rows[0]?.locked === true) return;
  const holder = await client.query<{
    pid: number;
    application_name: string;
    xact_start: Date | null;
    client_addr: string | null;
  }>(
    `SELECT a.pid, a.application_name, a.xact_start, a.client_addr
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 2`,
    [classId, objectId],
  );
  const h = holder.rows[0];
  throw new LockHeldError(
    h === undefined
      ? 'the lock was released a moment ago'
      : `${h.application_name || 'unknown client'}, server pid ${h.pid}${h.client_addr ? ` from ${h.client_addr}` : ''}${h.xact_start ? `, since ${h.xact_start.toISOString()}` : ''}`,
  );
}

const json = (value: unknown) =>
  value === null || value === undefined ? null : JSON.stringify(value);
const splitResource = (resource: string | undefined) => {
  const [type = '', ...rest] = (resource ?? '').split('/');
  return [type, rest.join('/')] as const;
};

/** The file (and line, when the plan already knows it) a change comes from, for the audit log. */
function sourceOf(change: PlannedChange): { file?: string; line?: number } {
  if (change.sourceFile !== undefined) return { file: change.sourceFile };
  return change.source === undefined ? {} : { file: change.source.file, line: change.source.line };
}

/** Writes every change of the plan; returns the number of rows written. */
export async function executePlan(
  client: pg.PoolClient,
  plan: Plan,
  context: ApplyContext,
): Promise<number> {
  let rows = 0;
  const run = async (sql: string, params: unknown[]) => {
    const result = await client.query(sql, params);
    rows += result.rowCount ?? 0;
    return result;
  };
  const byKind = (kind: RecordKind, deleting: boolean) =>
    plan.changes.filter((c) => c.id.kind === kind && (c.action === 'delete') === deleting);
  const managedBy = (c: PlannedChange) => (c.manage === 'release' ? null : plan.manager);
  const lastApplied = (c: PlannedChange) => (c.manage === 'release' ? null : json(c.after));
  const steps: [string, () => Promise<unknown>][] = [];
  // One statement per kind and batch: arrays of a few tens of thousands of rows keep each
  // statement's memory bounded and fast to parse, however large the plan.
  const step = <T>(
    what: string,
    items: readonly T[],
    fn: (batch: readonly T[]) => Promise<unknown>,
  ) => {
    for (let start = 0; start < items.length; start += WRITE_BATCH) {
      const batch = items.slice(start, start + WRITE_BATCH);
      steps.push([what, () => fn(batch)]);
    }
  };

  // Users first: every e-mail a membership or grant names.
  const emails = [
    ...new Set(
      plan.changes
        .filter(
          (c) => c.action !== 'delete' && (c.id.kind === 'membership' || c.id.kind === 'grant'),
        )
        .map((c) => c.id.user ?? ''),
    ),
  ];
  step('users', emails, (batch) =>
    run(`INSERT INTO users (email) SELECT unnest($1::text[]) ON CONFLICT (email) DO NOTHING`, [
      batch,
    ]),
  );

  const plans = byKind('plan', false);
  step('plans', plans, (plans) =>
    run(
      `INSERT INTO plans AS p (name, display_name, paid_seats, free_seats, max_resources, features,
              invitation_expiry_days, invitation_max_resends, managed_by, last_applied)
       SELECT x.name, x.display_name, x.paid, x.free, x.max_resources,
              ARRAY(SELECT jsonb_array_elements_text(x.features)), x.expiry, x.resends, x.managed_by, x.last_applied
         FROM unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::int[], $6::jsonb[], $7::text[], $8::jsonb[], $9::int[], $10::int[])
              AS x(name, display_name, paid, free, max_resources, features, managed_by, last_applied, expiry, resends)
       ON CONFLICT (name) DO UPDATE SET display_name = EXCLUDED.display_name, paid_seats = EXCLUDED.paid_seats,
              free_seats = EXCLUDED.free_seats, max_resources = EXCLUDED.max_resources, features = EXCLUDED.features,
              invitation_expiry_days = EXCLUDED.invitation_expiry_days,
              invitation_max_resends = EXCLUDED.invitation_max_resends,
              managed_by = EXCLUDED.managed_by, last_applied = EXCLUDED.last_applied, updated_at = now()`,
      [
        plans.map((c) => c.id.name),
        plans.map((c) => c.after?.displayName ?? null),
        plans.map((c) => c.after?.paidSeats),
        plans.map((c) => c.after?.freeSeats),
        plans.map((c) => c.after?.maxResources ?? null),
        plans.map((c) => json(c.after?.features ?? [])),
        plans.map(managedBy),
        plans.map(lastApplied),
        plans.map((c) => c.after?.invitationExpiryDays ?? null),
        plans.map((c) => c.after?.invitationMaxResends ?? null),
      ],
    ),
  );

  const roles = byKind('role', false);
  step('roles', roles, async (roles) => {
    await run(
      `INSERT INTO roles AS r (name, scope, description, managed_by, last_applied)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[])
       ON CONFLICT (name) DO UPDATE SET scope = EXCLUDED.scope, description = EXCLUDED.description,
              managed_by = EXCLUDED.managed_by, last_applied = EXCLUDED.last_applied, updated_at = now()`,
      [
        roles.map((c) => c.id.name),
        roles.map((c) => c.after?.scope),
        roles.map((c) => c.after?.description ?? null),
        roles.map(managedBy),
        roles.map(lastApplied),
      ],
    );
    await run(`DELETE FROM role_permissions WHERE role = ANY($1::text[])`, [
      roles.map((c) => c.id.name),
    ]);
    const pairs = roles.flatMap((c) =>
      ((c.after?.permissions ?? []) as string[]).map((p) => [c.id.name, p] as const),
    );
    await run(
      `INSERT INTO role_permissions (role, permission) SELECT * FROM unnest($1::text[], $2::text[])`,
      [pairs.map(([r]) => r), pairs.map(([, p]) => p)],
    );
  });

  const orgs = byKind('organization', false);
  step('organizations', orgs, (orgs) =>
    run(
      `INSERT INTO organizations AS o (name, display_name, plan, managed_by, last_applied,
              invitation_expiry_days, invitation_max_resends)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::int[], $7::int[])
       ON CONFLICT (name) DO UPDATE SET display_name = EXCLUDED.display_name, plan = EXCLUDED.plan,
              invitation_expiry_days = EXCLUDED.invitation_expiry_days,
              invitation_max_resends = EXCLUDED.invitation_max_resends,
              managed_by = EXCLUDED.managed_by, last_applied = EXCLUDED.last_applied, updated_at = now()`,
      [
        orgs.map((c) => c.id.name),
        orgs.map((c) => c.after?.displayName ?? null),
        orgs.map((c) => c.after?.plan ?? null),
        orgs.map(managedBy),
        orgs.map(lastApplied),
        orgs.map((c) => c.after?.invitationExpiryDays ?? null),
        orgs.map((c) => c.after?.invitationMaxResends ?? null),
      ],
    ),
  );

  const resources = byKind('resource', false);
  step('resources', resources, (resources) =>
    run(
      `INSERT INTO resources (org_id, type, name, managed_by)
       SELECT o.org_id, x.type, x.name, x.managed_by
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS x(org, type, name, managed_by)
         JOIN organizations o ON o.name = x.org
       ON CONFLICT (org_id, type, name) DO UPDATE SET managed_by = EXCLUDED.managed_by`,
      [
        resources.map((c) => c.id.org),
        resources.map((c) => c.id.type),
        resources.map((c) => c.id.name),
        resources.map(managedBy),
      ],
    ),
  );

  const memberships = byKind('membership', false);
  step('memberships', memberships, (memberships) =>
    run(
      `INSERT INTO memberships AS m (org_id, user_id, role, seat, status, invited_by, managed_by, last_applied)
       SELECT o.org_id, u.user_id, x.role, x.seat,
              CASE WHEN x.suspended THEN 'suspended' ELSE 'invited' END, $7, x.managed_by,
              -- What Roster wrote (the change's fields), built here rather than sent as jsonb.
              CASE WHEN x.managed_by IS NOT NULL
                   THEN jsonb_build_object('role', x.role, 'seat', x.seat, 'suspended', x.suspended) END
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::boolean[], $6::text[])
              AS x(org, email, role, seat, suspended, managed_by)
         JOIN organizations o ON o.name = x.org
         JOIN users u ON u.email = x.email
       ON CONFLICT (org_id, user_id) DO UPDATE SET role = EXCLUDED.role, seat = EXCLUDED.seat,
              status = CASE WHEN EXCLUDED.status = 'suspended' THEN 'suspended'
                            WHEN m.status = 'suspended' THEN CASE WHEN m.joined_at IS NULL THEN 'invited' ELSE 'active' END
                            ELSE m.status END,
              managed_by = EXCLUDED.managed_by, last_applied = EXCLUDED.last_applied, updated_at = now()`,
      [
        memberships.map((c) => c.id.org),
        memberships.map((c) => c.id.user),
        memberships.map((c) => c.after?.role),
        memberships.map((c) => c.after?.seat),
        memberships.map((c) => c.after?.suspended === true),
        memberships.map(managedBy),
        context.actor,
      ],
    ),
  );

  const grants = byKind('grant', false);
  step('grants', grants, (grants) =>
    run(
      `INSERT INTO grants AS g (org_id, user_id, resource_type, resource_name, role, expires_at, invited_by, managed_by, last_applied)
       SELECT o.org_id, u.user_id, x.type, x.name, x.role, x.expires::timestamptz, $7, x.managed_by,
              CASE WHEN x.managed_by IS NOT NULL
                   THEN jsonb_build_object('role', x.role, 'expires', x.expires) END
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $8::text[])
              AS x(org, email, type, name, role, expires, managed_by)
         JOIN organizations o ON o.name = x.org
         JOIN users u ON u.email = x.email
       ON CONFLICT (org_id, user_id, resource_type, resource_name) DO UPDATE SET role = EXCLUDED.role,
              expires_at = EXCLUDED.expires_at, managed_by = EXCLUDED.managed_by,
              last_applied = EXCLUDED.last_applied, updated_at = now()`,
      [
        grants.map((c) => c.id.org),
        grants.map((c) => c.id.user),
        grants.map((c) => splitResource(c.id.resource)[0]),
        grants.map((c) => splitResource(c.id.resource)[1]),
        grants.map((c) => c.after?.role),
        grants.map((c) => c.after?.expires ?? null),
        context.actor,
        grants.map(managedBy),
      ],
    ),
  );

  const contacts = byKind('contact', false);
  step('contacts', contacts, (contacts) =>
    run(
      `INSERT INTO contacts AS c (org_id, email, name, categories, managed_by, last_applied)
       SELECT o.org_id, x.email, x.name, x.categories, x.managed_by,
              CASE WHEN x.managed_by IS NOT NULL
                   THEN jsonb_build_object('name', x.name, 'categories', to_jsonb(x.categories)) END
         FROM jsonb_to_recordset($1::jsonb)
              AS x(org text, email text, name text, categories text[], managed_by text)
         JOIN organizations o ON o.name = x.org
       ON CONFLICT (org_id, email) DO UPDATE SET name = EXCLUDED.name, categories = EXCLUDED.categories,
              managed_by = EXCLUDED.managed_by, last_applied = EXCLUDED.last_applied, updated_at = now()`,
      [
        JSON.stringify(
          contacts.map((c) => ({
            org: c.id.org,
            email: c.id.email,
            name: c.after?.name ?? null,
            categories: c.after?.categories ?? [],
            managed_by: managedBy(c),
          })),
        ),
      ],
    ),
  );

  // Pending invitations of removed, re-roled or resumed members are revoked; new ones are queued.
  const reissued = new Set(
    plan.invitations
      .filter((i) => i.reason !== 'new')
      .map((i) => `${i.org}\u0000${i.user}\u0000${i.resource ?? ''}`),
  );
  const revoked = plan.changes.filter(
    (c) =>
      (c.id.kind === 'membership' || c.id.kind === 'grant') &&
      (c.action === 'delete' ||
        (c.action === 'update' &&
          (c.fields.some((f) => f.name === 'role') ||
            reissued.has(`${c.id.org}\u0000${c.id.user}\u0000${c.id.resource ?? ''}`)))),
  );
  step('invitations revoked', revoked, (revoked) =>
    run(
      `UPDATE invitations i SET status = 'revoked'
         FROM unnest($1::text[], $2::text[], $3::text[]) AS x(org, email, resource), organizations o, users u
        WHERE i.status = 'pending' AND o.name = x.org AND u.email = x.email
          AND i.org_id = o.org_id AND i.user_id = u.user_id
          AND coalesce(i.resource_type || '/' || i.resource_name, '') = x.resource`,
      [
        revoked.map((c) => c.id.org),
        revoked.map((c) => c.id.user),
        revoked.map((c) => c.id.resource ?? ''),
      ],
    ),
  );
  step('invitations', plan.invitations, (invitations) =>
    run(
      `WITH created AS (
         INSERT INTO invitations (org_id, user_id, subject, resource_type, resource_name, role, invited_by)
         SELECT o.org_id, u.user_id, x.subject, nullif(x.type, ''), nullif(x.name, ''), x.role, $7
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
                AS x(org, email, subject, type, name, role)
           JOIN organizations o ON o.name = x.org
           JOIN users u ON u.email = x.email
         RETURNING org_id, invitation_id)
       INSERT INTO outbox (org_id, kind, idempotency_key, payload)
       SELECT org_id, 'invitation', 'invitation:' || org_id || ':' || invitation_id,
              jsonb_build_object('orgId', org_id, 'invitationId', invitation_id)
         FROM created`,
      [
        invitations.map((i) => i.org),
        invitations.map((i) => i.user),
        invitations.map((i) => i.subject),
        invitations.map((i) => splitResource(i.resource)[0]),
        invitations.map((i) => splitResource(i.resource)[1]),
        invitations.map((i) => i.role),
        context.actor,
      ],
    ),
  );

  // The audit log, written before deletes so that organizations can still be named by id. One
  // JSON document per batch: PostgreSQL parses it far faster than arrays of jsonb, and a batch
  // stays well under the 256 MB a jsonb value may hold.
  step('audit log', plan.changes, (batch) =>
    run(
      `INSERT INTO audit_log (org_id, actor, action, record, record_key, before, after, source)
       SELECT o.org_id, $1, x.action, x.record, x.record_key, x.before, x.after, x.source
         FROM jsonb_to_recordset($2::jsonb)
              AS x(org text, action text, record text, record_key text, before jsonb, after jsonb, source jsonb)
         LEFT JOIN organizations o ON o.name = x.org`,
      [
        context.actor,
        JSON.stringify(
          batch.map((c) => ({
            org: c.org,
            action: c.action,
            record: c.id.kind,
            record_key: JSON.stringify(c.id),
            before: c.before,
            after: c.after,
            source: { ...context.source, ...sourceOf(c) },
          })),
        ),
      ],
    ),
  );

  // Deletes, children first.
  const deleteContacts = byKind('contact', true);
  step('contacts removed', deleteContacts, (deleteContacts) =>
    run(
      `DELETE FROM contacts c USING unnest($1::text[], $2::text[]) AS x(org, email), organizations o
        WHERE o.name = x.org AND c.org_id = o.org_id AND c.email = x.email`,
      [deleteContacts.map((c) => c.id.org), deleteContacts.map((c) => c.id.email)],
    ),
  );
  const deleteGrants = byKind('grant', true);
  step('grants removed', deleteGrants, (deleteGrants) =>
    run(
      `DELETE FROM grants g USING unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS x(org, email, type, name),
              organizations o, users u
        WHERE o.name = x.org AND u.email = x.email AND g.org_id = o.org_id AND g.user_id = u.user_id
          AND g.resource_type = x.type AND g.resource_name = x.name`,
      [
        deleteGrants.map((c) => c.id.org),
        deleteGrants.map((c) => c.id.user),
        deleteGrants.map((c) => splitResource(c.id.resource)[0]),
        deleteGrants.map((c) => splitResource(c.id.resource)[1]),
      ],
    ),
  );
  const deleteMemberships = byKind('membership', true);
  step('memberships removed', deleteMemberships, (deleteMemberships) =>
    run(
      `DELETE FROM memberships m USING unnest($1::text[], $2::text[]) AS x(org, email), organizations o, users u
        WHERE o.name = x.org AND u.email = x.email AND m.org_id = o.org_id AND m.user_id = u.user_id`,
      [deleteMemberships.map((c) => c.id.org), deleteMemberships.map((c) => c.id.user)],
    ),
  );
  const deleteResources = byKind('resource', true);
  step('resources removed', deleteResources, (deleteResources) =>
    run(
      `DELETE FROM resources r USING unnest($1::text[], $2::text[], $3::text[]) AS x(org, type, name), organizations o
        WHERE o.name = x.org AND r.org_id = o.org_id AND r.type = x.type AND r.name = x.name`,
      [
        deleteResources.map((c) => c.id.org),
        deleteResources.map((c) => c.id.type),
        deleteResources.map((c) => c.id.name),
      ],
    ),
  );
  for (const [kind, table] of [
    ['organization', 'organizations'],
    ['role', 'roles'],
    ['plan', 'plans'],
  ] as const) {
    const gone = byKind(kind, true);
    step(`${table} removed`, gone, (batch) =>
      run(`DELETE FROM ${table} WHERE name = ANY($1::text[])`, [batch.map((c) => c.id.name)]),
    );
  }

  for (const [index, [what, fn]] of steps.entries()) {
    context.onProgress?.(index, steps.length, what);
    await fn();
  }
  context.onProgress?.(steps.length, steps.length, 'done');
  return rows;
}
