/**
 * The planner: desired records + a snapshot of the database -> a plan of typed changes. Pure: no
 * I/O, no clock (the caller passes "now"). Every rule that could refuse a change runs here, at plan
 * time, so an apply never stops half-way for a reason a plan could have known.
 */
import { BUILT_IN_ROLES, DEFAULT_MAX_DELEGATION_DAYS, OWNER_ROLE } from './catalog.js';
import { EVERY_MEMBER, type DelegationFields, type DelegationId } from './kinds/delegation.js';
import type { SourceLocation } from './findings.js';
import { planLimits, type PlanFields } from './kinds/plan.js';
import { parseGroupGrant, type GroupFields, type GroupId } from './kinds/group.js';
import { locate } from './model.js';
import {
  changedFields,
  describeRecord,
  orgOf,
  recordKey,
  type ActualRecord,
  type DesiredRecord,
  type Fields,
  type MemberFacts,
  type RecordId,
  RECORD_KINDS,
  type RecordKind,
} from './records.js';
import {
  countGrant,
  countMembership,
  emptyUsage,
  FEATURE_PURPOSE,
  organizationViolations,
  type OrganizationUsage,
  type Violation,
} from './invariants.js';

/** The version of the plan format (the JSON of `roster plan --format json` and saved plans). */
export const PLAN_FORMAT_VERSION = 1;

/** Who Roster is when it writes records from manifests. */
export const CLI_MANAGER = 'roster-cli';

/** The default share of an organization's members one plan may remove. */
export const DEFAULT_MAX_ORG_REMOVAL_RATIO = 0.25;

/** How a plan is made. */
export interface PlanOptions {
  /** The manager recorded on written records; records of other managers are never taken over. */
  readonly manager: string;
  /**
   * Also delete what the input does not declare in its organizations: records made outside
   * Roster, and a former owner kept as administrator.
   */
  readonly prune: boolean;
  /** Also delete organizations, plans and roles absent from the input (`--prune-all`). */
  readonly pruneAbsent?: boolean;
  /** Refuse a plan that deletes more records than this. */
  readonly maxRemovals?: number;
  /** Refuse a plan that removes more than this share of an organization's members (0..1). */
  readonly maxOrgRemovalRatio: number;
  /** "Now", recorded in the plan. */
  readonly now: Date;
  /** The organizations the snapshot covers (recorded so a saved plan re-reads the same ones). */
  readonly scope: readonly string[] | 'all';
}

/** The database as the planner needs it. */
export interface ActualState {
  readonly records: readonly ActualRecord[];
  /**
   * What each organization outside the snapshot's scope uses (counted by the database), so that
   * a change to a plan or a role is checked against every organization, not only the input's.
   */
  readonly usageOutsideScope?: ReadonlyMap<string, OutsideUsage>;
  /**
   * Records Roster wrote that are gone from the database without Roster deleting them (from the
   * audit log), by record key: a plan that creates them again reports drift, not a plain create.
   */
  readonly deletedOutside?: ReadonlyMap<string, { lastAppliedAt: string; by: string }>;
}

/** An organization outside the scope: its plan, its usage, and the custom roles it uses. */
export interface OutsideUsage {
  readonly plan: string | null;
  readonly usage: OrganizationUsage;
  readonly roles: readonly string[];
}

/** One field's change. */
export interface FieldChange {
  readonly name: string;
  readonly before: Fields[string] | null;
  readonly after: Fields[string] | null;
}

/** A change to one record. */
export interface PlannedChange {
  readonly action: 'create' | 'update' | 'delete';
  readonly id: RecordId;
  /** The organization the record belongs to (its own name for an organization). */
  readonly org: string | null;
  readonly before: Fields | null;
  readonly after: Fields | null;
  readonly fields: readonly FieldChange[];
  /** `adopt`: Roster starts managing a record made in the app; `release`: stops managing it. */
  readonly manage?: 'adopt' | 'release';
  /** True when the change undoes an edit made outside Roster. */
  readonly drift: boolean;
  readonly note?: string;
  /** Where the record is declared; resolved on first read (positions cost on large inputs). */
  readonly source?: SourceLocation;
  /** The file the record is declared in, without resolving a position. */
  readonly sourceFile?: string;
}

/** A record changed outside Roster since Roster last wrote it. */
export interface DriftItem {
  readonly id: RecordId;
  readonly org: string | null;
  /** For each drifted field: what Roster wrote, and what the database holds now. */
  readonly fields: readonly { name: string; applied: unknown; actual: unknown }[];
  /** Whether the plan puts the declared value back (false: the record is deleted instead). */
  readonly corrected: boolean;
  /** The record Roster wrote was deleted outside Roster (the plan creates it again). */
  readonly deleted?: { readonly lastAppliedAt: string; readonly by: string };
}

/** An invitation the apply will queue. */
export interface PlannedInvitation {
  readonly org: string;
  readonly user: string;
  readonly role: string;
  readonly subject: 'membership' | 'grant' | 'group';
  /** A grant's resource; a group's `group/NAME`. */
  readonly resource?: string;
  /**
   * `new`: a member or grant holder added; `role-changed`: the role of a pending invitation
   * changed (the old link is revoked); `resumed`: a membership created suspended, or suspended
   * before it was accepted, is resumed and had never joined.
   */
  readonly reason: 'new' | 'role-changed' | 'resumed';
}

/** Why a plan cannot be applied, and what to do about it. */
export interface Refusal {
  readonly code: string;
  readonly org: string | null;
  readonly message: string;
}

