/**
 * What `roster plan` and `roster apply` plan from: the manifests, read whole (a full plan) or only
 * as far as they changed since the last apply (an incremental plan, the default).
 *
 * Incremental: every file is fingerprinted (read and hashed, nothing kept); files whose fingerprint
 * matches what the last apply recorded are not parsed. An organization is planned again when a file
 * declaring it changed, appeared or went; when a plan or role it uses changed in the input or will
 * change in the database; when its rows in the database differ from what the last apply left
 * (any write since, by Roster or not: one grouped scan per table computes every organization's
 * digest); when it has rows Roster does not manage, or grants that expired; or when nothing was
 * recorded for it. Every file declaring an organization planned is read, so that the rules see the
 * whole organization. The plan of the rest would be empty: it is left out, and the plan is the
 * same as a full plan's (test/incremental-plan.test.ts compares them over random edits).
 */
import { runAccessTests } from '../core/access-test.js';
import { BUILT_IN_ROLES } from '../core/catalog.js';
import type pg from 'pg';
import {
  catalogDigests,
  indexInput,
  inputDigest,
  type IndexedFile,
  type OrganizationInput,
} from '../core/input-index.js';
import { DEFAULT_LIMITS } from '../core/limits.js';
import type { LoadOptions, LoadResult } from '../core/load.js';
import type { DesiredState } from '../core/model.js';
import type { Plan, PlanOptions } from '../core/plan.js';
import {
  changedFields,
  desiredRecords,
  type DesiredRecord,
  type RecordId,
} from '../core/records.js';
import { KIND_TABLE } from '../core/kinds/index.js';
import { renderFindingsText, summarizeFindings } from '../core/render-findings.js';
import { loadSourcesInThreads } from '../files/parse-threads.js';
import {
  hashListedFiles,
  listSources,
  readListedFiles,
  readListedSources,
  sourceSha256,
  type ListedFile,
  type ListedSources,
} from '../files/read-sources.js';
import {
  readBasis,
  readOrganizationStates,
  readOrganizationsUsing,
  readFilesDeclaring,
  readRecordedFiles,
  readRecordedOrganizations,
  recordInput,
  type OrganizationState,
  type RecordedFile,
  type RecordedOrganization,
} from '../store/input-index.js';
import { readPlans, readRoles, readUsers } from '../store/snapshot.js';
import type { CliIo } from '../command/io.js';
import { leastPrivilegeOption } from '../command/lint-rules.js';

/** What an apply records of its input (`recordInput`). */
export interface InputRecord {
  readonly files: readonly IndexedFile[];
  readonly removedPaths: readonly string[];
  readonly organizations: readonly OrganizationInput[];
}

/** The manifests, ready to plan. */
export interface PreparedInput {
  /** The records to plan: every record of the organizations planned, every plan and role. */
  readonly desired: readonly DesiredRecord[];
  /** The options to plan with: their scope is the organizations planned. */
  readonly options: PlanOptions;
  /** Every organization the input declares (the scope of the plan as shown and saved). */
  readonly inputScope: readonly string[] | 'all';
  /** Read for every organization of the input in an incremental plan. */
  readonly states?: ReadonlyMap<string, OrganizationState>;
  /** What an apply records; absent when the input cannot be fingerprinted (standard input). */
  readonly record?: InputRecord;
  readonly incremental: boolean;
}

/** How to read the input. */
export interface InputRequest {
  readonly paths: readonly string[];
  readonly io: CliIo;
  readonly strict: boolean;
  /** Plan everything (`--full`). */
  readonly full: boolean;
  /** Run the access tests of the input against the planned state (`--test`); implies full. */
  readonly test?: boolean;
  /** The options of a full plan; the scope is narrowed here when planning incrementally. */
  readonly options: (state: DesiredState) => PlanOptions;
  /** `--lint-rules FILE` (else `ROSTER_LINT_RULES`, else Roster's rules). */
  readonly lintRules?: string;
}

/** Above this share of changed files, reading them twice costs more than a full read. */
const MAX_CHANGED_SHARE = 0.5;

