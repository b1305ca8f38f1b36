import { describe, expect, it } from 'vitest';
import { formatLocation } from './findings.js';
import { BUILT_IN_LEAST_PRIVILEGE_RULES, type LeastPrivilegePolicy } from './least-privilege.js';
import { loadSources } from './load.js';

const role = (name: string, permissions: string[], scope = 'organization') =>
  `apiVersion: roster.dev/v1alpha1\nkind: Role\nmetadata: { name: ${name} }\nspec: { scope: ${scope}, permissions: [${permissions.join(', ')}] }\n`;

function judged(text: string, leastPrivilege?: LeastPrivilegePolicy) {
  return loadSources([{ path: 'r.yaml', content: text }], {
    now: new Date('2026-11-24T00:00:00Z'),
    ...(leastPrivilege !== undefined && { leastPrivilege }),
  }).findings.map(
    (f) => `${f.severity} ${f.location ? formatLocation(f.location) : '-'} ${f.message}`,
  );
}

describe('least privilege, judged by what a role grants', () => {
  it('finds billing held with member management, whatever the role is called', () => {
    expect(judged(role('intern', ['members.view', 'billing.manage', 'members.manage']))).toEqual([
      'warning r.yaml:4:74 role "intern" holds billing.manage and members.manage: one role that pays and decides who gets in lets one person take the account over (least privilege, rule "billing-with-member-management"; exempt the role in the lint rules if this is intended)',
    ]);
  });

  it('finds billing held with technical access', () => {
    expect(judged(role('lead', ['resources.manage', 'billing.view']))).toEqual([
      expect.stringMatching(
        /^warning r\.yaml:4:62 role "lead" holds billing\.view and resources\.manage: billing and technical access belong in separate roles/,
      ),
    ]);
  });

  it('leaves alone a role of one duty, however its name sounds', () => {
    expect(judged(role('devops-billing', ['billing.view', 'billing.manage']))).toEqual([]);
    expect(judged(role('developer-plus', ['resources.manage', 'domains.manage']))).toEqual([]);
    expect(judged(role('site-ops', ['resource.deploy', 'resource.logs'], 'resource'))).toEqual([]);
  });

  it('applies a platform’s rules: errors, exemptions, a rule without a second duty', () => {
    const policy: LeastPrivilegePolicy = {
      rules: [
        ...BUILT_IN_LEAST_PRIVILEGE_RULES,
        {
          name: 'no-member-management',
          holds: ['members.manage'],
          severity: 'error',
          reason: 'only the owner manages members here',
        },
      ],
      exempt: new Set(['finance-admin']),
    };
    const text = [
      role('helper', ['members.view', 'members.manage']),
      role('finance-admin', ['billing.manage', 'members.manage']),
    ].join('---\n');
    expect(judged(text, policy)).toEqual([
      expect.stringMatching(
        /^error r\.yaml:4:58 role "helper" holds members\.manage: only the owner manages members here \(least privilege, rule "no-member-management"/,
      ),
    ]);
    // Without the rules, Roster's own apply and nothing is exempt.
    expect(judged(text).map((f) => f.split(' ').slice(0, 2).join(' '))).toEqual([
      'warning r.yaml:9:60',
    ]);
  });
});
