/**
 * Applies a plan in one transaction, serialised by an advisory lock, with one set-based statement
 * per kind and action (arrays through `unnest`, never a round trip per record). The snapshot is
 * read again under the lock: a plan computed from manifests is recomputed there, a saved plan is
 * refused if the database changed since it was made.
 */
import type pg from 'pg';
import { personByAlias, resolvePerson } from '../core/aliases.js';
import { EVERY_MEMBER } from '../core/kinds/delegation.js';
import { parseGroupGrant } from '../core/kinds/group.js';
import { RosterError } from '../core/errors.js';
import {
  type ActualState,
  planRecordChanges,
  type Plan,
  type PlanOptions,
  type PlannedChange,
  type Refusal,
} from '../core/plan.js';
import {
  RECORD_KINDS,
  type DesiredRecord,
  type IdOf,
  type RecordId,
  type RecordKind,
} from '../core/records.js';
import { explainDatabaseError, LockHeldError, StalePlanError } from './errors.js';
import { planWithHistory } from './plan-history.js';
import { canonicalJson } from './plan-signature.js';
import { readBasis } from './input-index.js';
import { readSnapshot, withUsageOutside } from './snapshot.js';
import {
  appendAudit,
  deleteContacts,
  deleteGrants,
  deleteMemberships,
  deleteOrganizations,
  deletePlans,
  deleteResources,
  deleteRoles,
  deleteDelegations,
  deleteGroups,
  insertAliases,
  insertUsers,
  replaceGroupGrants,
  replaceGroupMembers,
  revokeGroupInvitations,
  upsertDelegations,
  upsertGroups,
  queueInvitations,
  releaseAliases,
  releaseUsers,
  upsertUserRecords,
  replaceRolePermissions,
  revokePendingInvitations,
  upsertContacts,
  upsertGrants,
  upsertMemberships,
  upsertOrganizations,
  upsertPlans,
  upsertResources,
  upsertRoles,
} from './sql/write-records.js';
import { COPY_FROM_ROWS } from './sql/row-source.js';

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
  /**
   * The person behind the changes declared in one source (a custom resource's author), and what
   * to add to their audit source; the apply's `actor` otherwise.
   */
  readonly changedBy?: (
    file: string,
  ) => { readonly actor?: string; readonly source?: Readonly<Record<string, string>> } | undefined;
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
   * Runs inside the transaction after the writes, even when the plan changes nothing (the
   * transaction then commits instead of rolling back): what the apply was made from is recorded
   * there, atomically with what it wrote (`recordInput`).
   */
  readonly record?: (db: pg.PoolClient) => Promise<void>;
  /**
   * Aborts the apply: the statement in progress (a wait for the lock included) is cancelled on
   * the server, and the transaction rolls back. Nothing is written once it fires.
   */
  readonly signal?: AbortSignal;
  /**
   * Rows of one kind from which they are staged through COPY rather than sent as arrays
   * (default `COPY_FROM_ROWS`); tests run the same plan through both.
   */
  readonly copyFrom?: number;
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
      /**
       * The records may name a person by an alias (a driver that does not see the Users, the
       * Pulumi provider): they are resolved through the aliases the database holds.
       */
      readonly resolveAliases?: boolean;
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
  read: readonly string[] | 'all',
): Promise<Plan> {
  const records = saved.changes
    .filter((c) => c.after !== null)
    .map((c) => ({ id: c.id, fields: c.after ?? {} }));
  const removals = saved.changes.filter((c) => c.action === 'delete').map((c) => c.id);
  const actual = await withUsageOutside(client, snapshot, read, saved.changes);
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

/**
 * The organizations a saved plan changes: once its basis matches, the others are as the plan saw
 * them and the re-check reads only these (and every plan and role, which snapshots always read).
 */
function changedOrganizations(
  plan: Plan,
  scope: readonly string[] | 'all',
): readonly string[] | 'all' {
  // A plan or role changed: every organization using it is checked again, as when planned.
  if (plan.changes.some((c) => c.id.kind === 'plan' || c.id.kind === 'role')) return scope;
  const orgs = new Set<string>();
  for (const change of plan.changes) if (change.org !== null) orgs.add(change.org);
  return [...orgs].sort();
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
    if ('plan' in input) {
      const saved = input.plan;
      const basis = await readBasis(client, saved.manager, scope, new Date());
      if (basis !== saved.basis) throw new StalePlanError();
    }
    const read = 'plan' in input ? changedOrganizations(input.plan, scope) : scope;
    const snapshot = await readSnapshot(client, read, narrow ? { organizations: 'scope' } : {});
    let plan: Plan;
    if ('plan' in input) {
      plan = await recheckSavedPlan(client, input.plan, snapshot, read);
    } else if ('records' in input) {
      const personOf = input.resolveAliases === true ? personByAlias(snapshot) : new Map();
      plan = planRecordChanges(
        personOf.size === 0
          ? input.records
          : input.records.map((r) => ({ ...r, id: resolvePerson(r.id, personOf) })),
        input.removals.map((id) => resolvePerson(id, personOf)),
        snapshot,
        input.options,
        input.releases,
      );
    } else {
      plan = await planWithHistory(client, input.desired, snapshot, input.options);
    }
    if (plan.refusals.length > 0) throw new PlanRefusedError(plan.refusals);
    if (plan.changes.length === 0 && context.record === undefined) {
      await client.query('ROLLBACK');
      open = false;
      return { plan, rowsWritten: 0 };
    }
    const rowsWritten = plan.changes.length === 0 ? 0 : await executePlan(client, plan, context);
    await context.record?.(client);
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

/**
 * Up to this many changes from up to this many files, the audit log gets each one's line too.
 * Finding a line re-reads its file with positions (the fast parse keeps none): ~20 ms a file,
 * fine for a pull request's plan, a minute for a change spread over 3,314 files (measured at 1M
 * records: the audit step went from 1 s to 66 s before the file bound).
 */
const AUDIT_LINES_UP_TO = 10_000;
const AUDIT_LINES_UP_TO_FILES = 100;

/** The file (and line, for a plan of a reviewable size) a change comes from, for the audit log. */
function sourceOf(change: PlannedChange, lines: boolean): { file?: string; line?: number } {
  if (change.sourceFile !== undefined && !lines) return { file: change.sourceFile };
  const at = change.source;
  return at === undefined ? {} : { file: at.file, line: at.line };
}

/** Writes every change of the plan; returns the number of rows written. */
export async function executePlan(
  client: pg.PoolClient,
  plan: Plan,
  context: ApplyContext,
): Promise<number> {
  const changes = changesByKind(plan);
  const upserts = <K extends RecordKind>(kind: K) => changes.get(`${kind}:upsert`) as Change<K>[];
  const deletes = <K extends RecordKind>(kind: K) => changes.get(`${kind}:delete`) as Change<K>[];
  const managedBy = (c: PlannedChange) => (c.manage === 'release' ? null : plan.manager);
  const lastApplied = (c: PlannedChange) => (c.manage === 'release' ? null : json(c.after));
  const after = (c: PlannedChange, field: string) => c.after?.[field] ?? null;
  const actor = context.actor;
  const copyFrom = context.copyFrom ?? COPY_FROM_ROWS;
  const lines =
    plan.changes.length <= AUDIT_LINES_UP_TO &&
    new Set(plan.changes.map((c) => c.sourceFile)).size <= AUDIT_LINES_UP_TO_FILES;
  const reissued = new Set(
    plan.invitations
      .filter((i) => i.reason !== 'new')
      .map((i) => `${i.org}\u0000${i.user}\u0000${i.resource ?? ''}`),
  );
  const subject = (c: Change<'membership' | 'grant'>) =>
    `${c.id.org}\u0000${c.id.user}\u0000${c.id.kind === 'grant' ? c.id.resource : ''}`;
  const access = [...upserts('membership'), ...upserts('grant')];
  // Pending invitations of removed, re-roled or resumed members are revoked; new ones are queued.
  const revoked = [
    ...access.filter(
      (c) =>
        c.action === 'update' &&
        (c.fields.some((f) => f.name === 'role') || reissued.has(subject(c))),
    ),
    ...deletes('membership'),
    ...deletes('grant'),
  ];

  // The steps, in order: parents before children, the audit log before deletes (so that
  // organizations can still be named by id), then deletes, children first.
  const steps: Step[] = [
    // An address leaving a person is free before anyone is written under it; aliases are added
    // after removals, so that an address can stop being a user of its own and become an alias.
    batched('user aliases released', [...upserts('user'), ...deletes('user')], (b) =>
      releaseAliases(
        client,
        b.map((c) => c.id.email),
        b.flatMap((c) => (after(c, 'aliases') ?? []) as string[]),
      ),
    ),
    staged(
      'users',
      [
        ...new Set([
          ...upserts('user').map((c) => c.id.email),
          ...access.map((c) => c.id.user),
          ...upserts('group').flatMap((c) => (after(c, 'members') ?? []) as string[]),
          ...upserts('delegation').flatMap((c) =>
            [after(c, 'delegate'), after(c, 'onBehalfOf')].filter(
              (a): a is string => typeof a === 'string' && a !== EVERY_MEMBER,
            ),
          ),
        ]),
      ],
      copyFrom,
      (emails) => insertUsers(client, emails, copyFrom),
    ),
    batched('people', upserts('user'), (b) =>
      upsertUserRecords(client, {
        email: b.map((c) => c.id.email),
        managedBy: b.map(managedBy),
        lastApplied: b.map(lastApplied),
        locale: b.map((c) => after(c, 'locale')),
      }),
    ),
    batched('plans', upserts('plan'), (b) =>
      upsertPlans(client, {
        name: b.map((c) => c.id.name),
        displayName: b.map((c) => after(c, 'displayName')),
        paidSeats: b.map((c) => after(c, 'paidSeats')),
        freeSeats: b.map((c) => after(c, 'freeSeats')),
        maxResources: b.map((c) => after(c, 'maxResources')),
        features: b.map((c) => json(after(c, 'features') ?? []) ?? '[]'),
        managedBy: b.map(managedBy),
        lastApplied: b.map(lastApplied),
        expiryDays: b.map((c) => after(c, 'invitationExpiryDays')),
        maxResends: b.map((c) => after(c, 'invitationMaxResends')),
        maxDelegationDays: b.map((c) => after(c, 'maxDelegationDays')),
      }),
    ),
    batched('roles', upserts('role'), async (b) => {
      const written = await upsertRoles(client, {
        name: b.map((c) => c.id.name),
        scope: b.map((c) => after(c, 'scope')),
        description: b.map((c) => after(c, 'description')),
        managedBy: b.map(managedBy),
        lastApplied: b.map(lastApplied),
        org: b.map((c) => after(c, 'org')),
      });
      const pairs = b.flatMap((c) =>
        ((after(c, 'permissions') ?? []) as string[]).map((p) => [c.id.name, p] as const),
      );
      return (
        written +
        (await replaceRolePermissions(
          client,
          b.map((c) => c.id.name),
          pairs,
        ))
      );
    }),
    batched('organizations', upserts('organization'), (b) =>
      upsertOrganizations(client, {
        name: b.map((c) => c.id.name),
        displayName: b.map((c) => after(c, 'displayName')),
        plan: b.map((c) => after(c, 'plan')),
        managedBy: b.map(managedBy),
        lastApplied: b.map(lastApplied),
        expiryDays: b.map((c) => after(c, 'invitationExpiryDays')),
        maxResends: b.map((c) => after(c, 'invitationMaxResends')),
        locale: b.map((c) => after(c, 'locale')),
        timeZone: b.map((c) => after(c, 'timeZone')),
        productName: b.map((c) => after(c, 'productName')),
        senderName: b.map((c) => after(c, 'senderName')),
        logoUrl: b.map((c) => after(c, 'logoUrl')),
        accentColor: b.map((c) => after(c, 'accentColor')),
      }),
    ),
    batched('resources', upserts('resource'), (b) =>
      upsertResources(client, {
        org: b.map((c) => c.id.org),
        type: b.map((c) => c.id.type),
        name: b.map((c) => c.id.name),
        managedBy: b.map(managedBy),
      }),
    ),
    staged('memberships', upserts('membership'), copyFrom, (b) =>
      upsertMemberships(
        client,
        b,
        {
          org: (c) => c.id.org,
          email: (c) => c.id.user,
          role: (c) => after(c, 'role'),
          seat: (c) => after(c, 'seat'),
          suspended: (c) => after(c, 'suspended') === true,
          managed_by: managedBy,
        },
        actor,
        copyFrom,
      ),
    ),
    staged('grants', upserts('grant'), copyFrom, (b) =>
      upsertGrants(
        client,
        b,
        {
          org: (c) => c.id.org,
          email: (c) => c.id.user,
          type: (c) => splitResource(c.id.resource)[0],
          name: (c) => splitResource(c.id.resource)[1],
          role: (c) => after(c, 'role'),
          expires: (c) => after(c, 'expires'),
          managed_by: managedBy,
        },
        actor,
        copyFrom,
      ),
    ),
    staged('contacts', upserts('contact'), copyFrom, (b) =>
      upsertContacts(
        client,
        b,
        {
          org: (c) => c.id.org,
          email: (c) => c.id.email,
          name: (c) => after(c, 'name'),
          categories: (c) => JSON.stringify(after(c, 'categories') ?? []),
          managed_by: managedBy,
        },
        copyFrom,
      ),
    ),
    batched('groups', upserts('group'), async (b) => {
      const groups = { org: b.map((c) => c.id.org), name: b.map((c) => c.id.name) };
      const written = await upsertGroups(client, {
        ...groups,
        role: b.map((c) => after(c, 'role')),
        managedBy: b.map(managedBy),
        lastApplied: b.map(lastApplied),
      });
      const members = b.flatMap((c) =>
        ((after(c, 'members') ?? []) as string[]).map(
          (user) => [c.id.org, c.id.name, user] as const,
        ),
      );
      const grants = b.flatMap((c) =>
        ((after(c, 'grants') ?? []) as string[]).map((value) => {
          const grant = parseGroupGrant(value);
          const [type, resource] = splitResource(grant.resource);
          return { org: c.id.org, name: c.id.name, type, resource, role: grant.role };
        }),
      );
      return (
        written +
        (await replaceGroupMembers(client, groups, members)) +
        (await replaceGroupGrants(client, groups, grants))
      );
    }),
    batched('delegations', upserts('delegation'), (b) =>
      upsertDelegations(client, {
        org: b.map((c) => c.id.org),
        name: b.map((c) => c.id.name),
        delegate: b.map((c) => after(c, 'delegate')),
        onBehalfOf: b.map((c) => after(c, 'onBehalfOf')),
        permissions: b.map((c) => json(after(c, 'permissions'))),
        starts: b.map((c) => after(c, 'starts')),
        expires: b.map((c) => after(c, 'expires')),
        reason: b.map((c) => after(c, 'reason')),
        managedBy: b.map(managedBy),
        lastApplied: b.map(lastApplied),
      }),
    ),
    batched('invitations revoked', revoked, (b) =>
      revokePendingInvitations(client, {
        org: b.map((c) => c.id.org),
        user: b.map((c) => c.id.user),
        resource: b.map((c) => (c.id.kind === 'grant' ? c.id.resource : '')),
      }),
    ),
    staged('invitations', plan.invitations, copyFrom, (b) =>
      queueInvitations(
        client,
        b,
        {
          org: (i) => i.org,
          email: (i) => i.user,
          subject: (i) => i.subject,
          type: (i) => splitResource(i.resource)[0],
          name: (i) => splitResource(i.resource)[1],
          role: (i) => i.role,
        },
        actor,
        copyFrom,
      ),
    ),
    staged('audit log', plan.changes, copyFrom, (b) =>
      appendAudit(
        client,
        actor,
        b,
        {
          org: (c) => c.org,
          action: (c) => c.action,
          record: (c) => c.id.kind,
          record_key: (c) => JSON.stringify(c.id),
          before: (c) => json(c.before),
          after: (c) => json(c.after),
          source: (c) => {
            const from = sourceOf(c, lines);
            const by = from.file === undefined ? undefined : context.changedBy?.(from.file);
            return JSON.stringify({ ...context.source, ...from, ...by?.source });
          },
          actor: (c) => {
            const file = c.sourceFile ?? c.source?.file;
            return (file === undefined ? undefined : context.changedBy?.(file)?.actor) ?? null;
          },
        },
        copyFrom,
      ),
    ),
    batched('contacts removed', deletes('contact'), (b) =>
      deleteContacts(client, { org: b.map((c) => c.id.org), email: b.map((c) => c.id.email) }),
    ),
    batched('grants removed', deletes('grant'), (b) =>
      deleteGrants(client, {
        org: b.map((c) => c.id.org),
        user: b.map((c) => c.id.user),
        resourceType: b.map((c) => splitResource(c.id.resource)[0]),
        resourceName: b.map((c) => splitResource(c.id.resource)[1]),
      }),
    ),
    batched('memberships removed', deletes('membership'), (b) =>
      deleteMemberships(client, { org: b.map((c) => c.id.org), user: b.map((c) => c.id.user) }),
    ),
    batched('aliases', upserts('user'), (b) =>
      insertAliases(
        client,
        b.flatMap((c) =>
          ((after(c, 'aliases') ?? []) as string[]).map((alias) => [c.id.email, alias] as const),
        ),
      ),
    ),
    batched('people released', deletes('user'), (b) =>
      releaseUsers(
        client,
        b.map((c) => c.id.email),
      ),
    ),
    batched('delegations removed', deletes('delegation'), (b) =>
      deleteDelegations(client, { org: b.map((c) => c.id.org), name: b.map((c) => c.id.name) }),
    ),
    batched('groups removed', deletes('group'), (b) =>
      deleteGroups(client, { org: b.map((c) => c.id.org), name: b.map((c) => c.id.name) }),
    ),
    batched(
      'group invitations revoked',
      [...new Set([...upserts('group'), ...deletes('group')].map((c) => c.id.org))],
      (orgs) => revokeGroupInvitations(client, orgs),
    ),
    batched('resources removed', deletes('resource'), (b) =>
      deleteResources(client, {
        org: b.map((c) => c.id.org),
        type: b.map((c) => c.id.type),
        name: b.map((c) => c.id.name),
      }),
    ),
    batched('organizations removed', deletes('organization'), (b) =>
      deleteOrganizations(
        client,
        b.map((c) => c.id.name),
      ),
    ),
    batched('roles removed', deletes('role'), (b) =>
      deleteRoles(
        client,
        b.map((c) => c.id.name),
      ),
    ),
    batched('plans removed', deletes('plan'), (b) =>
      deletePlans(
        client,
        b.map((c) => c.id.name),
      ),
    ),
  ].flat();

  let rows = 0;
  for (const [index, [what, write]] of steps.entries()) {
    context.onProgress?.(index, steps.length, what);
    rows += await write();
  }
  context.onProgress?.(steps.length, steps.length, 'done');
  return rows;
}

/** A planned change of one kind, its id narrowed. */
type Change<K extends RecordKind> = PlannedChange & { readonly id: IdOf<K> };

/** A step of an apply: what it writes (for progress) and the write, returning rows written. */
type Step = readonly [string, () => Promise<number>];

/** The changes of each kind, `kind:upsert` and `kind:delete`, in plan order. */
function changesByKind(plan: Plan): Map<string, PlannedChange[]> {
  const groups = new Map<string, PlannedChange[]>();
  for (const kind of RECORD_KINDS) {
    groups.set(`${kind}:upsert`, []);
    groups.set(`${kind}:delete`, []);
  }
  for (const c of plan.changes) {
    groups.get(`${c.id.kind}:${c.action === 'delete' ? 'delete' : 'upsert'}`)?.push(c);
  }
  return groups;
}

/**
 * The rows of a kind the statement stages through COPY (`copyFrom` rows or more) go in one step;
 * fewer go in batches, as arrays.
 */
function staged<T>(
  what: string,
  items: readonly T[],
  copyFrom: number,
  write: (batch: readonly T[]) => Promise<number>,
): Step[] {
  return items.length >= copyFrom ? [[what, () => write(items)]] : batched(what, items, write);
}

/**
 * One step per batch: arrays of a few tens of thousands of rows keep each statement's memory
 * bounded and fast to parse, however large the plan.
 */
function batched<T>(
  what: string,
  items: readonly T[],
  write: (batch: T[]) => Promise<number>,
): Step[] {
  const steps: Step[] = [];
  for (let start = 0; start < items.length; start += WRITE_BATCH) {
    const batch = items.slice(start, start + WRITE_BATCH);
    steps.push([what, () => write(batch)]);
  }
  return steps;
}