/** Reads the input, whole or incrementally; prints findings; undefined when it is invalid. */
export async function prepareInput(
  connect: () => Promise<pg.Pool>,
  request: InputRequest,
): Promise<PreparedInput | undefined> {
  const { io } = request;
  const leastPrivilege = await leastPrivilegeOption(request.lintRules, io);
  if (leastPrivilege === null) return undefined;
  const loadOptions: LoadOptions = {
    limits: DEFAULT_LIMITS,
    ...(leastPrivilege !== undefined && { leastPrivilege }),
  };
  const listed = await listSources(request.paths, { cwd: io.cwd });
  const probe = request.options(EMPTY_STATE);
  const incremental =
    !request.full &&
    request.test !== true &&
    probe.pruneAbsent !== true &&
    listed.stdinAt === undefined &&
    listed.findings.length === 0 &&
    listed.files.length > 0;
  if (!incremental) {
    return prepareFull(connect, request, listed, loadOptions);
  }

  const manager = probe.manager;
  const pool = await connect();
  // Fingerprinting the files (here) and reading the index and the organizations' rows (in
  // PostgreSQL) overlap: one waits on the disk and hashes, the other scans.
  const [shas, { recorded, first }] = await Promise.all([
    hashListedFiles(listed.files),
    (async () => {
      const found = await readRecordedFiles(pool, manager, listed.roots);
      const orgs = new Set<string>();
      for (const file of found.values()) for (const org of file.organizations) orgs.add(org);
      return { recorded: found, first: await observations(pool, manager, [...orgs], probe.now) };
    })(),
  ]);
  const shaOf = new Map<string, string>();
  const changed: ListedFile[] = [];
  const unchanged = new Map<string, RecordedFile>();
  listed.files.forEach((file, i) => {
    const sha = shas[i];
    if (sha !== undefined) shaOf.set(file.shown, sha);
    const known = recorded.get(file.shown);
    if (known !== undefined && sha !== undefined && known.sha256 === sha) {
      unchanged.set(file.shown, known);
    } else changed.push(file);
  });
  if (recorded.size === 0 || changed.length > listed.files.length * MAX_CHANGED_SHARE) {
    return prepareFull(connect, request, listed, loadOptions);
  }
  const present = new Set(listed.files.map((f) => f.shown));
  const removed = [...recorded.values()].filter((r) => !present.has(r.path));

  // Read: the changed files, the plans and roles, files with warnings (so that they are shown), and
  // every file of an organization planned. What the read files declare can plan more
  // organizations (a plan or role changed, an organization moved into a changed file, a document
  // name taken twice): then the closure grows and is read again, until it holds.
  const declares = new Map<string, RecordedFile>(unchanged);
  for (const file of changed) {
    const before = recorded.get(file.shown);
    if (before !== undefined) declares.set(file.shown, before); // until read
  }
  const load = new Set<string>(changed.map((f) => f.shown));
  for (const file of unchanged.values()) {
    if (file.plans.length > 0 || file.roles.length > 0 || file.warnings > 0 || file.declaresUsers) {
      load.add(file.path);
    }
  }
  const planned = new Set<string>();
  const plan = (orgs: Iterable<string>) => {
    for (const org of orgs) planned.add(org);
  };
  for (const file of changed) plan(recorded.get(file.shown)?.organizations ?? []);
  for (const file of removed) plan(file.organizations);

  const states = new Map<string, OrganizationState>();
  const observed = new Set<string>();
  const recordedOrgs = new Map<string, RecordedOrganization>();
  /** Takes what the database and the index say of organizations; plans them if needed. */
  const take = (orgs: readonly string[], seen: Observations) => {
    for (const org of orgs) {
      observed.add(org);
      const now = seen.states.get(org);
      const then = seen.recorded.get(org);
      if (now !== undefined) states.set(org, now);
      if (then !== undefined) recordedOrgs.set(org, then);
      if (
        then === undefined ||
        now === undefined ||
        now.foreign ||
        now.expired ||
        now.digest !== then.stateDigest
      ) {
        planned.add(org);
      }
    }
  };
  /** The same, for organizations not seen yet. */
  const observe = async (orgs: readonly string[]) => {
    const fresh = orgs.filter((org) => !observed.has(org));
    if (fresh.length > 0) take(fresh, await observations(pool, manager, fresh, probe.now));
  };

  let filesOf = filesByOrganization(declares);
  take(
    [...filesOf.keys()].filter((org) => first.states.has(org) || first.recorded.has(org)),
    first,
  );
  await observe([...filesOf.keys()]);
  let loaded: LoadResult | undefined;
  let index: ReturnType<typeof indexInput> | undefined;
  let loadedPaths = new Set<string>();
  for (;;) {
    closeOver(planned, load, declares, filesOf);
    if (loaded !== undefined && load.size === loadedPaths.size) break;
    // A role of one organization names it: any organization of the input may be meant.
    loaded = await loadFiles(listed.files, load, {
      ...loadOptions,
      organizationsElsewhere: new Set(filesOf.keys()),
    });
    loadedPaths = new Set(load);
    index = indexInput(loaded.state, loaded.findings, shaOf);
    const readDocuments = new Set<string>();
    for (const file of index.files) {
      const declaresUsers = file.documents.some((name) => name.startsWith('User/'));
      declares.set(file.path, { ...file, declaresUsers });
      for (const name of file.documents) readDocuments.add(name);
    }
    filesOf = filesByOrganization(declares);
    await observe([...filesOf.keys()]);
    // The rules see both places of a document name declared twice, and the roles the records
    // read name: a role of one organization is read with that organization only (its file is
    // indexed there), so a record of another naming it finds it here and is told whose it is.
    for (const role of namedRoles(loaded.state)) readDocuments.add(`Role//${role}`);
    for (const path of await readFilesDeclaring(pool, manager, [...readDocuments])) {
      if (unchanged.has(path)) load.add(path);
    }
    // Organizations whose files or whose plans and roles changed in the input. Every such case
    // the equivalence test makes is also caught by a changed file or the widening below; the
    // digest is what the index records, and checking it costs nothing.
    const catalog = catalogDigests(loaded.state);
    for (const [org, paths] of filesOf) {
      const before = recordedOrgs.get(org);
      if (planned.has(org) || before === undefined) continue;
      const files = paths.map((path) => ({ path, sha256: shaOf.get(path) ?? '' }));
      if (inputDigest(files, before.uses, catalog) !== before.inputDigest) planned.add(org);
    }
    // Plans and roles the plan will change: every organization using them is checked again.
    const changing = await changingCatalog(pool, loaded.state, manager);
    // A User whose aliases change changes who every address names: every organization is planned.
    if (changing.users.length > 0) {
      io.stderr.write(
        `Full plan: the aliases of ${changing.users.slice(0, 3).join(', ')}${changing.users.length > 3 ? ', …' : ''} change.\n`,
      );
      return prepareFull(connect, request, listed, loadOptions);
    }
    if (changing.plans.length > 0 || changing.roles.length > 0) {
      const uses = new Set([
        ...changing.plans.map((p) => `plan:${p}`),
        ...changing.roles.map((r) => `role:${r}`),
      ]);
      for (const [org, before] of recordedOrgs) {
        if (before.uses.some((u) => uses.has(u))) planned.add(org);
      }
      plan(await readOrganizationsUsing(pool, changing.plans, changing.roles));
    }
    for (const org of [...planned]) if (!filesOf.has(org)) planned.delete(org);
  }
  if (loaded === undefined || index === undefined) {
    throw new Error('internal error: nothing was read');
  }

  if (!reportFindings(io, loaded, request.strict)) return undefined;
  const options = request.options(loaded.state);
  const scope = [...filesOf.keys()].sort();
  io.stderr.write(
    `Incremental plan: ${changed.length + removed.length} of ${listed.files.length} file${listed.files.length === 1 ? '' : 's'} changed since the last apply; planning ${planned.size} of ${scope.length} organization${scope.length === 1 ? '' : 's'} (--full plans every one).\n`,
  );
  return {
    desired: desiredRecords(loaded.state),
    options: { ...options, scope: [...planned].sort() },
    inputScope: scope,
    states,
    record: {
      files: index.files,
      removedPaths: removed.map((r) => r.path),
      organizations: index.organizations,
    },
    incremental: true,
  };
}

