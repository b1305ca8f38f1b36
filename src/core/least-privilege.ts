/**
 * Least privilege, judged by what a role grants rather than by its name: a custom role that
 * holds permissions of two duties that should stay apart (paying and deploying, paying and
 * deciding who gets in) is reported, whatever it is called. Separation of duties, as access
 * reviews check it. Roster ships its rules; a platform adds its own, replaces Roster's, exempts
 * roles it has reviewed, and makes a rule an error (a rules file: `--lint-rules`, docs/format.md).
 * Pure.
 */
import { ORGANIZATION_PERMISSIONS, RESOURCE_PERMISSIONS } from './catalog.js';
import type { Finding, Severity } from './findings.js';
import { locate, type RoleRecord, type SourceRef } from './model.js';
import type { PathSegment } from './parse.js';

/**
 * One rule: a role that holds a permission matching `holds` (and, when `with` is given, also one
 * matching `with`) breaks it. Patterns are permissions, or a prefix and `*` (`billing.*`).
 */
export interface LeastPrivilegeRule {
  readonly name: string;
  readonly holds: readonly string[];
  readonly with?: readonly string[];
  readonly severity: Severity;
  /** Why the duties stay apart: ends the finding's message. */
  readonly reason: string;
  /** Where the rule was written (absent for Roster's own). */
  readonly source?: SourceRef;
}

/** The rules in force, and the custom roles exempt from them. */
export interface LeastPrivilegePolicy {
  readonly rules: readonly LeastPrivilegeRule[];
  readonly exempt: ReadonlySet<string>;
}

const TECHNICAL = ['resources.create', 'resources.manage', 'domains.manage'];

/** Roster's rules. */
export const BUILT_IN_LEAST_PRIVILEGE_RULES: readonly LeastPrivilegeRule[] = [
  {
    name: 'billing-with-technical',
    holds: ['billing.*'],
    with: TECHNICAL,
    severity: 'warning',
    reason: 'billing and technical access belong in separate roles',
  },
  {
    name: 'billing-with-member-management',
    holds: ['billing.manage'],
    with: ['members.invite', 'members.manage'],
    severity: 'warning',
    reason: 'one role that pays and decides who gets in lets one person take the account over',
  },
];

/** The policy when no rules file says otherwise. */
export const DEFAULT_LEAST_PRIVILEGE: LeastPrivilegePolicy = {
  rules: BUILT_IN_LEAST_PRIVILEGE_RULES,
  exempt: new Set(),
};

/** Every permission of either scope, which patterns are matched against. */
export const ALL_PERMISSIONS: readonly string[] = [
  ...ORGANIZATION_PERMISSIONS,
  ...RESOURCE_PERMISSIONS,
];

/** Whether a permission matches a pattern (`billing.*` or an exact permission). */
function matchesPattern(permission: string, pattern: string): boolean {
  return pattern.endsWith('*')
    ? permission.startsWith(pattern.slice(0, -1))
    : permission === pattern;
}

/** The known permissions a pattern matches (none: a typo, reported where the rule is). */
export function permissionsMatching(pattern: string): string[] {
  return ALL_PERMISSIONS.filter((p) => matchesPattern(p, pattern));
}

/** The findings against the custom roles of the input. */
export function judgeRoles(roles: Iterable<RoleRecord>, policy: LeastPrivilegePolicy): Finding[] {
  const findings: Finding[] = [];
  for (const role of roles) {
    if (policy.exempt.has(role.name)) continue;
    for (const rule of policy.rules) {
      const held = indexOfMatch(role.permissions, rule.holds);
      if (held < 0) continue;
      const other = rule.with === undefined ? -1 : indexOfMatch(role.permissions, rule.with);
      if (rule.with !== undefined && other < 0) continue;
      const field: PathSegment[] = [
        'spec',
        'permissions',
        other < 0 ? held : Math.max(held, other),
      ];
      const what =
        other < 0
          ? role.permissions[held]
          : `${role.permissions[held]} and ${role.permissions[other]}`;
      findings.push({
        severity: rule.severity,
        code: 'least-privilege',
        message: `role "${role.name}" holds ${what}: ${rule.reason} (least privilege, rule "${rule.name}"; exempt the role in the lint rules if this is intended)`,
        location: locate(role.source, field),
        ...(rule.source !== undefined && { related: [locate(rule.source)] }),
      });
    }
  }
  return findings;
}

function indexOfMatch(permissions: readonly string[], patterns: readonly string[]): number {
  return permissions.findIndex((p) => patterns.some((pattern) => matchesPattern(p, pattern)));
}
