/**
 * From sources to a validated desired state: parse, check each document against its schema,
 * build the records, run the rules. Pure; all findings of all sources are collected, so one run
 * reports every problem.
 */
import { isAccessTest, readAccessTest, type AccessExpectation } from './access-test.js';
import { checkDocument, declaredName, type CheckedDocument } from './check-document.js';
import { buildDesiredState } from './desired-state.js';
import { compareFindings, countFindings, type Finding } from './findings.js';
import { DEFAULT_LIMITS, type InputLimits } from './limits.js';
import type { DesiredState } from './model.js';
import { parseSource, type ParsedSource, type Source } from './parse.js';
import type { LeastPrivilegePolicy } from './least-privilege.js';
import { checkRules } from './rules.js';

/** Options of `loadSources`. */
export interface LoadOptions {
  readonly limits?: InputLimits;
  /** "Now" for expiry rules; defaults to the current time. */
  readonly now?: Date;
  /** The least-privilege rules (Roster's own by default). */
  readonly leastPrivilege?: LeastPrivilegePolicy;
  /** Organizations that exist beyond these sources (see `RuleContext`). */
  readonly organizationsElsewhere?: ReadonlySet<string> | 'any';
}

/** The outcome of loading: the state (complete only when there are no errors) and findings. */
export interface LoadResult {
  readonly state: DesiredState;
  /** Sorted by file, line, column. */
  readonly findings: readonly Finding[];
  readonly documents: number;
  readonly errors: number;
  readonly warnings: number;
  /** The expectations of the AccessTest documents among the sources (`roster test`). */
  readonly accessTests: readonly AccessExpectation[];
}

/** Parses, checks and builds the desired state of a set of sources. */
export function loadSources(sources: readonly Source[], options: LoadOptions = {}): LoadResult {
  const limits = options.limits ?? DEFAULT_LIMITS;
  const checker = new DocumentChecker();
  for (const source of sources) checker.add(parseSource(source, limits));
  return checker.finish(options);
}

/** Checks parsed sources one by one, in order (as they arrive), then builds the state. */
export class DocumentChecker {
  private readonly findings: Finding[] = [];
  private readonly checked: CheckedDocument[] = [];
  private readonly unchecked = new Set<string>();
  private readonly accessTests: AccessExpectation[] = [];
  private documents = 0;

  add(parsed: ParsedSource): void {
    this.findings.push(...parsed.findings);
    for (const document of parsed.documents) {
      this.documents++;
      // Access tests sit next to the manifests; they declare no record.
      if (isAccessTest(document)) {
        const read = readAccessTest(document);
        for (const item of read) {
          if ('severity' in item) this.findings.push(item);
          else this.accessTests.push(item);
        }
        continue;
      }
      const result = checkDocument(document);
      if (Array.isArray(result)) {
        this.findings.push(...result);
        const name = declaredName(document.value);
        if (name !== undefined) this.unchecked.add(name);
      } else {
        this.checked.push(result);
      }
    }
  }

  finish(options: LoadOptions = {}): LoadResult {
    const { findings, unchecked } = this;
    const { state, findings: buildFindings } = buildDesiredState(this.checked);
    // Appended one by one: spreading a large list into push() overflows the stack.
    for (const f of buildFindings) findings.push(f);
    const context = {
      now: options.now ?? new Date(),
      unchecked,
      ...(options.leastPrivilege !== undefined && { leastPrivilege: options.leastPrivilege }),
      ...(options.organizationsElsewhere !== undefined && {
        organizationsElsewhere: options.organizationsElsewhere,
      }),
    };
    for (const f of checkRules(state, context)) {
      findings.push(f);
    }
    findings.sort(compareFindings);
    return {
      state,
      findings,
      documents: this.documents,
      ...countFindings(findings),
      accessTests: this.accessTests,
    };
  }
}