/** The custom roles the records of a state name that it does not declare. */
function namedRoles(state: DesiredState): Set<string> {
  const named = new Set<string>();
  const name = (role: string | undefined) => {
    if (role !== undefined && !state.roles.has(role) && !BUILT_IN_ROLES.has(role)) named.add(role);
  };
  for (const m of state.memberships) name(m.role);
  for (const g of state.grants) name(g.role);
  for (const g of state.groups) {
    name(g.role);
    for (const grant of g.grants) name(grant.role);
  }
  return named;
}

/** What the database and the index say of some organizations. */
interface Observations {
  readonly states: ReadonlyMap<string, OrganizationState>;
  readonly recorded: ReadonlyMap<string, RecordedOrganization>;
}

async function observations(
  pool: pg.Pool,
  manager: string,
  orgs: readonly string[],
  now: Date,
): Promise<Observations> {
  const [states, recorded] = await Promise.all([
    readOrganizationStates(pool, manager, orgs, now),
    readRecordedOrganizations(pool, manager, orgs),
  ]);
  return { states, recorded };
}

/** The files declaring each organization. */
function filesByOrganization(declares: ReadonlyMap<string, RecordedFile>): Map<string, string[]> {
  const filesOf = new Map<string, string[]>();
  for (const file of declares.values()) {
    for (const org of file.organizations) {
      const list = filesOf.get(org);
      if (list === undefined) filesOf.set(org, [file.path]);
      else list.push(file.path);
    }
  }
  return filesOf;
}

