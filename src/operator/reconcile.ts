/**
 * Reconciles one work-queue key against the access database, through the same core as the CLI:
 * resources become documents of Roster's format, are checked by the same schema and rules, become
 * records, and are planned and applied by `applyChanges` (one transaction, every refusal rule).
 *
 * Each reconcile reads observe -> decide -> act -> report: it observes the resources filed under
 * the key and the database's records, `decide.ts` (pure, unit-tested) decides the records and
 * each resource's outcome, it acts (finalizers, one apply, events), and reports every outcome as
 * status conditions. A failure of the apply becomes conditions through one path (`failed`).
 *
 * An organization's key covers its Organization and every Membership, Grant and Contact naming it
 * in the namespace. Records the operator wrote for that organization that no resource declares
 * any more are removed; records of other managers (the CLI, another cluster or namespace) are
 * never taken over or removed (the planner refuses, and the refusal shows in status).
 */
import type { LeastPrivilegePolicy } from '../core/least-privilege.js';
import { isDeepStrictEqual } from 'node:util';
import type pg from 'pg';
import { emailIdentity } from '../core/email.js';
import { RosterError } from '../core/errors.js';
import {
  DEFAULT_MAX_ORG_REMOVAL_RATIO,
  planRecordChanges,
  type ActualState,
  type Plan,
  type PlanOptions,
} from '../core/plan.js';
import { personByAlias } from '../core/aliases.js';
import { kindOfDocument } from '../core/kinds/index.js';
import { recordKey, type DesiredRecord, type RecordId } from '../core/records.js';
import type { Kind } from '../core/schema/index.js';
import { applyChanges, PlanRefusedError } from '../store/apply.js';
import { memberFacts, type MemberFactsRow } from '../store/member-facts.js';
import { readSnapshot } from '../store/snapshot.js';
import {
  checkEntries,
  decideOrganization,
  describeFindings,
  entryOf,
  invitationEvents,
  organizationsUsing,
  PAUSED_MESSAGE,
  pausedOrganization,
  type Entry,
} from './decide.js';
import {
  CATALOG_KINDS,
  deletionPolicyOf,
  FINALIZER,
  hasFinalizer,
  isDeleting,
  isPaused,
  managerOf,
  type RosterObject,
  type WorkKey,
} from './resources.js';
import { conditionsFor, type Condition, type Outcome } from './status.js';

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
  readonly leastPrivilege?: LeastPrivilegePolicy;
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

/**
 * The conditions a failed apply leaves, on which resources, and the Warning event it is worth:
 * a refusal is the resources' state (Ready False on all); any other failure says nothing new
 * about them (Ready unchanged on the live ones) and is retried.
 */
function failed(
  error: unknown,
  entries: readonly Entry[],
): { outcome: Outcome; on: readonly Entry[]; warning?: string } {
  if (error instanceof PlanRefusedError) {
    const message = error.refusals.map((r) => r.message).join('; ');
    return { outcome: { ready: false, reason: 'Refused', message }, on: entries, warning: message };
  }
  const message = error instanceof Error ? error.message : String(error);
  return {
    outcome: { ready: 'unchanged', reason: 'ApplyFailed', message },
    on: entries.filter((e) => !isDeleting(e.object)),
  };
}

const KIND_ORDER: readonly Kind[] = [
  'Organization',
  'Membership',
  'Grant',
  'Group',
  'Delegation',
  'Contact',
];

export class Reconciler {
  constructor(
    private readonly pool: pg.Pool,
    private readonly view: ClusterView,
    private readonly writer: ClusterWriter,
    private readonly options: ReconcilerOptions,
  ) {}

  async reconcile(key: WorkKey): Promise<ReconcileResult> {
    return key.kind === 'Organization'
      ? this.reconcileOrganization(key)
      : this.reconcileCatalog(key);
  }