/** A plan. */
export interface Plan {
  readonly formatVersion: typeof PLAN_FORMAT_VERSION;
  readonly createdAt: string;
  readonly manager: string;
  /** The database's digest of the rows the plan was made against (`readBasis` in the store). */
  readonly basis: string;
  readonly options: {
    prune: boolean;
    /** Whether organizations, plans and roles absent from the input were pruned too. */
    pruneAbsent?: boolean;
    maxRemovals: number | null;
    maxOrgRemovalRatio: number;
    scope: readonly string[] | 'all';
  };
  /** In apply order. */
  readonly changes: readonly PlannedChange[];
  readonly drift: readonly DriftItem[];
  readonly invitations: readonly PlannedInvitation[];
  readonly refusals: readonly Refusal[];
  readonly summary: { readonly add: number; readonly change: number; readonly destroy: number };
  /** Memberships and grants in scope whose invitation is not accepted yet (before this plan). */
  readonly awaitingAcceptance: number;
  /**
   * Access in the input's organizations that Roster does not manage (made in the application or
   * by hand, and not declared): it grants access all the same. `--prune` removes it.
   */
  readonly unmanaged: readonly UnmanagedAccess[];
  /** The same, by kind. */
  readonly awaitingAcceptanceBy: { readonly memberships: number; readonly grants: number };
  /**
   * Invitations queued in the outbox and not sent yet (a fact of the database read by the command,
   * not planned): an apply that stopped after its commit leaves them, and `roster apply` or
   * `roster deliver` sends them.
   */
  readonly queuedInvitations?: number;
}

/** A membership or grant no manager owns. */
export interface UnmanagedAccess {
  readonly org: string;
  readonly kind: 'membership' | 'grant';
  readonly user: string;
  readonly role: string;
  readonly resource?: string;
  /** invited, active or suspended. */
  readonly status: string | null;
}

/** Invited members and grant holders who have not accepted, besides those the plan deletes. */
function awaitingAcceptance(
  actual: ActualState,
  deleted: ReadonlySet<string>,
): Pick<Plan, 'awaitingAcceptance' | 'awaitingAcceptanceBy'> {
  let memberships = 0;
  let grants = 0;
  for (const r of actual.records) {
    if (r.facts?.status !== 'invited') continue;
    if (deleted.size > 0 && deleted.has(recordKey(r.id))) continue;
    if (r.id.kind === 'grant') grants += 1;
    else memberships += 1;
  }
  return {
    awaitingAcceptance: memberships + grants,
    awaitingAcceptanceBy: { memberships, grants },
  };
}

/** The permission a delegate must hold (besides the owner): managing members. */
export const DELEGATE_PERMISSION = 'members.manage';
const DAY_MS = 86_400_000;

/** Parents before children: the order of `RECORD_KINDS`. */
const APPLY_ORDER: readonly RecordKind[] = RECORD_KINDS;

export { orgOf };

/**
 * Computes the plan of a whole input: records the input declares are created or updated; what it
 * does not declare is deleted as `PlanOptions.prune` and the scope say.
 */
export function planChanges(
  desired: readonly DesiredRecord[],
  actual: ActualState,
  options: PlanOptions,
): Plan {
  return computePlan(desired, actual, options, undefined);
}

/**
 * Computes the plan of single records, for drivers that own records one by one (the Pulumi
 * provider, the operator): `desired` is created or updated, `removals` deleted, `releases` left in
 * place but no longer managed, nothing else touched. The same rules apply (owners, seats, removal
 * caps, other managers' records).
 */
export function planRecordChanges(
  desired: readonly DesiredRecord[],
  removals: readonly RecordId[],
  actual: ActualState,
  options: PlanOptions,
  releases: readonly RecordId[] = [],
): Plan {
  return computePlan(
    desired,
    actual,
    options,
    new Set(removals.map(recordKey)),
    new Set(releases.map(recordKey)),
  );
}

