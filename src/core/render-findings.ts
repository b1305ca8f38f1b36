/** Renders findings for people (one line each, like a compiler) and for programs (JSON). */
import { countFindings, formatLocation, type Finding } from './findings.js';

/** `file:line:column: error: message [code]`, one line per finding. */
export function renderFindingsText(findings: readonly Finding[]): string {
  return findings
    .map((f) => {
      const where = f.location === undefined ? 'roster' : formatLocation(f.location);
      return `${where}: ${f.severity}: ${f.message} [${f.code}]\n`;
    })
    .join('');
}

/** `2 errors, 1 warning`. */
export function summarizeFindings(findings: readonly Finding[]): string {
  const { errors, warnings } = countFindings(findings);
  return `${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`;
}

/** Version of the JSON findings report; bumped on any incompatible change. */
export const FINDINGS_REPORT_VERSION = 1;

/** The machine-readable report of `roster validate --format json`. */
export interface FindingsReport {
  readonly version: typeof FINDINGS_REPORT_VERSION;
  readonly valid: boolean;
  readonly documents: number;
  readonly errors: number;
  readonly warnings: number;
  readonly findings: readonly Finding[];
}

/** Builds the JSON report; `valid` follows the same rule as the exit code. */
export function findingsReport(
  findings: readonly Finding[],
  documents: number,
  strict: boolean,
): FindingsReport {
  const { errors, warnings } = countFindings(findings);
  return {
    version: FINDINGS_REPORT_VERSION,
    valid: errors === 0 && (!strict || warnings === 0),
    documents,
    errors,
    warnings,
    findings,
  };
}