  private async reconcileOrganization(key: WorkKey): Promise<ReconcileResult> {
    const { namespace, name: org } = key;
    const manager = managerOf(this.options.cluster, namespace);
    // Observe.
    const entries = this.view
      .members(key)
      .map(({ kind, object }) => entryOf(kind, object))
      .sort(
        (a, b) =>
          KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || a.file.localeCompare(b.file),
      );
    const paused = pausedOrganization(org, entries);
    if (paused !== undefined) {
      await eachLimited(entries, (entry) => this.setConditions(entry, paused));
      return { rowsWritten: 0, follow: [] };
    }
    await this.ensureFinalizers(entries.filter((e) => !isPaused(e.object)));
    const snapshot = await this.snapshot([org]);
    const catalog = CATALOG_KINDS.flatMap((kind) =>
      this.view.objects(kind, namespace).map((o) => entryOf(kind, o)),
    );

    // Decide.
    const decision = decideOrganization({
      org,
      namespace,
      manager,
      entries,
      catalog,
      snapshot,
      now: new Date(),
      ...(this.options.leastPrivilege !== undefined && {
        leastPrivilege: this.options.leastPrivilege,
      }),
    });
    const planOptions = this.planOptions(namespace, {
      scope: [org],
      ...(decision.organizationRemoved && { maxOrgRemovalRatio: 1 }),
    });
    const records = { records: [...decision.desired], removals: [...decision.removals] };

    // Act: most reconciles (resyncs, status updates) change nothing, which a plan on the snapshot
    // already read says without taking the apply lock; anything else is planned again under it.
    let plan = planRecordChanges(
      records.records,
      records.removals,
      snapshot,
      planOptions,
      decision.releases,
    );
    let rowsWritten = 0;
    try {
      if (plan.changes.length > 0 || plan.refusals.length > 0) {
        const result = await this.apply(
          namespace,
          {
            ...records,
            releases: [...decision.releases],
            narrowSnapshot: true,
            options: planOptions,
          },
          entries,
        );
        plan = result.plan;
        rowsWritten = result.rowsWritten;
      }
    } catch (error) {
      const { outcome, on, warning } = failed(error, entries);
      await eachLimited(on, (entry) => this.setConditions(entry, outcome));
      const subject = entries.find((e) => e.kind === 'Organization') ?? entries[0];
      if (warning !== undefined && subject !== undefined) {
        this.writer.event(subject.kind, subject.object, 'Warning', 'Refused', warning);
      }
      throw error;
    }
    for (const { entry, message } of invitationEvents(plan, decision.desired, entries)) {
      this.writer.event(entry.kind, entry.object, 'Normal', 'InvitationQueued', message);
    }
    // Deleted resources whose records are gone (or released): let Kubernetes finish deleting them.
    await this.releaseFinalizers(decision.finished);

    // Report.
    const facts = await readFacts(this.pool, org, personByAlias(snapshot));
    await eachLimited(entries, async (entry) => {
      const outcome = decision.outcomes.get(entry.file);
      if (outcome === undefined) return;
      const extra = outcome.reason === 'Applied' ? facts.statusOf(entry.kind, entry.object) : {};
      await this.setConditions(entry, outcome, extra);
    });
    if (decision.failure !== undefined) {
      if (decision.failure.waiting) throw new MissingReferenceError(decision.failure.message);
      throw new TerminalError(decision.failure.message);
    }
    return { plan, rowsWritten, follow: [] };
  }

