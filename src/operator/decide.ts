/**
 * The operator's decisions, as pure functions: given what a reconcile observed (the resources
 * filed under an organization, the namespace's Plans and Roles, and the database's records of
 * that organization), what records are desired, which of the operator's records go, which are
 * released to nobody, and what each resource's status says. `reconcile.ts` observes, acts on a
 * decision and reports it; nothing here reads or writes anything.
 */
import type { LeastPrivilegePolicy } from '../core/least-privilege.js';
import { checkDocument, declaredName, type CheckedDocument } from '../core/check-document.js';
import { personByAlias, resolvePerson } from '../core/aliases.js';
import { buildDesiredState } from '../core/desired-state.js';
import { emailIdentity } from '../core/email.js';
import { uniqueName } from '../core/export.js';
import type { Finding } from '../core/findings.js';
import { isKind, KIND_TABLE, kindOfDocument } from '../core/kinds/index.js';
import { inMemoryDocument } from '../core/parse.js';
import type { ActualState, Plan } from '../core/plan.js';
import {
  desiredRecords,
  orgOf,
  recordKey,
  type DesiredRecord,
  type RecordId,
} from '../core/records.js';
import { checkRules } from '../core/rules.js';
import type { Kind } from '../core/schema/index.js';
import {
  deletionPolicyOf,
  describeObject,
  documentOf,
  isDeleting,
  isPaused,
  type RosterObject,
} from './resources.js';
import type { ConditionReason, Outcome } from './status.js';

/** A resource a reconcile handles, with the name its findings use for it. */
export interface Entry {
  readonly kind: Kind;
  readonly object: RosterObject;
  /** `Membership team-a/bob`: the "file" of its in-memory document. */
  readonly file: string;
}

/** An entry of a resource. */
export function entryOf(kind: Kind, object: RosterObject): Entry {
  return { kind, object, file: describeObject(kind, object) };
}

/** What a reconcile of one organization observed. */
export interface OrganizationObservation {
  readonly org: string;
  readonly namespace: string;
  /** `operator:<cluster>/<namespace>`. */
  readonly manager: string;
  /** The Organization and everything naming it in the namespace. */
  readonly entries: readonly Entry[];
  /** The namespace's Plans and Roles, which references may name. */
  readonly catalog: readonly Entry[];
  /** The database's records of the organization, and every plan and role. */
  readonly snapshot: ActualState;
  readonly now: Date;
  /** The least-privilege rules (Roster's own unless `--lint-rules` says otherwise). */
  readonly leastPrivilege?: LeastPrivilegePolicy;
}

/** What to do about one organization, and what each of its resources will say. */
export interface OrganizationDecision {
  /** Records the resources declare (valid ones, of a usable organization). */
  readonly desired: readonly DesiredRecord[];
  /** Records this operator wrote that nothing declares any more. */
  readonly removals: readonly RecordId[];
  /** Records of orphaned resources: kept, but managed by nobody. */
  readonly releases: readonly RecordId[];
  /** Deleting the Organization with policy Delete: its whole tenant may go. */
  readonly organizationRemoved: boolean;
  /** Resources being deleted whose finalizer comes off once the apply succeeded. */
  readonly finished: readonly Entry[];
  /** Each live resource's status after a successful apply, by entry file. */
  readonly outcomes: ReadonlyMap<string, Outcome>;
  /** Invalid resources: the error the reconcile ends with (after applying the valid ones). */
  readonly failure?: { readonly waiting: boolean; readonly message: string };
}

/** Messages of findings, one per resource, paths included. */
export function describeFindings(findings: readonly Finding[]): string {
  return findings
    .map((f) => {
      const path = f.location?.path ?? [];
      return `${path.length > 0 ? `${path.join('.')}: ` : ''}${f.message}`;
    })
    .join('; ');
}

export const PAUSED_MESSAGE = `Reconciling is paused by the annotation roster.dev/paused="true"`;

