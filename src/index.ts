/**
 * Roster's library API, for pipelines that call Roster without a shell:
 *
 *     import { loadManifests } from 'roster';
 *     const { state, findings, errors } = await loadManifests(['tenants/']);
 */
import { DEFAULT_LIMITS } from './core/limits.js';
import { loadSources, type LoadOptions, type LoadResult } from './core/load.js';
import type { Finding } from './core/findings.js';
import { readSources } from './files/read-sources.js';

export { loadSources, type LoadOptions, type LoadResult } from './core/load.js';
export type { Finding, SourceLocation, Severity } from './core/findings.js';
export type { Source } from './core/parse.js';
export type * from './core/model.js';
export type * from './core/schema/index.js';
export { DEFAULT_LIMITS, type InputLimits } from './core/limits.js';
export { renderFindingsText, findingsReport } from './core/render-findings.js';
export { RosterError, UsageError } from './core/errors.js';

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
  const loaded = loadSources(read.sources, options);
  const findings: Finding[] = [...read.findings, ...loaded.findings];
  return { ...loaded, findings, errors: loaded.errors + read.findings.length };
}