function computePlan(
  desired: readonly DesiredRecord[],
  actual: ActualState,
  options: PlanOptions,
  listedRemovals: ReadonlySet<string> | undefined,
  listedReleases: ReadonlySet<string> = new Set(),
): Plan {
  const { manager } = options;
  // Plain loops rather than `new Map(list.map(...))`: no million short-lived pairs to collect.
  const desiredKeys = new Set<string>();
  for (const r of desired) desiredKeys.add(recordKey(r.id));
  const actualByKey = new Map<string, ActualRecord>();
  for (const r of actual.records) actualByKey.set(recordKey(r.id), r);
  const inputOrgs = new Set(
    desired.flatMap((r) => (r.id.kind === 'organization' ? [r.id.name] : [])),
  );
  const desiredOwner = new Map(
    desired.flatMap((r) =>
      r.id.kind === 'membership' && r.fields.role === OWNER_ROLE ? [[r.id.org, r.id.user]] : [],
    ) as [string, string][],
  );

  const changes: PlannedChange[] = [];
  const drift: DriftItem[] = [];
  const unmanagedAccess: UnmanagedAccess[] = [];
  const refusals: Refusal[] = [];
  const refuse = (code: string, org: string | null, message: string) =>
    refusals.push({ code, org, message });

  const driftOf = (record: ActualRecord) => {
    if (record.managedBy !== manager || record.lastApplied === null) return [];
    return changedFields(record.lastApplied, record.fields).map((name) => ({
      name,
      applied: record.lastApplied?.[name] ?? null,
      actual: record.fields[name] ?? null,
    }));
  };

  // Declared records: create, update, adopt.
  for (const record of desired) {
    const key = recordKey(record.id);
    const existing = actualByKey.get(key);
    const org = orgOf(record.id);
    if (existing === undefined) {
      const deleted = actual.deletedOutside?.get(key);
      if (deleted !== undefined) {
        drift.push({ id: record.id, org, fields: [], corrected: true, deleted });
      }
      changes.push({
        action: 'create',
        id: record.id,
        org,
        before: null,
        after: record.fields,
        fields: fieldChanges({}, record.fields),
        drift: deleted !== undefined,
        ...(deleted !== undefined && {
          note: `deleted outside Roster after ${deleted.by} applied it at ${deleted.lastAppliedAt}; created again`,
        }),
      });
      withSource(changes[changes.length - 1], record);
      continue;
    }
    if (existing.managedBy !== null && existing.managedBy !== manager) {
      refuse(
        'managed-elsewhere',
        org,
        `${describeRecord(record.id)}${org !== null && record.id.kind !== 'organization' ? ` in ${org}` : ''} is managed by ${existing.managedBy}; Roster will not take it over. Remove it there first, or stop declaring it here`,
      );
      continue;
    }
    const changed = changedFields(existing.fields, record.fields);
    const drifted = driftOf(existing);
    if (drifted.length > 0) {
      drift.push({ id: record.id, org, fields: drifted, corrected: changed.length > 0 });
    }
    const adopt = existing.managedBy === null;
    if (changed.length === 0 && !adopt) continue;
    const transfer =
      record.id.kind === 'membership' &&
      record.fields.role === OWNER_ROLE &&
      existing.fields.role !== OWNER_ROLE;
    changes.push({
      action: 'update',
      id: record.id,
      org,
      before: existing.fields,
      after: record.fields,
      fields: fieldChanges(existing.fields, record.fields),
      drift: drifted.length > 0 && changed.length > 0,
      ...(adopt && { manage: 'adopt' as const }),
      ...(transfer && { note: 'ownership transfer: becomes the owner' }),
    });
    withSource(changes[changes.length - 1], record);
  }

  // Records in the database the input does not declare.
  for (const record of actual.records) {
    const key = recordKey(record.id);
    if (desiredKeys.has(key)) continue;
    const org = orgOf(record.id);
    const orgInInput = org !== null && inputOrgs.has(org);
    const ownedByUs = record.managedBy === manager;
    const unmanaged = record.managedBy === null;
    const topLevel = org === null;
    if (listedReleases.has(key)) {
      if (ownedByUs) {
        changes.push({
          action: 'update',
          id: record.id,
          org,
          before: record.fields,
          after: record.fields,
          fields: [],
          manage: 'release',
          drift: false,
          note: 'released: stays in the database, no longer managed by Roster',
        });
      }
      continue;
    }
    let remove: boolean;
    if (listedRemovals !== undefined) {
      remove = listedRemovals.has(key);
      if (remove && !ownedByUs && !unmanaged) {
        refuse(
          'managed-elsewhere',
          org,
          `${describeRecord(record.id)} is managed by ${record.managedBy}; Roster will not delete it from here`,
        );
        continue;
      }
    } else if (topLevel || !orgInInput) {
      remove = options.pruneAbsent === true && (ownedByUs || unmanaged);
    } else {
      remove = ownedByUs || (options.prune && unmanaged);
    }

    const formerOwner =
      record.id.kind === 'membership' &&
      record.fields.role === OWNER_ROLE &&
      org !== null &&
      desiredOwner.has(org);
    if (formerOwner && !options.prune) {
      // DESIGN: on a transfer the previous owner stays, as an administrator Roster no longer manages.
      const after = { ...record.fields, role: 'administrator' };
      changes.push({
        action: 'update',
        id: record.id,
        org,
        before: record.fields,
        after,
        fields: fieldChanges(record.fields, after),
        manage: 'release',
        drift: false,
        note: `ownership transfer: the previous owner stays as administrator, no longer managed by Roster (declare a Membership to manage it, or use --prune to remove it); new owner ${desiredOwner.get(org ?? '') ?? '?'}`,
      });
      continue;
    }
    if (!remove) {
      if (
        unmanaged &&
        orgInInput &&
        (record.id.kind === 'membership' || record.id.kind === 'grant')
      ) {
        unmanagedAccess.push({
          org: org ?? '',
          kind: record.id.kind,
          user: record.id.user,
          role: String(record.fields.role),
          ...(record.id.kind === 'grant' && { resource: record.id.resource }),
          status: record.facts?.status ?? null,
        });
      }
      continue;
    }
    const drifted = driftOf(record);
    if (drifted.length > 0) drift.push({ id: record.id, org, fields: drifted, corrected: false });
    changes.push({
      action: 'delete',
      id: record.id,
      org,
      before: record.fields,
      after: null,
      fields: fieldChanges(record.fields, {}),
      drift: false,
    });
  }

  changes.sort(compareChanges);
  checkResultingState(actual, changes, options, refuse);

  const invitations = plannedInvitations(changes, actual);
  const deleted = new Set(changes.filter((c) => c.action === 'delete').map((c) => recordKey(c.id)));
  let add = 0;
  let change = 0;
  let destroy = 0;
  for (const c of changes) {
    if (c.action === 'create') add++;
    else if (c.action === 'update') change++;
    else destroy++;
  }
  return {
    formatVersion: PLAN_FORMAT_VERSION,
    createdAt: options.now.toISOString(),
    manager,
    // Filled in by the store, which digests the database's rows (`readBasis`): a pure plan has
    // no database to digest.
    basis: '',
    options: {
      prune: options.prune,
      pruneAbsent: options.pruneAbsent === true,
      maxRemovals: options.maxRemovals ?? null,
      maxOrgRemovalRatio: options.maxOrgRemovalRatio,
      scope: options.scope,
    },
    changes,
    drift,
    invitations,
    refusals,
    unmanaged: sortByKey(
      unmanagedAccess,
      (u) => `${u.org}\u0000${u.kind}\u0000${u.user}\u0000${u.resource ?? ''}`,
    ),
    summary: { add, change, destroy },
    ...awaitingAcceptance(actual, deleted),
  };
}

