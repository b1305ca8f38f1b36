/**
 * Reconciles one work-queue key against the access database, through the same core as the CLI:
 * resources become documents of Roster's format, are checked by the same schema and rules, become
 * records, and are planned and applied by `applyChanges` (one transaction, every refusal rule).
 *
 * An organization's key covers its Organization and every Membership, Grant and Contact naming it
 * in the namespace. Records the operator wrote for that organization that no resource declares
 * any more are removed; records of other managers (the CLI, another cluster or namespace) are
 * never taken over or removed (the planner refuses, and the refusal shows in status).
 */
import { isDeepStrictEqual } from 'node:util';
import type pg from 'pg';
import { checkDocument, declaredName, type CheckedDocument } from '../core/check-document.js';
import { buildDesiredState } from '../core/desired-state.js';
import { emailIdentity } from '../core/email.js';
import { isKind, KIND_TABLE, kindOfDocument } from '../core/kinds/index.js';
import type { Finding } from '../core/findings.js';
import { inMemoryDocument } from '../core/parse.js';
import {
  DEFAULT_MAX_ORG_REMOVAL_RATIO,
  orgOf,
  planRecordChanges,
  type ActualState,
  type Plan,
  type PlanOptions,
} from '../core/plan.js';
import { desiredRecords, recordKey, type DesiredRecord, type RecordId } from '../core/records.js';
import { checkRules } from '../core/rules.js';
import type { Kind } from '../core/schema/index.js';
import { RosterError } from '../core/errors.js';
import { applyChanges, PlanRefusedError } from '../store/apply.js';
import { memberFacts, type MemberFactsRow } from '../store/member-facts.js';
import { readSnapshot } from '../store/snapshot.js';
import {
  deletionPolicyOf,
  describeObject,
  documentOf,
  FINALIZER,
  hasFinalizer,
  isDeleting,
  isPaused,
  managerOf,
  type RosterObject,
  type WorkKey,
} from './resources.js';
import { conditionsFor, type Condition } from './status.js';

/** What the reconciler reads from the cluster (the informers' caches). */
export interface ClusterView {
  objects(kind: Kind, namespace: string): readonly RosterObject[];
  /** The resources filed under a work key (an Organization and what names it). */
  members(key: WorkKey): readonly { kind: Kind; object: RosterObject }[];
}

/** What the reconciler writes to the cluster. */
export interface ClusterWriter {
  /** Sets the finalizers, with the object's resourceVersion (409 on a stale copy). */
  setFinalizers(kind: Kind, o: RosterObject, finalizers: string[]): Promise<void>;
  /** Writes the status subresource. */
  patchStatus(kind: Kind, o: RosterObject, status: Record<string, unknown>): Promise<void>;
  /** Records a Kubernetes Event on the object. */
  event(
    kind: Kind,
    o: RosterObject,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
  ): void;
}

export interface ReconcilerOptions {
  /** Names this cluster in the records' manager: `operator:<cluster>/<namespace>`. */
  readonly cluster: string;
  readonly maxOrgRemovalRatio?: number;
  /** How long an apply waits for another (ms). */
  readonly lockWaitMs?: number;
}

/** A reconcile outcome that retrying will not change (bad input): not retried, shown in status. */
export class TerminalError extends RosterError {
  constructor(message: string) {
    super('terminal', message);
  }
}

/** A reference to a plan, role or organization that does not exist yet: retried with backoff. */
export class MissingReferenceError extends RosterError {
  constructor(message: string) {
    super('missing-reference', message);
  }
}

/** What one reconcile did. */
export interface ReconcileResult {
  readonly plan?: Plan;
  readonly rowsWritten: number;
  /** Other keys to reconcile now (organizations waiting for a plan or a role). */
  readonly follow: readonly WorkKey[];
}

interface Entry {
  readonly kind: Kind;
  readonly object: RosterObject;
  readonly file: string;
}

const documentFile = (kind: Kind, o: RosterObject) => describeObject(kind, o);