/** Findings about a reference to something that may yet appear. */
const REFERENCE_CODES = new Set([
  'unknown-plan',
  'unknown-role',
  'unknown-organization',
  'unknown-resource',
]);

const outcome = (ready: Outcome['ready'], reason: ConditionReason, message: string): Outcome => ({
  ready,
  reason,
  message,
});

/** The organization's own resource paused: nothing is applied, every resource says so. */
export function pausedOrganization(org: string, entries: readonly Entry[]): Outcome | undefined {
  const orgEntry = entries.find((e) => e.kind === 'Organization');
  if (orgEntry === undefined || !isPaused(orgEntry.object) || isDeleting(orgEntry.object)) {
    return undefined;
  }
  return outcome('unchanged', 'Paused', `${PAUSED_MESSAGE} (on Organization ${org})`);
}

/** Decides an organization's records and statuses from what was observed. */
export function decideOrganization(seen: OrganizationObservation): OrganizationDecision {
  const { org, namespace, manager, entries, snapshot } = seen;
  const orgEntry = entries.find((e) => e.kind === 'Organization');
  const orgDeleting = orgEntry !== undefined && isDeleting(orgEntry.object);
  const organizationRemoved = orgDeleting && deletionPolicyOf(orgEntry.object) === 'Delete';
  const live = entries.filter(
    (e) =>
      !isDeleting(e.object) &&
      !isPaused(e.object) &&
      !(organizationRemoved && e.kind !== 'Organization'),
  );
  const { errors, records } = checkEntries(
    live,
    seen.catalog,
    snapshot,
    org,
    seen.now,
    seen.leastPrivilege,
  );

  const orgInDatabase = snapshot.records.some(
    (r) => r.id.kind === 'organization' && r.id.name === org,
  );
  const orgUsable =
    orgEntry === undefined
      ? orgInDatabase
      : !isDeleting(orgEntry.object) && !errors.has(orgEntry.file) && !isPaused(orgEntry.object);
  // Without a usable organization, its members cannot be applied; they wait (and keep their records).
  const blocked = new Set(
    orgUsable
      ? []
      : entries
          .filter((e) => e.kind !== 'Organization' && !isDeleting(e.object) && !isPaused(e.object))
          .map((e) => e.file),
  );
  const desired = records.filter((r) => !blocked.has(r.source?.document.file ?? ''));
  const desiredKeys = new Set(desired.map((r) => recordKey(r.id)));

  // What stays claimed although not desired: invalid, blocked or paused resources, and orphans.
  const claimed = new Set<string>();
  const releases: RecordId[] = [];
  let collectable = true;
  for (const entry of entries) {
    const deleting = isDeleting(entry.object);
    const orphan = deleting && deletionPolicyOf(entry.object) === 'Orphan';
    const keep =
      errors.has(entry.file) ||
      (blocked.has(entry.file) && !organizationRemoved) ||
      isPaused(entry.object) ||
      orphan;
    if (!keep || (deleting && !orphan)) continue;
    const ids = identities(entry, snapshot);
    if (ids === undefined) {
      collectable = false;
      continue;
    }
    for (const id of ids) {
      claimed.add(recordKey(id));
      if (orphan) releases.push(id);
    }
  }
  const removals = collectable
    ? snapshot.records
        .filter(
          (r) =>
            // Deleting an organization (policy Delete) also removes what was made in the app
            // (unmanaged); records another manager owns stay, and the planner refuses.
            (r.managedBy === manager || (organizationRemoved && r.managedBy === null)) &&
            orgOf(r.id) === org &&
            !desiredKeys.has(recordKey(r.id)) &&
            !claimed.has(recordKey(r.id)),
        )
        .map((r) => r.id)
    : [];

  const outcomes = new Map<string, Outcome>();
  for (const entry of entries) {
    if (isDeleting(entry.object)) continue;
    outcomes.set(entry.file, entryOutcome(entry));
  }
  function entryOutcome(entry: Entry): Outcome {
    if (isPaused(entry.object)) return outcome('unchanged', 'Paused', PAUSED_MESSAGE);
    const invalid = errors.get(entry.file);
    if (invalid !== undefined) {
      const waiting = invalid.every((f) => REFERENCE_CODES.has(f.code));
      return outcome(false, waiting ? 'MissingReference' : 'Invalid', describeFindings(invalid));
    }
    if (blocked.has(entry.file)) {
      const why =
        orgEntry === undefined
          ? `Organization ${org} is not declared in namespace ${namespace} and does not exist in the access database`
          : isDeleting(orgEntry.object)
            ? `Organization ${org} is being deleted`
            : `Organization ${org} is not valid; see its status`;
      return outcome(false, 'OrganizationNotReady', why);
    }
    return outcome(true, 'Applied', 'The access database matches this resource');
  }

  let failure: OrganizationDecision['failure'];
  if (errors.size > 0) {
    const summary = [...errors.entries()]
      .map(([file, f]) => `${file}: ${describeFindings(f)}`)
      .join(' | ');
    // A reference to something not there yet (a Plan applied after its Organization, a plan
    // made with the CLI) can resolve by itself: retried with backoff. Bad input is not retried
    // until the resource changes (which queues it again).
    const waiting = [...errors.values()].flat().every((f) => REFERENCE_CODES.has(f.code));
    failure = waiting
      ? { waiting, message: `waiting for references: ${summary}` }
      : {
          waiting,
          message: `${errors.size} resource(s) of organization ${org} are invalid: ${summary}`,
        };
  }

  return {
    desired,
    removals,
    releases,
    organizationRemoved,
    finished: entries.filter((e) => isDeleting(e.object)),
    outcomes,
    ...(failure !== undefined && { failure }),
  };
}