/** Gives a change the place its record is declared: the file now, the line and column lazily. */
function withSource(change: PlannedChange | undefined, record: DesiredRecord): void {
  const ref = record.source;
  if (change === undefined || ref === undefined) return;
  let location: SourceLocation | undefined;
  Object.defineProperty(change, 'sourceFile', { value: ref.document.file, enumerable: false });
  Object.defineProperty(change, 'source', {
    enumerable: true,
    get: () => (location ??= locate(ref, record.sourceField)),
  });
}

function fieldChanges(before: Fields, after: Fields): FieldChange[] {
  return changedFields(before, after).map((name) => ({
    name,
    before: before[name] ?? null,
    after: after[name] ?? null,
  }));
}

/** Creates and updates parents first; deletes children first. */
function compareChanges(a: PlannedChange, b: PlannedChange): number {
  const rank = (c: PlannedChange) => {
    const kind = APPLY_ORDER.indexOf(c.id.kind);
    return c.action === 'delete' ? 100 - kind : kind;
  };
  // Code-point order: stable across machines' locales, and ICU collation of a million keys
  // costs over a second.
  const ka = recordKey(a.id);
  const kb = recordKey(b.id);
  return rank(a) - rank(b) || (ka < kb ? -1 : ka > kb ? 1 : 0);
}

