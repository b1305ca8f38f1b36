/**
 * Roster's library API, for pipelines that call Roster without a shell:
 *
 *     import { loadManifests, openAccessDatabase, planChanges, applyPlan } from 'roster';
 *     const { state, errors } = await loadManifests(['tenants/']);
 *     const db = await openAccessDatabase({ env: process.env, cwd: process.cwd(), applicationName: 'onboarding' });
 *     const result = await applyPlan(db, state, { actor: 'onboarding-pipeline' });
 */
import { DEFAULT_LIMITS } from './core/limits.js';
import type { LoadOptions, LoadResult } from './core/load.js';
import { loadSourcesInThreads } from './files/parse-threads.js';
import type { Finding } from './core/findings.js';
import { readSources } from './files/read-sources.js';
import type { DesiredState } from './core/model.js';
import {
  CLI_MANAGER,
  DEFAULT_MAX_ORG_REMOVAL_RATIO,
  type Plan,
  type PlanOptions,
} from './core/plan.js';
import { desiredRecords } from './core/records.js';
import type { AccessDatabase } from './store/connect.js';
import { applyChanges, type ApplyContext, type ApplyResult } from './store/apply.js';

export { loadSources, type LoadOptions, type LoadResult } from './core/load.js';
export type { Finding, SourceLocation, Severity } from './core/findings.js';
export type { Source } from './core/parse.js';
export type * from './core/model.js';
export type * from './core/schema/index.js';
export { DEFAULT_LIMITS, type InputLimits } from './core/limits.js';
export { renderFindingsText, findingsReport } from './core/render-findings.js';
export { RosterError, UsageError } from './core/errors.js';
export {
  planChanges,
  CLI_MANAGER,
  DEFAULT_MAX_ORG_REMOVAL_RATIO,
  PLAN_FORMAT_VERSION,
  type Plan,
  type PlanOptions,
  type PlannedChange,
  type PlannedInvitation,
  type DriftItem,
  type Refusal,
  type ActualState,
} from './core/plan.js';
export { desiredRecords, type AccessRecord, type RecordId } from './core/records.js';
export { renderPlanText, renderPlanMarkdown } from './core/render-plan.js';
export { exportManifests } from './core/export.js';
export { openAccessDatabase, type AccessDatabase } from './store/connect.js';
export { readSnapshot } from './store/snapshot.js';
export { migrate } from './store/migrate.js';
export {
  applyChanges,
  PlanRefusedError,
  type ApplyContext,
  type ApplyResult,
} from './store/apply.js';
export { LockHeldError, StalePlanError, DatabaseError } from './store/errors.js';

/** Reads files, directories or `-` and loads them; the result's findings include unreadable paths. */
export async function loadManifests(
  paths: readonly string[],
  options: LoadOptions & { cwd?: string } = {},
): Promise<LoadResult> {
  const limits = options.limits ?? DEFAULT_LIMITS;
  const read = await readSources(paths, {
    maxFileBytes: limits.maxFileBytes,
    ...(options.cwd !== undefined && { cwd: options.cwd }),
  });
  const loaded = await loadSourcesInThreads(read.sources, options);
  const findings: Finding[] = [...read.findings, ...loaded.findings];
  return { ...loaded, findings, errors: loaded.errors + read.findings.length };
}

/**
 * Applies a desired state (planned under the apply lock, with the same guards as the CLI) or a
 * saved plan (refused if the database changed since). Throws `PlanRefusedError`,
 * `StalePlanError` or `LockHeldError`; nothing is written unless the whole apply succeeds.
 */
export async function applyPlan(
  database: AccessDatabase,
  input: DesiredState | Plan,
  context: ApplyContext,
  options: Partial<Omit<PlanOptions, 'scope'>> = {},
): Promise<ApplyResult> {
  if ('formatVersion' in input) return applyChanges(database.pool, { plan: input }, context);
  const prune = options.prune ?? false;
  return applyChanges(
    database.pool,
    {
      desired: desiredRecords(input),
      options: {
        manager: options.manager ?? CLI_MANAGER,
        prune,
        pruneAbsent: prune,
        ...(options.maxRemovals !== undefined && { maxRemovals: options.maxRemovals }),
        maxOrgRemovalRatio: options.maxOrgRemovalRatio ?? DEFAULT_MAX_ORG_REMOVAL_RATIO,
        now: options.now ?? new Date(),
        scope: prune ? 'all' : [...input.organizations.keys()].sort(),
      },
    },
    context,
  );
}