/**
 * Whole organizations: every file declaring an organization planned is read, and every
 * organization a file read declares is planned, until both hold.
 */
function closeOver(
  planned: Set<string>,
  load: Set<string>,
  declares: ReadonlyMap<string, RecordedFile>,
  filesOf: ReadonlyMap<string, readonly string[]>,
): void {
  let grown = true;
  while (grown) {
    grown = false;
    for (const org of planned) {
      for (const path of filesOf.get(org) ?? []) {
        if (!load.has(path)) {
          load.add(path);
          grown = true;
        }
      }
    }
    for (const path of load) {
      for (const org of declares.get(path)?.organizations ?? []) {
        if (!planned.has(org)) {
          planned.add(org);
          grown = true;
        }
      }
    }
  }
}

/** Reads and checks every file. */
async function prepareFull(
  connect: () => Promise<pg.Pool>,
  request: InputRequest,
  listed: ListedSources,
  load: LoadOptions,
): Promise<PreparedInput | undefined> {
  const { io } = request;
  const read = await readListedSources(listed, { stdin: io.stdin });
  const loaded = await loadSourcesInThreads(read.sources, load);
  const findings = [...read.findings, ...loaded.findings];
  if (
    !reportFindings(
      io,
      { ...loaded, findings, errors: loaded.errors + read.findings.length },
      request.strict,
    )
  ) {
    return undefined;
  }
  if (request.test === true && !passesAccessTests(io, loaded)) return undefined;
  const options = request.options(loaded.state);
  let record: InputRecord | undefined;
  if (listed.stdinAt === undefined) {
    // Hashed from what was read and planned, even when an incremental attempt hashed the files
    // already: a file edited in between must be recorded as it was planned, not as it is now.
    const shaOf = new Map(read.sources.map((s) => [s.path, sourceSha256(s)]));
    const index = indexInput(loaded.state, loaded.findings, shaOf);
    const recorded = await readRecordedFiles(await connect(), options.manager, listed.roots);
    record = {
      files: index.files,
      removedPaths: [...recorded.keys()].filter((path) => !shaOf.has(path)),
      organizations: index.organizations,
    };
  }
  return {
    desired: desiredRecords(loaded.state),
    options,
    inputScope: options.scope,
    ...(record !== undefined && { record }),
    incremental: false,
  };
}

/** Reads and checks the listed files whose path is in `paths`, in the listing's order. */
async function loadFiles(
  files: readonly ListedFile[],
  paths: ReadonlySet<string>,
  options: LoadOptions,
): Promise<LoadResult> {
  const read = await readListedFiles(files.filter((f) => paths.has(f.shown)));
  const loaded = await loadSourcesInThreads(read.sources, options);
  if (read.findings.length === 0) return loaded;
  const findings = [...read.findings, ...loaded.findings];
  return { ...loaded, findings, errors: loaded.errors + read.findings.length };
}

/** Prints the findings; false when the input cannot be planned. */
/**
 * `--test`: the access tests among the input, against the state the plan leaves (the declared
 * one: what Roster manages is made to match it). False, after saying why, when one fails or
 * there is none.
 */