/** The message of findings, one per line, paths included. */
function describeFindings(findings: readonly Finding[]): string {
  return findings
    .map((f) => {
      const path = f.location?.path ?? [];
      return `${path.length > 0 ? `${path.join('.')}: ` : ''}${f.message}`;
    })
    .join('; ');
}

export class Reconciler {
  constructor(
    private readonly pool: pg.Pool,
    private readonly view: ClusterView,
    private readonly writer: ClusterWriter,
    private readonly options: ReconcilerOptions,
  ) {}

  private planOptions(namespace: string, overrides: Partial<PlanOptions> = {}): PlanOptions {
    return {
      manager: managerOf(this.options.cluster, namespace),
      prune: false,
      maxOrgRemovalRatio: this.options.maxOrgRemovalRatio ?? DEFAULT_MAX_ORG_REMOVAL_RATIO,
      now: new Date(),
      scope: [],
      ...overrides,
    };
  }

  private async snapshot(scope: readonly string[]): Promise<ActualState> {
    const client = await this.pool.connect();
    try {
      return await readSnapshot(client, scope, {
        organizations: scope.length > 0 ? 'scope' : 'all',
      });
    } finally {
      client.release();
    }
  }

  async reconcile(key: WorkKey): Promise<ReconcileResult> {
    return key.kind === 'Organization'
      ? this.reconcileOrganization(key)
      : this.reconcileCatalog(key);
  }

  /** Adds the finalizer to live resources that lack it. */
  private async ensureFinalizers(entries: readonly Entry[]): Promise<void> {
    await eachLimited(entries, async ({ kind, object }) => {
      if (isDeleting(object) || hasFinalizer(object)) return;
      await this.writer.setFinalizers(kind, object, [
        ...(object.metadata.finalizers ?? []),
        FINALIZER,
      ]);
    });
  }

  private async releaseFinalizers(entries: readonly Entry[]): Promise<void> {
    await eachLimited(entries, async ({ kind, object }) => {
      if (!hasFinalizer(object)) return;
      await this.writer.setFinalizers(
        kind,
        object,
        (object.metadata.finalizers ?? []).filter((f) => f !== FINALIZER),
      );
    });
  }

  private async writeStatus(entry: Entry, status: Record<string, unknown>): Promise<void> {
    const current = entry.object.status ?? {};
    // Compared as values: the API server returns a custom resource's keys sorted, not in the
    // order they were written, so comparing serialisations would re-patch every status on every
    // resync. JSON round-trip first: undefined fields are never sent, so they do not differ.
    const next = JSON.parse(JSON.stringify({ ...current, ...status })) as unknown;
    if (isDeepStrictEqual(next, current)) return;
    await this.writer.patchStatus(entry.kind, entry.object, status);
  }

  private async setConditions(
    entry: Entry,
    outcome: { ready: boolean | 'unchanged'; reason: string; message: string },
    extra: Record<string, unknown> = {},
  ): Promise<void> {
    const conditions: Condition[] = conditionsFor(entry.object, outcome);
    await this.writeStatus(entry, {
      observedGeneration: entry.object.metadata.generation ?? 0,
      conditions,
      ...extra,
    });
  }

