/**
 * The lint rules file (`--lint-rules FILE`, or `ROSTER_LINT_RULES`): the least-privilege rules a
 * platform adds to Roster's, or puts in their place, and the roles it exempts. Checked like a
 * manifest: a schema, every problem at its line and column, a pattern that matches no permission
 * named with the closest one.
 *
 *     apiVersion: roster.dev/v1alpha1
 *     kind: LintRules
 *     leastPrivilege:
 *       builtInRules: true          # keep Roster's rules (default)
 *       exempt: [finance-admin]     # custom roles reviewed and accepted as they are
 *       rules:
 *         - name: no-billing-for-contractors
 *           holds: [billing.*]
 *           with: [resource.*]      # optional: only together with one of these
 *           severity: error         # default warning
 *           reason: contractors are never paid through the console
 */
import { compileSchema, describeSchemaErrors } from '../core/check-document.js';
import { didYouMean } from '../core/closest-match.js';
import type { Finding, Severity } from '../core/findings.js';
import {
  ALL_PERMISSIONS,
  BUILT_IN_LEAST_PRIVILEGE_RULES,
  permissionsMatching,
  type LeastPrivilegePolicy,
  type LeastPrivilegeRule,
} from '../core/least-privilege.js';
import { DEFAULT_LIMITS } from '../core/limits.js';
import { parseSource, type ParsedDocument } from '../core/parse.js';
import { API_VERSION } from '../core/schema/index.js';
import { readSources } from './read-sources.js';

const NAME = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
const PATTERN = '^[a-z]+(\\.[a-z]+)*(\\.\\*)?$|^[a-z]+\\*$';
const patterns = { type: 'array', minItems: 1, items: { type: 'string', pattern: PATTERN } };

/** The file's JSON Schema (also published for editors: schemas/lint-rules.json). */
export const LINT_RULES_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['apiVersion', 'kind'],
  properties: {
    apiVersion: { const: API_VERSION },
    kind: { const: 'LintRules' },
    leastPrivilege: {
      type: 'object',
      additionalProperties: false,
      properties: {
        builtInRules: { type: 'boolean' },
        exempt: { type: 'array', items: { type: 'string', pattern: NAME }, uniqueItems: true },
        rules: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'holds', 'reason'],
            properties: {
              name: { type: 'string', pattern: NAME },
              holds: patterns,
              with: patterns,
              severity: { enum: ['warning', 'error'] },
              reason: { type: 'string', minLength: 1, maxLength: 300 },
            },
          },
        },
      },
    },
  },
} as const;

const validate = compileSchema(LINT_RULES_SCHEMA);

interface RulesFile {
  leastPrivilege?: {
    builtInRules?: boolean;
    exempt?: string[];
    rules?: {
      name: string;
      holds: string[];
      with?: string[];
      severity?: Severity;
      reason: string;
    }[];
  };
}

/** What reading a rules file gave: the policy, or the findings that stop it. */
export interface LintRulesResult {
  readonly policy?: LeastPrivilegePolicy;
  readonly findings: readonly Finding[];
}

/** Reads and checks a rules file. */
export async function readLintRules(path: string, cwd: string): Promise<LintRulesResult> {
  const read = await readSources([path], { cwd });
  const source = read.sources[0];
  if (source === undefined) return { findings: read.findings };
  const parsed = parseSource(source, DEFAULT_LIMITS);
  if (parsed.findings.some((f) => f.severity === 'error')) return { findings: parsed.findings };
  const [document, ...more] = parsed.documents;
  if (document === undefined || more.length > 0) {
    return {
      findings: [
        {
          severity: 'error',
          code: 'lint-rules',
          message: `a lint rules file holds one document (kind: LintRules), not ${parsed.documents.length}`,
          location: { file: source.path, line: 1, column: 1 },
        },
      ],
    };
  }
  return checkLintRules(document);
}

/** Checks a parsed rules document; returns the policy it states, or its findings. */
function checkLintRules(document: ParsedDocument): LintRulesResult {
  if (!validate(document.value)) {
    return { findings: describeSchemaErrors(validate.errors ?? [], 'LintRules', document) };
  }
  const spec = (document.value as RulesFile).leastPrivilege ?? {};
  const findings: Finding[] = [];
  const names = new Map<string, number>();
  const rules: LeastPrivilegeRule[] = [];
  (spec.rules ?? []).forEach((rule, i) => {
    const at = (...path: (string | number)[]) =>
      document.locate(['leastPrivilege', 'rules', i, ...path]);
    const first = names.get(rule.name);
    if (first !== undefined) {
      findings.push({
        severity: 'error',
        code: 'duplicate',
        message: `rule "${rule.name}" is declared twice`,
        location: at('name'),
        related: [document.locate(['leastPrivilege', 'rules', first, 'name'])],
      });
    }
    names.set(rule.name, i);
    for (const field of ['holds', 'with'] as const) {
      (rule[field] ?? []).forEach((pattern, j) => {
        if (permissionsMatching(pattern).length > 0) return;
        findings.push({
          severity: 'error',
          code: 'unknown-permission',
          message: `"${pattern}" matches no permission.${didYouMean(pattern, ALL_PERMISSIONS)} Known: ${ALL_PERMISSIONS.join(', ')}`,
          location: at(field, j),
        });
      });
    }
    rules.push({
      name: rule.name,
      holds: rule.holds,
      ...(rule.with !== undefined && { with: rule.with }),
      severity: rule.severity ?? 'warning',
      reason: rule.reason,
      source: { document, path: ['leastPrivilege', 'rules', i] },
    });
  });
  if (findings.length > 0) return { findings };
  const builtIn = spec.builtInRules ?? true;
  return {
    policy: {
      rules: [
        ...(builtIn ? BUILT_IN_LEAST_PRIVILEGE_RULES.filter((r) => !names.has(r.name)) : []),
        ...rules,
      ],
      exempt: new Set(spec.exempt ?? []),
    },
    findings: [],
  };
}