/** The rules a plan must keep, checked on the state the apply would leave. */
function checkResultingState(
  actual: ActualState,
  changes: readonly PlannedChange[],
  options: PlanOptions,
  refuse: (code: string, org: string | null, message: string) => void,
): void {
  if (changes.length === 0) return;
  // Only organizations a change touches can break a rule because of this plan: those with a
  // changed record, and those whose plan, or a role they use, changes (in or out of the input).
  // Every organization is read only when a plan or a role is deleted (is it still in use?).
  const changedPlans = new Set(changes.flatMap((c) => (c.id.kind === 'plan' ? [c.id.name] : [])));
  const changedRoles = new Set(changes.flatMap((c) => (c.id.kind === 'role' ? [c.id.name] : [])));
  const touched = new Set(changes.map((c) => c.org).filter((o): o is string => o !== null));
  const everything = changes.some(
    (c) => c.action === 'delete' && (c.id.kind === 'plan' || c.id.kind === 'role'),
  );
  const usesChanged = (plan: unknown, roles: readonly unknown[]) =>
    changedPlans.has(String(plan ?? '')) || roles.some((r) => changedRoles.has(String(r)));
  if (changedPlans.size > 0 || changedRoles.size > 0) {
    for (const r of actual.records) {
      const org = orgOf(r.id);
      if (org === null || touched.has(org)) continue;
      if (
        (r.id.kind === 'organization' && usesChanged(r.fields.plan, [])) ||
        ((r.id.kind === 'membership' || r.id.kind === 'grant') &&
          usesChanged(null, [r.fields.role]))
      ) {
        touched.add(org);
      }
    }
    // Organizations outside the snapshot's scope, counted by the database: their organization
    // records are in the snapshot (read whole), their members and grants are not.
    for (const [org, outside] of actual.usageOutsideScope ?? []) {
      if (usesChanged(outside.plan, outside.roles)) touched.add(org);
    }
  }
  const relevant = everything
    ? actual.records
    : actual.records.filter((r) => {
        const org = orgOf(r.id);
        return org === null || touched.has(org);
      });
  const result = new Map<string, Fields>();
  const ids = new Map<string, RecordId>();
  for (const r of relevant) {
    const key = recordKey(r.id);
    result.set(key, r.fields);
    ids.set(key, r.id);
  }
  for (const c of changes) {
    const key = recordKey(c.id);
    if (c.after === null) result.delete(key);
    else {
      result.set(key, c.after);
      ids.set(key, c.id);
    }
  }

  interface OrgTally {
    readonly usage: OrganizationUsage;
    plan: string | null;
    exists: boolean;
  }
  const orgs = new Map<string, OrgTally>();
  const tally = (org: string) => {
    let t = orgs.get(org);
    if (t === undefined) {
      t = { usage: emptyUsage(), plan: null, exists: false };
      orgs.set(org, t);
    }
    return t;
  };
  const plans = new Map<string, Fields>();
  const roles = new Map<string, Fields>();
  const groupUsage = new Map<string, GroupFields[]>();
  /** `org\0user` of every membership (the owner's included) of the resulting state. */
  const seated = new Set<string>();
  /** Per role, the organizations whose memberships or grants use it. */
  const roleUsers = new Map<string, Set<string>>();
  const useRole = (role: string, org: string) => {
    let users = roleUsers.get(role);
    if (users === undefined) roleUsers.set(role, (users = new Set()));
    users.add(org);
  };
  for (const [key, fields] of result) {
    const id = ids.get(key);
    if (id === undefined) continue;
    if (id.kind === 'plan') plans.set(id.name ?? '', fields);
    else if (id.kind === 'role') roles.set(id.name ?? '', fields);
    else if (id.kind === 'organization') {
      const t = tally(id.name ?? '');
      t.exists = true;
      t.plan = (fields.plan as string | null) ?? null;
    } else if (id.kind === 'resource') tally(id.org ?? '').usage.resources++;
    else if (id.kind === 'membership') {
      const role = String(fields.role);
      countMembership(tally(id.org ?? '').usage, role, String(fields.seat));
      useRole(role, id.org ?? '');
    } else if (id.kind === 'grant') {
      const role = String(fields.role);
      countGrant(tally(id.org ?? '').usage, role);
      useRole(role, id.org ?? '');
    } else if (id.kind === 'delegation') {
      tally(id.org ?? '').usage.features.delegation += 1;
    } else if (id.kind === 'group') {
      const group = groupUsage.get(id.org ?? '') ?? [];
      group.push(fields as GroupFields);
      groupUsage.set(id.org ?? '', group);
    }
    if (id.kind === 'membership') seated.add(`${id.org}\u0000${id.user}`);
  }
  // Groups: their roles and grants count as uses; their people take a paid seat once, unless
  // they hold one already (the owner, a membership).
  for (const [org, groups] of groupUsage) {
    const usage = tally(org).usage;
    for (const g of groups) {
      if (g.members.length > 0) usage.features.members += 1;
      if (g.role !== null) {
        useRole(g.role, org);
        if (!BUILT_IN_ROLES.has(g.role)) usage.features.customRoles += 1;
      }
      for (const grant of g.grants.map(parseGroupGrant)) {
        countGrant(usage, grant.role);
        useRole(grant.role, org);
      }
      for (const person of g.members) {
        if (seated.has(`${org}\u0000${person}`)) continue;
        seated.add(`${org}\u0000${person}`);
        usage.paid += 1;
      }
    }
  }
  for (const [org, outside] of actual.usageOutsideScope ?? []) {
    if (!touched.has(org)) continue;
    addUsage(tally(org).usage, outside.usage);
    for (const role of outside.roles) useRole(role, org);
  }

  for (const [org, t] of orgs) {
    const { usage } = t;
    if (
      !t.exists &&
      touched.has(org) &&
      usage.owners + usage.paid + usage.free + usage.resources > 0
    ) {
      refuse(
        'org-not-empty',
        org,
        `organization "${org}" cannot be deleted while it still has members or resources that this change does not remove`,
      );
    }
    if (!t.exists || !touched.has(org)) continue;
    const planFields = t.plan === null ? undefined : plans.get(t.plan);
    const violations = organizationViolations(
      usage,
      planFields === undefined || t.plan === null
        ? undefined
        : planLimits(t.plan, planFields as PlanFields),
      { hasPlan: t.plan !== null, checkOwners: true },
    );
    for (const v of violations) refuseViolation(refuse, org, t.plan, v);
  }

  // What changes must refer to what exists: a plan, a role of the right scope, a resource. The
  // input was validated; this holds for every driver and for a saved plan applied later.
  const resources = new Set<string>();
  for (const [key, id] of ids) {
    if (id.kind === 'resource' && result.has(key)) resources.add(`${id.org}/${id.type}/${id.name}`);
  }
  for (const c of changes) {
    if (c.after === null) continue;
    if (c.id.kind === 'organization' && c.after.plan !== null && !plans.has(String(c.after.plan))) {
      refuse(
        'unknown-plan',
        c.org,
        `organization "${c.id.name}" names plan "${String(c.after.plan)}", which does not exist`,
      );
    }
    if (c.id.kind === 'group') {
      const g = c.after as GroupFields;
      const uses = [
        ...(g.role === null ? [] : [{ role: g.role, wanted: 'organization', resource: null }]),
        ...g.grants.map(parseGroupGrant).map((x) => ({ ...x, wanted: 'resource' })),
      ];
      for (const use of uses) {
        const scope = BUILT_IN_ROLES.get(use.role)?.scope ?? roles.get(use.role)?.scope;
        const owner = roles.get(use.role)?.org;
        if (scope === undefined || use.role === OWNER_ROLE) {
          refuse(
            'unknown-role',
            c.org,
            `${describeRecord(c.id)} names role "${use.role}", which does not exist`,
          );
        } else if (scope !== use.wanted) {
          refuse(
            'role-scope',
            c.org,
            `${describeRecord(c.id)} needs an ${use.wanted} role, and "${use.role}" is a ${String(scope)} role`,
          );
        } else if (typeof owner === 'string' && owner !== c.id.org) {
          refuse(
            'role-organization',
            c.org,
            `${describeRecord(c.id)} names role "${use.role}", which belongs to organization "${owner}"`,
          );
        }
        if (use.resource !== null && !resources.has(`${c.id.org}/${use.resource}`)) {
          refuse(
            'unknown-resource',
            c.org,
            `${describeRecord(c.id)} grants resource ${use.resource}, which organization "${c.id.org}" does not have`,
          );
        }
      }
      continue;
    }
    if (c.id.kind !== 'membership' && c.id.kind !== 'grant') continue;
    const role = String(c.after.role);
    const wanted = c.id.kind === 'membership' ? 'organization' : 'resource';
    const scope = BUILT_IN_ROLES.get(role)?.scope ?? roles.get(role)?.scope;
    if (scope === undefined) {
      refuse(
        'unknown-role',
        c.org,
        `${describeRecord(c.id)} names role "${role}", which does not exist`,
      );
    } else if (scope !== wanted) {
      refuse(
        'role-scope',
        c.org,
        `${describeRecord(c.id)} needs an ${wanted} role, and "${role}" is a ${String(scope)} role`,
      );
    }
    const owner = roles.get(role)?.org;
    if (typeof owner === 'string' && owner !== c.id.org) {
      refuse(
        'role-organization',
        c.org,
        `${describeRecord(c.id)} names role "${role}", which belongs to organization "${owner}"`,
      );
    }
    if (c.id.kind === 'grant' && !resources.has(`${c.id.org}/${c.id.resource}`)) {
      refuse(
        'unknown-resource',
        c.org,
        `${describeRecord(c.id)} is on resource ${c.id.resource}, which organization "${c.id.org}" does not have`,
      );
    }
  }

  // A role may not change scope while memberships or grants use it, nor move to one
  // organization while others use it.
  for (const c of changes) {
    if (c.action !== 'update' || c.id.kind !== 'role') continue;
    const org = c.after?.org;
    const elsewhere = [...(roleUsers.get(c.id.name ?? '') ?? [])].filter((o) => o !== org).sort();
    if (typeof org === 'string' && elsewhere.length > 0) {
      refuse(
        'role-in-use',
        null,
        `role "${c.id.name}" cannot become a role of organization "${org}" while ${elsewhere.slice(0, 5).join(', ')}${elsewhere.length > 5 ? `, … (${elsewhere.length} in all)` : ''} use it`,
      );
    }
    const scope = c.fields.find((f) => f.name === 'scope');
    const users = [...(roleUsers.get(c.id.name ?? '') ?? [])].sort();
    if (scope !== undefined && users.length > 0) {
      refuse(
        'role-in-use',
        null,
        `role "${c.id.name}" cannot change its scope from ${String(scope.before)} to ${String(scope.after)} while ${users.length === 1 ? 'organization' : 'organizations'} ${users.slice(0, 5).join(', ')}${users.length > 5 ? `, … (${users.length} in all)` : ''} use it: declare a new role and move them to it`,
      );
    }
  }

  // A delegation: its delegate manages members there, it is for a member, and it lapses within
  // the plan's bound. Checked on the resulting state, so that removing the delegate's role (or
  // the member) in the same plan is caught, whatever the driver.
  const delegated = changes.filter(
    (c): c is PlannedChange & { id: DelegationId } =>
      c.id.kind === 'delegation' && c.after !== null,
  );
  if (delegated.length > 0) {
    const roleOf = new Map<string, string>();
    for (const [key, id] of ids) {
      if (id.kind === 'membership') {
        roleOf.set(`${id.org}\u0000${id.user}`, String(result.get(key)?.role));
      }
    }
    for (const c of delegated) {
      const d = c.after as DelegationFields;
      const org = c.id.org;
      const role = roleOf.get(`${org}\u0000${d.delegate}`);
      const permissions =
        role === undefined
          ? []
          : (BUILT_IN_ROLES.get(role)?.permissions ??
            (roles.get(role)?.permissions as readonly string[] | undefined) ??
            []);
      if (role !== OWNER_ROLE && !permissions.includes(DELEGATE_PERMISSION)) {
        refuse(
          'delegate-not-administrator',
          org,
          `${describeRecord(c.id)}: ${d.delegate} ${role === undefined ? 'is not a member' : `is ${role}`} of "${org}"; a delegate must be its owner or hold ${DELEGATE_PERMISSION} (administrator)`,
        );
      }
      if (d.onBehalfOf !== EVERY_MEMBER) {
        const member = roleOf.get(`${org}\u0000${d.onBehalfOf}`);
        if (member === undefined || member === OWNER_ROLE) {
          refuse(
            'delegation-member',
            org,
            `${describeRecord(c.id)} is on behalf of ${d.onBehalfOf}, ${member === undefined ? 'not a member' : 'the owner'} of "${org}"`,
          );
        }
      }
      const planName = orgs.get(org)?.plan ?? null;
      const maxDays =
        (planName === null
          ? undefined
          : (plans.get(planName)?.maxDelegationDays as number | null)) ??
        DEFAULT_MAX_DELEGATION_DAYS;
      const ends = Date.parse(d.expires);
      const from = Math.max(options.now.getTime(), d.starts === null ? 0 : Date.parse(d.starts));
      if (ends <= options.now.getTime()) {
        refuse('delegation-expired', org, `${describeRecord(c.id)} expired at ${d.expires}`);
      } else if (ends - from > maxDays * DAY_MS) {
        refuse(
          'delegation-too-long',
          org,
          `${describeRecord(c.id)} lasts until ${d.expires}, more than the ${maxDays} days plan "${planName ?? '(none)'}" allows`,
        );
      }
    }
  }

  // An address is one person: it may not become an alias while it has access of its own (the
  // database refuses it too). Merging is explicit: remove that access, in this plan or before.
  const aliasOf = new Map<string, string>();
  for (const c of changes) {
    if (c.id.kind !== 'user' || c.after === null) continue;
    for (const alias of c.after.aliases as readonly string[]) aliasOf.set(alias, c.id.email);
  }
  if (aliasOf.size > 0) {
    const removed = new Set(
      changes.filter((c) => c.action === 'delete').map((c) => recordKey(c.id)),
    );
    const access = [...actual.records.map((r) => r.id), ...changes.map((c) => c.id)];
    const reported = new Set<string>();
    for (const id of access) {
      if (id.kind !== 'membership' && id.kind !== 'grant') continue;
      const primary = aliasOf.get(id.user);
      if (primary === undefined || removed.has(recordKey(id)) || reported.has(id.user)) continue;
      reported.add(id.user);
      refuse(
        'alias-taken',
        id.org,
        `${id.user} cannot become an alias of ${primary}: it is a user of its own with the ${describeRecord(id)} in ${id.org}. Remove that address's access (or declare it under ${primary}), or stop declaring the alias`,
      );
    }
  }

  // Nothing still in use may be deleted.
  const rolesInUse = new Set(roleUsers.keys());
  for (const c of changes) {
    if (c.action !== 'delete') continue;
    if (c.id.kind === 'plan') {
      const plan = c.id.name;
      const users = [...orgs].filter(([, t]) => t.exists && t.plan === plan).map(([o]) => o);
      if (users.length > 0) {
        refuse(
          'plan-in-use',
          null,
          `plan "${c.id.name}" cannot be deleted: organizations ${users.slice(0, 5).join(', ')}${users.length > 5 ? ', …' : ''} use it`,
        );
      }
    }
    if (c.id.kind === 'role' && rolesInUse.has(c.id.name ?? '')) {
      refuse(
        'role-in-use',
        null,
        `role "${c.id.name}" cannot be deleted: members or grants still use it`,
      );
    }
  }

  // Removal caps.
  const deletions = changes.filter((c) => c.action === 'delete');
  if (options.maxRemovals !== undefined && deletions.length > options.maxRemovals) {
    refuse(
      'too-many-removals',
      null,
      `the plan deletes ${deletions.length} records, more than --max-removals ${options.maxRemovals}: check the input is complete, or raise --max-removals on purpose`,
    );
  }
  const membersBefore = new Map<string, number>();
  for (const r of relevant) {
    if (r.id.kind === 'membership') {
      membersBefore.set(r.id.org ?? '', (membersBefore.get(r.id.org ?? '') ?? 0) + 1);
    }
  }
  const membersRemoved = new Map<string, number>();
  for (const c of deletions) {
    if (c.id.kind === 'membership') {
      membersRemoved.set(c.org ?? '', (membersRemoved.get(c.org ?? '') ?? 0) + 1);
    }
  }
  // People in groups only are members too: one who leaves the last group is removed.
  if (changes.some((c) => c.id.kind === 'group')) {
    const before = groupOnlyPeople(relevant.map((r) => [r.id, r.fields] as const));
    const after = groupOnlyPeople(
      [...result].flatMap(([key, fields]) => {
        const id = ids.get(key);
        return id === undefined ? [] : [[id, fields] as const];
      }),
    );
    for (const [org, people] of before) {
      membersBefore.set(org, (membersBefore.get(org) ?? 0) + people.size);
      const left = [...people].filter((p) => !(after.get(org)?.has(p) ?? false)).length;
      if (left > 0) membersRemoved.set(org, (membersRemoved.get(org) ?? 0) + left);
    }
  }
  for (const [org, removed] of membersRemoved) {
    const before = membersBefore.get(org) ?? removed;
    const allowed = Math.max(1, Math.floor(before * options.maxOrgRemovalRatio));
    if (removed > allowed && removed / before > options.maxOrgRemovalRatio) {
      refuse(
        'removal-ratio',
        org,
        `the plan removes ${removed} of the ${before} members of "${org}" (${Math.round((removed / before) * 100)} %), more than the ${Math.round(options.maxOrgRemovalRatio * 100)} % allowed: check the input, or pass --max-org-removal-ratio ${Math.min(1, Math.ceil((removed / before) * 100) / 100)} on purpose`,
      );
    }
  }
}