/** An InvitationQueued event per invitation of an applied plan, on the resource declaring the member. */
export function invitationEvents(
  plan: Plan,
  desired: readonly DesiredRecord[],
  entries: readonly Entry[],
): { entry: Entry; message: string }[] {
  const byFile = new Map(entries.map((e) => [e.file, e]));
  const bySubject = new Map<string, Entry>();
  for (const r of desired) {
    const entry = byFile.get(r.source?.document.file ?? '');
    if (entry !== undefined) bySubject.set(recordKey(r.id), entry);
  }
  const orgEntry = entries.find((e) => e.kind === 'Organization');
  return plan.invitations.flatMap((inv) => {
    const id: RecordId =
      inv.subject === 'membership'
        ? { kind: 'membership', org: inv.org, user: inv.user }
        : inv.subject === 'group'
          ? { kind: 'group', org: inv.org, name: (inv.resource ?? '').replace(/^group\//, '') }
          : { kind: 'grant', org: inv.org, user: inv.user, resource: inv.resource ?? '' };
    const entry = bySubject.get(recordKey(id)) ?? orgEntry;
    if (entry === undefined) return [];
    const message = `Invitation to ${inv.user} as ${inv.role} in ${inv.org} queued (${inv.reason})`;
    return [{ entry, message }];
  });
}

/**
 * Checks the entries' documents together with the namespace's Plans and Roles and the catalog
 * and organization already in the database (so that references resolve as for the CLI); returns
 * each entry's error findings and the records of the valid ones.
 */
export function checkEntries(
  entries: readonly Entry[],
  catalog: readonly Entry[],
  snapshot: ActualState,
  org: string | undefined,
  now: Date,
  leastPrivilege?: LeastPrivilegePolicy,
): { errors: Map<string, Finding[]>; records: DesiredRecord[] } {
  const checked = new Map<string, CheckedDocument>();
  const errors = new Map<string, Finding[]>();
  const unchecked = new Set<string>();
  const context: CheckedDocument[] = [];
  const addError = (file: string, findings: Finding[]) =>
    errors.set(file, [...(errors.get(file) ?? []), ...findings]);

  for (const entry of entries) {
    const value = documentOf(entry.kind, entry.object);
    const result = checkDocument(inMemoryDocument(entry.file, value));
    if (Array.isArray(result)) {
      addError(
        entry.file,
        result.filter((f) => f.severity === 'error'),
      );
      const name = declaredName(value);
      if (name !== undefined) unchecked.add(name);
    } else {
      checked.set(entry.file, result);
    }
  }
  // Plans and Roles the references may name: the namespace's own resources first, then what the
  // database already holds (declared elsewhere), then nothing (the rules report it).
  const declared = new Set<string>();
  if (org !== undefined) {
    for (const entry of catalog) {
      if (isDeleting(entry.object)) continue;
      const name =
        entry.kind === 'User'
          ? `User/${emailIdentity(String(entry.object.spec?.email ?? ''))}`
          : `${entry.kind}/${entry.object.metadata.name ?? ''}`;
      const result = checkDocument(
        inMemoryDocument(entry.file, documentOf(entry.kind, entry.object)),
      );
      if (Array.isArray(result)) unchecked.add(name);
      else context.push(result);
      declared.add(name);
    }
  }
  for (const r of snapshot.records) {
    if (checked.size === 0) break;
    if (isKind(r, 'plan') && !declared.has(`Plan/${r.id.name}`)) {
      context.push(databaseDocument('Plan', r.id.name, KIND_TABLE.plan.document.spec(r)));
    } else if (isKind(r, 'role') && !declared.has(`Role/${r.id.name}`)) {
      context.push(databaseDocument('Role', r.id.name, KIND_TABLE.role.document.spec(r)));
    } else if (
      isKind(r, 'user') &&
      r.fields.aliases.length > 0 &&
      !declared.has(`User/${r.id.email}`)
    ) {
      const name = uniqueName(r.id.email, new Set());
      context.push(databaseDocument('User', name, KIND_TABLE.user.document.spec(r)));
    }
  }
  if (org !== undefined && ![...checked.values()].some((c) => c.document.kind === 'Organization')) {
    const record = snapshot.records.find(
      (r) => orgOf(r.id) === org && r.id.kind === 'organization',
    );
    if (record !== undefined && isKind(record, 'organization')) {
      const tenant = snapshot.records.filter((r) => orgOf(r.id) === org);
      context.push(
        databaseDocument(
          'Organization',
          org,
          KIND_TABLE.organization.document.spec(record, tenant),
        ),
      );
    }
  }
  const { state, findings } = buildDesiredState([...checked.values(), ...context]);
  const rules = checkRules(state, {
    now,
    unchecked,
    // The operator sees one organization at a time: a role may name one it does not see.
    organizationsElsewhere: 'any',
    ...(leastPrivilege !== undefined && { leastPrivilege }),
  });
  for (const f of [...findings, ...rules]) {
    const file = f.location?.file;
    if (f.severity !== 'error' || file === undefined || !checked.has(file)) continue;
    addError(file, [f]);
  }
  const records = desiredRecords(state).filter((r) => {
    const file = r.source?.document.file;
    return file !== undefined && checked.has(file) && !errors.has(file);
  });
  return { errors, records };
}

/** Whether a group (a Group's spec, or an inline group) names this role. */
function groupUses(group: Record<string, unknown>, role: string): boolean {
  const grants = Array.isArray(group.grants) ? (group.grants as { role?: unknown }[]) : [];
  return group.role === role || grants.some((g) => g?.role === role);
}

/** A User's addresses, normalised: its primary address and its aliases. */
function addressesOf(user: RosterObject | undefined): Set<string> {
  const spec = user?.spec ?? {};
  const raw = [spec.email, ...(Array.isArray(spec.aliases) ? spec.aliases : [])];
  return new Set(raw.filter((a): a is string => typeof a === 'string').map(emailIdentity));
}

/** The organizations whose owner, members or grants name one of these addresses. */
function organizationsNaming(
  addresses: ReadonlySet<string>,
  objects: (kind: Kind) => readonly RosterObject[],
): string[] {
  const names = (value: unknown) =>
    typeof value === 'string' && addresses.has(emailIdentity(value));
  const orgs = new Set<string>();
  const inGroup = (group: Record<string, unknown>) =>
    Array.isArray(group.members) && group.members.some(names);
  for (const o of objects('Organization')) {
    const spec = o.spec ?? {};
    const members = Array.isArray(spec.members) ? (spec.members as { user?: unknown }[]) : [];
    const groups = Array.isArray(spec.groups) ? (spec.groups as Record<string, unknown>[]) : [];
    if (names(spec.owner) || members.some((m) => names(m?.user)) || groups.some(inGroup)) {
      orgs.add(o.metadata.name ?? '');
    }
  }
  for (const o of [...objects('Membership'), ...objects('Grant')]) {
    if (names(o.spec?.user) && typeof o.spec?.org === 'string') orgs.add(o.spec.org);
  }
  for (const o of objects('Group')) {
    if (inGroup(o.spec ?? {}) && typeof o.spec?.org === 'string') orgs.add(o.spec.org);
  }
  return [...orgs].sort();
}

/** The record ids a resource declares, from its identity fields alone (even if invalid). */
export function identities(entry: Entry, snapshot: ActualState): RecordId[] | undefined {
  const name = entry.object.metadata.name ?? '';
  const declared = kindOfDocument(entry.kind).document.ids(name, entry.object.spec ?? {});
  const personOf = personByAlias(snapshot);
  const ids = declared?.map((id) => resolvePerson(id, personOf));
  if (ids === undefined || entry.kind !== 'Organization') return ids;
  // The organization's resources too (an invalid resource list still claims what exists).
  const resources = snapshot.records.filter(
    (r) => r.id.kind === 'resource' && orgOf(r.id) === name,
  );
  return [...ids, ...resources.map((r) => r.id)];
}

/** A document of what the database holds, as context for checking references. */
function databaseDocument(
  kind: Kind,
  name: string,
  spec: Record<string, unknown>,
): CheckedDocument {
  const value = { apiVersion: 'roster.dev/v1alpha1', kind, metadata: { name }, spec };
  const result = checkDocument(inMemoryDocument(`database:${kind}/${name}`, value));
  if (Array.isArray(result)) {
    throw new Error(
      `the database's ${kind} ${name} does not read back: ${describeFindings(result)}`,
    );
  }
  return result;
}

/**
 * The organizations of a namespace a Plan or a Role concerns: those that name it (their
 * Organization's plan; the role of an inline member, a Membership or a Grant). A change of the
 * plan or role re-checks these only, not every organization of the namespace.
 */
export function organizationsUsing(
  kind: 'Plan' | 'Role' | 'User',
  name: string,
  objects: (kind: Kind) => readonly RosterObject[],
  object?: RosterObject,
): string[] {
  const orgs = new Set<string>();
  if (kind === 'User') return organizationsNaming(addressesOf(object), objects);
  for (const o of objects('Organization')) {
    const spec = o.spec ?? {};
    const members = Array.isArray(spec.members) ? (spec.members as { role?: unknown }[]) : [];
    const groups = Array.isArray(spec.groups) ? (spec.groups as Record<string, unknown>[]) : [];
    if (
      (kind === 'Plan' && spec.plan === name) ||
      (kind === 'Role' &&
        (members.some((m) => m?.role === name) || groups.some((g) => groupUses(g, name))))
    ) {
      orgs.add(o.metadata.name ?? '');
    }
  }
  if (kind === 'Role') {
    for (const o of [...objects('Membership'), ...objects('Grant')]) {
      if (o.spec?.role === name && typeof o.spec.org === 'string') orgs.add(o.spec.org);
    }
    for (const o of objects('Group')) {
      if (groupUses(o.spec ?? {}, name) && typeof o.spec?.org === 'string') orgs.add(o.spec.org);
    }
  }
  return [...orgs].sort();
}