  /**
   * Checks the documents of `entries` together with the namespace's Plans and Roles and the
   * catalog and organization already in the database (so that references resolve as for the
   * CLI); returns the checked documents and each entry's error findings.
   */
  private check(
    entries: readonly Entry[],
    namespace: string,
    snapshot: ActualState,
    org: string | undefined,
  ): {
    checked: Map<string, CheckedDocument>;
    errors: Map<string, Finding[]>;
    records: DesiredRecord[];
  } {
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
      for (const kind of ['Plan', 'Role'] as const) {
        for (const o of this.view.objects(kind, namespace)) {
          if (isDeleting(o)) continue;
          const result = checkDocument(
            inMemoryDocument(documentFile(kind, o), documentOf(kind, o)),
          );
          if (Array.isArray(result)) unchecked.add(`${kind}/${o.metadata.name ?? ''}`);
          else context.push(result);
          declared.add(`${kind}/${o.metadata.name ?? ''}`);
        }
      }
    }
    for (const r of snapshot.records) {
      if (checked.size === 0) break;
      if (isKind(r, 'plan') && !declared.has(`Plan/${r.id.name}`)) {
        context.push(databaseDocument('Plan', r.id.name, KIND_TABLE.plan.document.spec(r)));
      } else if (isKind(r, 'role') && !declared.has(`Role/${r.id.name}`)) {
        context.push(databaseDocument('Role', r.id.name, KIND_TABLE.role.document.spec(r)));
      }
    }
    if (
      org !== undefined &&
      ![...checked.values()].some((c) => c.document.kind === 'Organization')
    ) {
      const record = snapshot.records.find(
        (r) => orgOf(r.id) === org && r.id.kind === 'organization',
      );
      if (record !== undefined && isKind(record, 'organization')) {
        const tenant = snapshot.records.filter((r) => orgOf(r.id) === org);
        const spec = KIND_TABLE.organization.document.spec(record, tenant);
        context.push(databaseDocument('Organization', org, spec));
      }
    }
    const { state, findings } = buildDesiredState([...checked.values(), ...context]);
    const all = [...findings, ...checkRules(state, { now: new Date(), unchecked })];
    for (const f of all) {
      const file = f.location?.file;
      if (f.severity !== 'error' || file === undefined || !checked.has(file)) continue;
      addError(file, [f]);
    }
    const records = desiredRecords(state).filter((r) => {
      const file = r.source?.document.file;
      return file !== undefined && checked.has(file) && !errors.has(file);
    });
    return { checked, errors, records };
  }

  /** The record ids a resource declares, from its identity fields alone (even if invalid). */
  private identities(kind: Kind, o: RosterObject, snapshot: ActualState): RecordId[] | undefined {
    const name = o.metadata.name ?? '';
    const ids = kindOfDocument(kind).document.ids(name, o.spec ?? {});
    if (ids === undefined || kind !== 'Organization') return ids;
    // The organization's resources too (an invalid resource list still claims what exists).
    return [
      ...ids,
      ...snapshot.records
        .filter((r) => r.id.kind === 'resource' && orgOf(r.id) === name)
        .map((r) => r.id),
    ];
  }

  private async reconcileOrganization(key: WorkKey): Promise<ReconcileResult> {
    const { namespace, name: org } = key;
    const manager = managerOf(this.options.cluster, namespace);
    const entries: Entry[] = this.view
      .members(key)
      .map(({ kind, object }) => ({ kind, object, file: documentFile(kind, object) }))
      .sort(
        (a, b) =>
          KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || a.file.localeCompare(b.file),
      );
    const orgEntry = entries.find((e) => e.kind === 'Organization');
    if (orgEntry !== undefined && isPaused(orgEntry.object) && !isDeleting(orgEntry.object)) {
      await eachLimited(entries, (entry) =>
        this.setConditions(entry, {
          ready: 'unchanged',
          reason: 'Paused',
          message: `${PAUSED_MESSAGE} (on Organization ${org})`,
        }),
      );
      return { rowsWritten: 0, follow: [] };
    }
    await this.ensureFinalizers(entries.filter((e) => !isPaused(e.object)));

    const snapshot = await this.snapshot([org]);

    const orgDeleting = orgEntry !== undefined && isDeleting(orgEntry.object);
    const orgRemoved = orgDeleting && deletionPolicyOf(orgEntry.object) === 'Delete';
    const live = entries.filter(
      (e) =>
        !isDeleting(e.object) && !isPaused(e.object) && !(orgRemoved && e.kind !== 'Organization'),
    );
    const { errors, records: checkedRecords } = this.check(live, namespace, snapshot, org);

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
            .filter(
              (e) => e.kind !== 'Organization' && !isDeleting(e.object) && !isPaused(e.object),
            )
            .map((e) => e.file),
    );
    const desired = checkedRecords.filter((r) => !blocked.has(r.source?.document.file ?? ''));
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
        (blocked.has(entry.file) && !orgRemoved) ||
        isPaused(entry.object) ||
        orphan;
      if (!keep) continue;
      if (deleting && !orphan) continue;
      const ids = this.identities(entry.kind, entry.object, snapshot);
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
              (r.managedBy === manager || (orgRemoved && r.managedBy === null)) &&
              orgOf(r.id) === org &&
              r.id.kind !== 'plan' &&
              r.id.kind !== 'role' &&
              !desiredKeys.has(recordKey(r.id)) &&
              !claimed.has(recordKey(r.id)),
          )
          .map((r) => r.id)
      : [];

    const planOptions = this.planOptions(namespace, {
      scope: [org],
      ...(orgRemoved && { maxOrgRemovalRatio: 1 }),
    });
    // Most reconciles (resyncs, status updates) change nothing: a plan on the snapshot already
    // read says so without taking the apply lock. Anything else is planned again under the lock.
    let plan: Plan = planRecordChanges(desired, removals, snapshot, planOptions, releases);
    let rowsWritten = 0;
    try {
      if (plan.changes.length > 0 || plan.refusals.length > 0) {
        const result = await applyChanges(
          this.pool,
          { records: desired, removals, releases, narrowSnapshot: true, options: planOptions },
          {
            actor: manager,
            source: { operator: this.options.cluster, namespace },
            ...(this.options.lockWaitMs !== undefined && { lockWaitMs: this.options.lockWaitMs }),
          },
        );
        plan = result.plan;
        rowsWritten = result.rowsWritten;
      }
    } catch (error) {
      if (error instanceof PlanRefusedError) {
        const message = error.refusals.map((r) => r.message).join('; ');
        await eachLimited(entries, (entry) =>
          this.setConditions(entry, { ready: false, reason: 'Refused', message }),
        );
        if (orgEntry !== undefined) {
          this.writer.event('Organization', orgEntry.object, 'Warning', 'Refused', message);
        } else if (entries[0] !== undefined) {
          this.writer.event(entries[0].kind, entries[0].object, 'Warning', 'Refused', message);
        }
      } else {
        const message = error instanceof Error ? error.message : String(error);
        await eachLimited(
          entries.filter((e) => !isDeleting(e.object)),
          (entry) =>
            this.setConditions(entry, { ready: 'unchanged', reason: 'ApplyFailed', message }),
        );
      }
      throw error;
    }

    // Events: one per invitation queued, on the resource that declares the member.
    if (plan !== undefined) {
      const bySubject = new Map<string, Entry>();
      for (const r of desired) {
        const entry = entries.find((e) => e.file === r.source?.document.file);
        if (entry !== undefined) bySubject.set(recordKey(r.id), entry);
      }
      for (const inv of plan.invitations) {
        const id: RecordId =
          inv.subject === 'membership'
            ? { kind: 'membership', org: inv.org, user: inv.user }
            : { kind: 'grant', org: inv.org, user: inv.user, resource: inv.resource ?? '' };
        const entry = bySubject.get(recordKey(id)) ?? orgEntry;
        if (entry === undefined) continue;
        this.writer.event(
          entry.kind,
          entry.object,
          'Normal',
          'InvitationQueued',
          `Invitation to ${inv.user} as ${inv.role} in ${inv.org} queued (${inv.reason})`,
        );
      }
    }

    // Deleted resources whose records are gone (or released): let Kubernetes finish deleting them.
    await this.releaseFinalizers(entries.filter((e) => isDeleting(e.object)));

    // Status of the others.
    const facts = await readFacts(this.pool, org);
    await eachLimited(entries, async (entry) => {
      if (isDeleting(entry.object)) return;
      if (isPaused(entry.object)) {
        await this.setConditions(entry, {
          ready: 'unchanged',
          reason: 'Paused',
          message: PAUSED_MESSAGE,
        });
        return;
      }
      const invalid = errors.get(entry.file);
      if (invalid !== undefined) {
        const reason = invalid.every((f) => REFERENCE_CODES.has(f.code))
          ? 'MissingReference'
          : 'Invalid';
        await this.setConditions(entry, {
          ready: false,
          reason,
          message: describeFindings(invalid),
        });
        return;
      }
      if (blocked.has(entry.file)) {
        const why =
          orgEntry === undefined
            ? `Organization ${org} is not declared in namespace ${namespace} and does not exist in the access database`
            : isDeleting(orgEntry.object)
              ? `Organization ${org} is being deleted`
              : `Organization ${org} is not valid; see its status`;
        await this.setConditions(entry, {
          ready: false,
          reason: 'OrganizationNotReady',
          message: why,
        });
        return;
      }
      await this.setConditions(
        entry,
        { ready: true, reason: 'Applied', message: 'The access database matches this resource' },
        facts.statusOf(entry.kind, entry.object),
      );
    });
    const invalidCount = [...errors.keys()].length;
    if (invalidCount > 0) {
      const summary = [...errors.entries()]
        .map(([file, f]) => `${file}: ${describeFindings(f)}`)
        .join(' | ');
      // A reference to something not there yet (a Plan applied after its Organization, a plan
      // made with the CLI) can resolve by itself: retried with backoff.
      const waiting = [...errors.values()].flat().every((f) => REFERENCE_CODES.has(f.code));
      if (waiting) throw new MissingReferenceError(`waiting for references: ${summary}`);
      // Bad input: reconciling again will not help until the resource changes (which queues it).
      throw new TerminalError(
        `${invalidCount} resource(s) of organization ${org} are invalid: ${[...errors.entries()].map(([file, f]) => `${file}: ${describeFindings(f)}`).join(' | ')}`,
      );
    }
    return { plan, rowsWritten, follow: [] };
  }

  private async reconcileCatalog(key: WorkKey): Promise<ReconcileResult> {
    const { namespace, name } = key;
    const kind = key.kind as 'Plan' | 'Role';
    const manager = managerOf(this.options.cluster, namespace);
    const object = this.view.objects(kind, namespace).find((o) => o.metadata.name === name);
    const id: RecordId = { kind: kind === 'Plan' ? 'plan' : 'role', name };
    const follow = this.view
      .objects('Organization', namespace)
      .map((o) => ({ namespace, kind: 'Organization' as const, name: o.metadata.name ?? '' }));
    if (object !== undefined && isPaused(object)) {
      const entry = { kind, object, file: documentFile(kind, object) };
      await this.setConditions(entry, {
        ready: 'unchanged',
        reason: 'Paused',
        message: PAUSED_MESSAGE,
      });
      return { rowsWritten: 0, follow: [] };
    }
    const apply = async (records: DesiredRecord[], removals: RecordId[], releases: RecordId[]) =>
      applyChanges(
        this.pool,
        { records, removals, releases, options: this.planOptions(namespace, { scope: [] }) },
        {
          actor: manager,
          source: { operator: this.options.cluster, namespace },
          ...(this.options.lockWaitMs !== undefined && { lockWaitMs: this.options.lockWaitMs }),
        },
      );
    if (object === undefined) {
      // Deleted without the finalizer's help (or never here): remove what this namespace wrote.
      const snapshot = await this.snapshot([]);
      const mine = snapshot.records.find(
        (r) => recordKey(r.id) === recordKey(id) && r.managedBy === manager,
      );
      if (mine === undefined) return { rowsWritten: 0, follow: [] };
      try {
        const result = await apply([], [id], []);
        return { plan: result.plan, rowsWritten: result.rowsWritten, follow };
      } catch (error) {
        if (error instanceof PlanRefusedError) throw new TerminalError(error.message);
        throw error;
      }
    }
    const entry: Entry = { kind, object, file: documentFile(kind, object) };
    if (!isDeleting(object)) await this.ensureFinalizers([entry]);
    try {
      let result;
      if (isDeleting(object)) {
        const orphan = deletionPolicyOf(object) === 'Orphan';
        result = await apply([], orphan ? [] : [id], orphan ? [id] : []);
        await this.releaseFinalizers([entry]);
        return { plan: result.plan, rowsWritten: result.rowsWritten, follow };
      }
      const snapshot = await this.snapshot([]);
      const { errors, records } = this.check([entry], namespace, snapshot, undefined);
      const invalid = errors.get(entry.file);
      if (invalid !== undefined) {
        await this.setConditions(entry, {
          ready: false,
          reason: 'Invalid',
          message: describeFindings(invalid),
        });
        throw new TerminalError(`${entry.file}: ${describeFindings(invalid)}`);
      }
      result = await apply(records, [], []);
      await this.setConditions(entry, {
        ready: true,
        reason: 'Applied',
        message: 'The access database matches this resource',
      });
      return {
        plan: result.plan,
        rowsWritten: result.rowsWritten,
        follow: result.rowsWritten > 0 ? follow : [],
      };
    } catch (error) {
      if (error instanceof PlanRefusedError) {
        const message = error.refusals.map((r) => r.message).join('; ');
        await this.setConditions(entry, { ready: false, reason: 'Refused', message });
        this.writer.event(kind, object, 'Warning', 'Refused', message);
      } else if (!(error instanceof TerminalError)) {
        const message = error instanceof Error ? error.message : String(error);
        if (!isDeleting(object)) {
          await this.setConditions(entry, { ready: 'unchanged', reason: 'ApplyFailed', message });
        }
      }
      throw error;
    }
  }
}