/**
 * Per organization, the people in one of its groups who have no membership there (every one
 * where a membership would be: a seat, an invitation, a removal when they leave).
 */
function groupOnlyPeople(records: Iterable<readonly [RecordId, Fields]>): Map<string, Set<string>> {
  const members = new Set<string>();
  const people = new Map<string, Set<string>>();
  const grouped: [string, readonly string[]][] = [];
  for (const [id, fields] of records) {
    if (id.kind === 'membership') members.add(`${id.org}\u0000${id.user}`);
    if (id.kind === 'group') grouped.push([id.org, (fields as GroupFields).members]);
  }
  for (const [org, persons] of grouped) {
    for (const person of persons) {
      if (members.has(`${org}\u0000${person}`)) continue;
      let set = people.get(org);
      if (set === undefined) people.set(org, (set = new Set()));
      set.add(person);
    }
  }
  return people;
}

/**
 * Joining a group invites someone who is not a member of its organization yet, once per
 * organization whatever the number of groups (to the first group, by name); a member already
 * invited or active is not invited again, nor someone already in another of its groups.
 */
function groupInvitations(
  changes: readonly PlannedChange[],
  actual: ActualState,
): PlannedInvitation[] {
  const joined = changes
    .filter((c): c is PlannedChange & { id: GroupId } => c.id.kind === 'group' && c.after !== null)
    .sort((a, b) => (a.id.name < b.id.name ? -1 : a.id.name > b.id.name ? 1 : 0));
  if (joined.length === 0) return [];
  const orgs = new Set(joined.map((c) => c.id.org));
  const inOrgs = actual.records.filter((r) => orgs.has(orgOf(r.id) ?? ''));
  const before = groupOnlyPeople(inOrgs.map((r) => [r.id, r.fields] as const));
  const members = new Set<string>();
  for (const r of inOrgs) {
    if (r.id.kind === 'membership') members.add(`${r.id.org}\u0000${r.id.user}`);
  }
  for (const c of changes) {
    if (c.id.kind === 'membership') members.add(`${c.id.org}\u0000${c.id.user}`);
  }
  const invited = new Set<string>();
  const invitations: PlannedInvitation[] = [];
  for (const c of joined) {
    const { org, name } = c.id;
    const group = c.after as GroupFields;
    for (const user of group.members) {
      const key = `${org}\u0000${user}`;
      if (members.has(key) || invited.has(key) || before.get(org)?.has(user) === true) continue;
      invited.add(key);
      const role = group.role ?? 'member';
      invitations.push({
        org,
        user,
        role,
        subject: 'group',
        resource: `group/${name}`,
        reason: 'new',
      });
    }
  }
  return invitations;
}

