/**
 * Findings: what validation says about the input, each pointing at a place in a file. They are
 * data, rendered by `render-findings.ts`; only the CLI decides what they mean for the exit code.
 */

/** A place in a source file; line and column start at 1. */
export interface SourceLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** The path of the node, when the input was not a file (e.g. Pulumi resource inputs). */
  readonly path?: readonly (string | number)[];
}

/** How bad a finding is: an error stops a plan; a warning fails only `--strict`. */
export type Severity = 'error' | 'warning';

/** One thing validation found. */
export interface Finding {
  readonly severity: Severity;
  /** A stable, kebab-case identifier of the rule, for scripts and suppressions. */
  readonly code: string;
  /** One line of text, saying what is wrong and what to write instead. */
  readonly message: string;
  /** Where; absent only when there is no file (e.g. an unreadable path). */
  readonly location?: SourceLocation;
  /** Other places that matter to the finding, e.g. the first declaration of a duplicate. */
  readonly related?: readonly SourceLocation[];
}

/** Orders findings by file, line, column, so that output is stable and reads top-down. */
export function compareFindings(a: Finding, b: Finding): number {
  const fa = a.location?.file ?? '';
  const fb = b.location?.file ?? '';
  if (fa !== fb) return fa < fb ? -1 : 1;
  const la = a.location?.line ?? 0;
  const lb = b.location?.line ?? 0;
  if (la !== lb) return la - lb;
  const ca = a.location?.column ?? 0;
  const cb = b.location?.column ?? 0;
  if (ca !== cb) return ca - cb;
  return a.message < b.message ? -1 : a.message > b.message ? 1 : 0;
}

/** Formats a location the way compilers and editors understand: `file:line:column`. */
export function formatLocation(location: SourceLocation): string {
  return `${location.file}:${location.line}:${location.column}`;
}

/** Counts findings by severity. */
export function countFindings(findings: readonly Finding[]): { errors: number; warnings: number } {
  let errors = 0;
  for (const f of findings) if (f.severity === 'error') errors++;
  return { errors, warnings: findings.length - errors };
}