function passesAccessTests(io: CliIo, loaded: LoadResult): boolean {
  if (loaded.accessTests.length === 0) {
    io.stderr.write(
      'roster: --test, but no AccessTest document in the input; nothing was planned\n',
    );
    return false;
  }
  const failures = runAccessTests(loaded.state, loaded.accessTests, new Date());
  if (failures.length === 0) return true;
  io.stderr.write(renderFindingsText(failures));
  io.stderr.write(
    `roster: ${failures.length} of ${loaded.accessTests.length} access expectations fail on the planned state; nothing was planned\n`,
  );
  return false;
}

function reportFindings(
  io: CliIo,
  loaded: Pick<LoadResult, 'findings' | 'errors' | 'warnings'>,
  strict: boolean,
): boolean {
  io.stderr.write(renderFindingsText(loaded.findings));
  if (loaded.errors > 0 || (strict && loaded.warnings > 0)) {
    io.stderr.write(
      `roster: the input is invalid (${summarizeFindings(loaded.findings)}); nothing was planned\n`,
    );
    return false;
  }
  return true;
}

/**
 * The plans, roles and users of the input that a plan will change: different in the database, absent
 * there, changed there since Roster wrote them, or not managed by this manager.
 */
async function changingCatalog(
  db: pg.Pool,
  state: DesiredState,
  manager: string,
): Promise<{ plans: string[]; roles: string[]; users: string[] }> {
  const nameOf = (id: RecordId) => KIND_TABLE[id.kind].key(id as never).join('/');
  const actual = new Map(
    [...(await readPlans(db)), ...(await readRoles(db)), ...(await readUsers(db))].map((r) => [
      `${r.id.kind}:${nameOf(r.id)}`,
      r,
    ]),
  );
  const changing = { plans: [] as string[], roles: [] as string[], users: [] as string[] };
  const listOf = { plan: changing.plans, role: changing.roles, user: changing.users };
  for (const kind of ['plan', 'role', 'user'] as const) {
    for (const record of KIND_TABLE[kind].desired(state)) {
      const name = nameOf(record.id);
      const existing = actual.get(`${kind}:${name}`);
      if (
        existing === undefined ||
        existing.managedBy !== manager ||
        changedFields(existing.fields, record.fields).length > 0 ||
        (existing.lastApplied !== null &&
          changedFields(existing.lastApplied, existing.fields).length > 0)
      ) {
        listOf[kind].push(name);
      }
    }
  }
  return changing;
}

/**
 * Completes a plan made of the organizations planned into the plan of the whole input: its scope,
 * the invitations awaiting acceptance in the organizations left out, and its basis.
 */
export async function completePlan(
  pool: pg.Pool,
  plan: Plan,
  prepared: PreparedInput,
  options: { readonly basis: boolean },
): Promise<Plan> {
  let awaiting = plan.awaitingAcceptanceBy;
  if (prepared.incremental && prepared.states !== undefined) {
    const planned = new Set(prepared.options.scope === 'all' ? [] : prepared.options.scope);
    let { memberships, grants } = awaiting;
    for (const [org, state] of prepared.states) {
      if (planned.has(org)) continue;
      memberships += state.invited.memberships;
      grants += state.invited.grants;
    }
    awaiting = { memberships, grants };
  }
  const basis = options.basis
    ? await readBasis(
        pool,
        plan.manager,
        prepared.inputScope,
        prepared.options.now,
        prepared.states,
      )
    : plan.basis;
  const complete: Plan = {
    ...plan,
    basis,
    options: { ...plan.options, scope: prepared.inputScope },
    awaitingAcceptance: awaiting.memberships + awaiting.grants,
    awaitingAcceptanceBy: awaiting,
  };
  return complete;
}

/** Records the input inside an apply's transaction (see `ApplyContext.record`). */
export function recorder(
  prepared: PreparedInput,
): ((db: pg.PoolClient) => Promise<void>) | undefined {
  const record = prepared.record;
  if (record === undefined) return undefined;
  return (db) => recordInput(db, prepared.options.manager, record, prepared.options.now);
}

const EMPTY_STATE: DesiredState = {
  plans: new Map(),
  roles: new Map(),
  users: new Map(),
  organizations: new Map(),
  memberships: [],
  grants: [],
  groups: [],
  delegations: [],
  contacts: [],
};