function plannedInvitations(
  changes: readonly PlannedChange[],
  actual: ActualState,
): PlannedInvitation[] {
  const invitations = groupInvitations(changes, actual);
  // Only the organizations of changed memberships and grants matter.
  const orgs = new Set(
    changes.flatMap((c) =>
      (c.id.kind === 'membership' || c.id.kind === 'grant') && c.after !== null ? [c.id.org] : [],
    ),
  );
  if (orgs.size === 0) return invitations;
  const active = new Set<string>();
  const facts = new Map<string, MemberFacts | undefined>();
  for (const r of actual.records) {
    if ((r.id.kind !== 'membership' && r.id.kind !== 'grant') || !orgs.has(r.id.org ?? '')) {
      continue;
    }
    if (r.facts?.status === 'active') active.add(`${r.id.org}\u0000${r.id.user}`);
    if (r.id.kind === 'membership') facts.set(recordKey(r.id), r.facts);
  }
  for (const c of changes) {
    if ((c.id.kind !== 'membership' && c.id.kind !== 'grant') || c.after === null) continue;
    const org = c.id.org;
    const user = c.id.user;
    if (active.has(`${org}\u0000${user}`) || c.after.suspended === true) continue;
    const role = String(c.after.role);
    const subject = c.id.kind;
    const resource = c.id.kind === 'grant' ? { resource: c.id.resource } : {};
    if (c.action === 'create') {
      invitations.push({ org, user, role, subject, ...resource, reason: 'new' });
    } else if (c.id.kind === 'membership') {
      const before = facts.get(recordKey(c.id));
      if (before?.status === 'invited' && c.fields.some((f) => f.name === 'role')) {
        invitations.push({ org, user, role, subject, reason: 'role-changed' });
      } else if (
        before?.status === 'suspended' &&
        before.joinedAt === null &&
        c.fields.some((f) => f.name === 'suspended')
      ) {
        invitations.push({ org, user, role, subject, reason: 'resumed' });
      }
    }
  }
  return invitations;
}