  private async reconcileCatalog(key: WorkKey): Promise<ReconcileResult> {
    const { namespace, name } = key;
    const kind = key.kind as (typeof CATALOG_KINDS)[number];
    const manager = managerOf(this.options.cluster, namespace);
    const object = this.view.objects(kind, namespace).find((o) => o.metadata.name === name);
    // A User's record is its primary address; a Plan's or Role's, its name.
    const id = kindOfDocument(kind).document.mainId(name, object?.spec ?? {});
    if (id === undefined) {
      // A User gone without its finalizer's help: its address is not known any more.
      return { rowsWritten: 0, follow: [] };
    }
    // Only the organizations naming this plan or role (they may wait for it, or change with it).
    const follow = organizationsUsing(
      kind,
      name,
      (k) => this.view.objects(k, namespace),
      object,
    ).map((org) => ({ namespace, kind: 'Organization' as const, name: org }));
    const apply = (records: DesiredRecord[], removals: RecordId[], releases: RecordId[]) =>
      this.apply(
        namespace,
        { records, removals, releases, options: this.planOptions(namespace, { scope: [] }) },
        object === undefined ? [] : [entryOf(kind, object)],
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
    const entry = entryOf(kind, object);
    if (isPaused(object)) {
      await this.setConditions(entry, {
        ready: 'unchanged',
        reason: 'Paused',
        message: PAUSED_MESSAGE,
      });
      return { rowsWritten: 0, follow: [] };
    }
    if (!isDeleting(object)) await this.ensureFinalizers([entry]);
    try {
      if (isDeleting(object)) {
        const orphan = deletionPolicyOf(object) === 'Orphan';
        const result = await apply([], orphan ? [] : [id], orphan ? [id] : []);
        await this.releaseFinalizers([entry]);
        return { plan: result.plan, rowsWritten: result.rowsWritten, follow };
      }
      const snapshot = await this.snapshot([]);
      const { errors, records } = checkEntries(
        [entry],
        [],
        snapshot,
        undefined,
        new Date(),
        this.options.leastPrivilege,
      );
      const invalid = errors.get(entry.file);
      if (invalid !== undefined) {
        const message = describeFindings(invalid);
        await this.setConditions(entry, { ready: false, reason: 'Invalid', message });
        throw new TerminalError(`${entry.file}: ${message}`);
      }
      const result = await apply(records, [], []);
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
      if (!(error instanceof TerminalError)) {
        const { outcome, on, warning } = failed(error, [entry]);
        await eachLimited(on, (e) => this.setConditions(e, outcome));
        if (warning !== undefined) this.writer.event(kind, object, 'Warning', 'Refused', warning);
      }
      throw error;
    }
  }

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

  private apply(
    namespace: string,
    input: Parameters<typeof applyChanges>[1],
    entries: readonly Entry[] = [],
  ) {
    const authors = new Map(entries.map((e) => [e.file, authorOf(e.object)]));
    return applyChanges(this.pool, input, {
      actor: managerOf(this.options.cluster, namespace),
      source: { operator: this.options.cluster, namespace },
      changedBy: (file) => authors.get(file),
      ...(this.options.lockWaitMs !== undefined && { lockWaitMs: this.options.lockWaitMs }),
    });
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

  private async setConditions(
    entry: Entry,
    outcome: Outcome,
    extra: Record<string, unknown> = {},
  ): Promise<void> {
    const conditions: Condition[] = conditionsFor(entry.object, outcome);
    const status = {
      observedGeneration: entry.object.metadata.generation ?? 0,
      conditions,
      ...extra,
    };
    const current = entry.object.status ?? {};
    // Compared as values: the API server returns a custom resource's keys sorted, not in the
    // order they were written, so comparing serialisations would re-patch every status on every
    // resync. JSON round-trip first: undefined fields are never sent, so they do not differ.
    const next = JSON.parse(JSON.stringify({ ...current, ...status })) as unknown;
    if (isDeepStrictEqual(next, current)) return;
    await this.writer.patchStatus(entry.kind, entry.object, status);
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

/** What the database knows about members: status, invitation state, counts. */
interface Facts {
  statusOf(kind: Kind, o: RosterObject): Record<string, unknown>;
}

async function readFacts(
  pool: pg.Pool,
  org: string,
  personOf: ReadonlyMap<string, string>,
): Promise<Facts> {
  const rows = await memberFacts(pool, org);
  /** The person a resource's address names (an alias is its User's). */
  const person = (value: unknown) => {
    const address = emailIdentity(String(value ?? ''));
    return personOf.get(address) ?? address;
  };
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
        const r = byKey.get(`membership/${person(o.spec?.user)}/`);
        if (r === undefined) return {};
        const invitation = invitationOf(r);
        return {
          memberStatus: r.status,
          ...(r.joinedAt !== null && { joinedAt: iso(r.joinedAt) }),
          ...(invitation !== undefined && { invitation }),
        };
      }
      if (kind === 'Grant') {
        const r = byKey.get(`grant/${person(o.spec?.user)}/${String(o.spec?.resource ?? '')}`);
        const invitation = r === undefined ? undefined : invitationOf(r);
        return invitation === undefined ? {} : { invitation };
      }
      return {};
    },
  };
}

/** The annotation a pipeline or a person sets on a resource to say who changed it. */
export const CHANGED_BY_ANNOTATION = 'roster.dev/changed-by';

/**
 * Who changed a custom resource, for the audit log: the person its `roster.dev/changed-by`
 * annotation names (the API server does not tell a controller who wrote an object), and the field
 * manager of its latest write (`kubectl-client-side-apply`, `argocd-controller`, ...) from
 * metadata.managedFields.
 */
function authorOf(
  object: RosterObject,
): { actor?: string; source?: Record<string, string> } | undefined {
  const person = object.metadata.annotations?.[CHANGED_BY_ANNOTATION];
  const fields = (object.metadata as { managedFields?: { manager?: string; time?: string }[] })
    .managedFields;
  const latest = [...(fields ?? [])]
    .filter((f) => typeof f.manager === 'string' && f.manager !== '')
    .sort((a, b) => String(b.time ?? '').localeCompare(String(a.time ?? '')))[0];
  if (person === undefined && latest === undefined) return undefined;
  return {
    ...(person !== undefined && person !== '' && { actor: `${person} via Kubernetes` }),
    ...(latest?.manager !== undefined && { source: { fieldManager: latest.manager } }),
  };
}
