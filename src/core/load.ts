/**
 * From sources to a validated desired state: parse, check each document against its schema,
 * build the records, run the rules. Pure; all findings of all sources are collected, so one run
 * reports every problem.
 */
import { checkDocument, declaredName, type CheckedDocument } from './check-document.js';
import { buildDesiredState } from './desired-state.js';
import { compareFindings, countFindings, type Finding } from './findings.js';
import { DEFAULT_LIMITS, type InputLimits } from './limits.js';
import type { DesiredState } from './model.js';
import { parseSource, type Source } from './parse.js';
import { checkRules } from './rules.js';

/** Options of `loadSources`. */
export interface LoadOptions {
  readonly limits?: InputLimits;
  /** "Now" for expiry rules; defaults to the current time. */
  readonly now?: Date;
}

/** The outcome of loading: the state (complete only when there are no errors) and findings. */
export interface LoadResult {
  readonly state: DesiredState;
  /** Sorted by file, line, column. */
  readonly findings: readonly Finding[];
  readonly documents: number;
  readonly errors: number;
  readonly warnings: number;
}

/** Parses, checks and builds the desired state of a set of sources. */
export function loadSources(sources: readonly Source[], options: LoadOptions = {}): LoadResult {
  const limits = options.limits ?? DEFAULT_LIMITS;
  const findings: Finding[] = [];
  const checked: CheckedDocument[] = [];
  const unchecked = new Set<string>();
  let documents = 0;
  for (const source of sources) {
    const parsed = parseSource(source, limits);
    findings.push(...parsed.findings);
    for (const document of parsed.documents) {
      documents++;
      const result = checkDocument(document);
      if (Array.isArray(result)) {
        findings.push(...result);
        const name = declaredName(document.value);
        if (name !== undefined) unchecked.add(name);
      } else {
        checked.push(result);
      }
    }
  }
  const { state, findings: buildFindings } = buildDesiredState(checked);
  findings.push(...buildFindings);
  findings.push(...checkRules(state, { now: options.now ?? new Date(), unchecked }));
  findings.sort(compareFindings);
  return { state, findings, documents, ...countFindings(findings) };
}