/** `items` sorted by code point of `key` (stable across machines, unlike locale collation). */
function sortByKey<T>(items: T[], key: (item: T) => string): T[] {
  return items.sort((a, b) => {
    const x = key(a);
    const y = key(b);
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

/** Adds `more` to `usage`. */
function addUsage(usage: OrganizationUsage, more: OrganizationUsage): void {
  usage.paid += more.paid;
  usage.free += more.free;
  usage.owners += more.owners;
  usage.resources += more.resources;
  for (const feature of Object.keys(more.features) as (keyof typeof more.features)[]) {
    usage.features[feature] += more.features[feature];
  }
}

/** A broken invariant as a refusal: what the apply would leave, and what to do. */
function refuseViolation(
  refuse: (code: string, org: string | null, message: string) => void,
  org: string,
  plan: string | null,
  v: Violation,
): void {
  switch (v.code) {
    case 'owners':
      refuse(
        v.owners === 0 ? 'last-owner' : 'owners',
        org,
        v.owners === 0
          ? `the plan would leave organization "${org}" without an owner: set spec.owner (the owner is never removed, only transferred)`
          : `the plan would leave organization "${org}" with ${v.owners} owners: exactly one is allowed`,
      );
      return;
    case 'resources-need-plan':
      refuse(
        v.code,
        org,
        `organization "${org}" would have ${v.count} resources and no plan: set spec.plan`,
      );
      return;
    case 'seats-exceeded':
      refuse(
        v.code,
        org,
        `organization "${org}" would use ${v.used} ${v.seat} seats and plan "${plan}" has ${v.limit} (members the input does not declare but Roster keeps count too): raise the plan's seats, or remove members`,
      );
      return;
    case 'resource-limit':
      refuse(
        v.code,
        org,
        `organization "${org}" would have ${v.used} resources and plan "${plan}" allows ${v.limit}`,
      );
      return;
    case 'feature-missing':
      refuse(
        v.code,
        org,
        plan === null
          ? `organization "${org}" has no plan, and ${FEATURE_PURPOSE[v.feature]} needs a plan with the ${v.feature} feature (${v.count} record${v.count === 1 ? '' : 's'} need it): set spec.plan`
          : `organization "${org}" would be on plan "${plan}" without the ${v.feature} feature, which ${FEATURE_PURPOSE[v.feature]} needs (${v.count} record${v.count === 1 ? '' : 's'} need it): keep the feature in the plan, or remove what needs it first`,
      );
      return;
  }
}