/** Writes to the API server for one reconcile run this many at a time. */
const WRITE_CONCURRENCY = 8;

async function eachLimited<T>(items: readonly T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(WRITE_CONCURRENCY, items.length) }, lane));
}

const KIND_ORDER: readonly Kind[] = ['Organization', 'Membership', 'Grant', 'Contact'];

/** Findings about a reference to something that may yet appear. */
const REFERENCE_CODES = new Set([
  'unknown-plan',
  'unknown-role',
  'unknown-organization',
  'unknown-resource',
]);

const PAUSED_MESSAGE = `Reconciling is paused by the annotation roster.dev/paused="true"`;

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

/** What the database knows about members: status, invitation state, counts. */
interface Facts {
  statusOf(kind: Kind, o: RosterObject): Record<string, unknown>;
}

async function readFacts(pool: pg.Pool, org: string): Promise<Facts> {
  const rows = await memberFacts(pool, org);
  const byKey = new Map(rows.map((r) => [`${r.subject}/${r.email}/${r.resource ?? ''}`, r]));
  const members = rows.filter((r) => r.subject === 'membership').length;
  const pending = rows.filter((r) => r.invitation === 'Pending').length;
  const iso = (d: Date | null) =>
    d === null ? undefined : d.toISOString().replace(/\.\d+Z$/, 'Z');
  const invitationOf = (r: MemberFactsRow) =>
    r.invitation === null
      ? undefined
      : {
          state: r.invitation,
          ...(r.sentAt !== null && { sentAt: iso(r.sentAt) }),
          ...(r.expiresAt !== null && { expiresAt: iso(r.expiresAt) }),
        };
  return {
    statusOf(kind, o) {
      if (kind === 'Organization') return { members, pendingInvitations: pending };
      if (kind === 'Membership') {
        const r = byKey.get(`membership/${emailIdentity(String(o.spec?.user ?? ''))}/`);
        if (r === undefined) return {};
        const invitation = invitationOf(r);
        return {
          memberStatus: r.status,
          ...(r.joinedAt !== null && { joinedAt: iso(r.joinedAt) }),
          ...(invitation !== undefined && { invitation }),
        };
      }
      if (kind === 'Grant') {
        const r = byKey.get(
          `grant/${emailIdentity(String(o.spec?.user ?? ''))}/${String(o.spec?.resource ?? '')}`,
        );
        const invitation = r === undefined ? undefined : invitationOf(r);
        return invitation === undefined ? {} : { invitation };
      }
      return {};
    },
  };
}
