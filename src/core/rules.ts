/**
 * Rules across documents: references resolve, ownership is unambiguous, plans allow what is
 * declared, and roles follow least privilege. Pure: a function of the desired state and the
 * current time. The planner runs the same rules before it computes any change.
 */
import { isTimeZone } from './messages.js';
import {
  BUILT_IN_ROLES,
  DEFAULT_MAX_DELEGATION_DAYS,
  ORGANIZATION_PERMISSIONS,
  OWNER_ROLE,
  RESOURCE_PERMISSIONS,
  type PlanFeature,
  type RoleDefinition,
  type RoleScope,
} from './catalog.js';
import { didYouMean } from './closest-match.js';
import {
  DEFAULT_LEAST_PRIVILEGE,
  judgeRoles,
  type LeastPrivilegePolicy,
} from './least-privilege.js';
import { planFields, planLimits } from './kinds/plan.js';
import type { Finding } from './findings.js';
import {
  countGrant,
  countMembership,
  emptyUsage,
  FEATURE_PURPOSE,
  organizationViolations,
  type OrganizationUsage,
} from './invariants.js';
import {
  locate,
  type DesiredState,
  type GroupRecord,
  type OrganizationRecord,
  type PlanRecord,
  type SourceRef,
} from './model.js';
import type { PathSegment } from './parse.js';

/** What the rules need besides the state. */
export interface RuleContext {
  /** "Now", for expiry checks; injected so that the rules stay pure and testable. */
  readonly now: Date;
  /**
   * `Kind/name` of documents that are declared but failed their own checks: references to them
   * are not reported as dangling, since the real problem is already reported where they are.
   */
  readonly unchecked?: ReadonlySet<string>;
  /** The least-privilege rules in force (Roster's own unless a rules file says otherwise). */
  readonly leastPrivilege?: LeastPrivilegePolicy;
  /**
   * Organizations that exist beyond the state checked (an incremental plan reads only some of
   * the input's files; the operator sees one organization at a time), which a role may belong
   * to; `any`: not checked (the operator, which sees one organization at a time).
   */
  readonly organizationsElsewhere?: ReadonlySet<string> | 'any';
}

const PERMISSIONS_BY_SCOPE: Record<RoleScope, readonly string[]> = {
  organization: ORGANIZATION_PERMISSIONS,
  resource: RESOURCE_PERMISSIONS,
};

/** Runs every cross-document rule. */
export function checkRules(state: DesiredState, context: RuleContext): Finding[] {
  const findings: Finding[] = [];
  const report = (
    severity: Finding['severity'],
    code: string,
    source: SourceRef,
    field: PathSegment[],
    message: string,
    related?: SourceRef,
  ) => {
    findings.push({
      severity,
      code,
      message,
      location: locate(source, field),
      ...(related !== undefined && { related: [locate(related)] }),
    });
  };
  const error = (code: string, source: SourceRef, field: PathSegment[], message: string) =>
    report('error', code, source, field, message);
  const isUnchecked = (kind: string, name: string) =>
    context.unchecked?.has(`${kind}/${name}`) === true;

  // Roles: names, permissions; then least privilege, by what each grants.
  for (const role of state.roles.values()) {
    if (BUILT_IN_ROLES.has(role.name)) {
      error(
        'built-in-role',
        role.source,
        ['metadata', 'name'],
        `"${role.name}" is a built-in role and cannot be redefined: give the custom role another name`,
      );
    }
    const catalog = PERMISSIONS_BY_SCOPE[role.scope];
    const other: RoleScope = role.scope === 'organization' ? 'resource' : 'organization';
    role.permissions.forEach((permission, i) => {
      const field = ['spec', 'permissions', i];
      if (!catalog.includes(permission)) {
        const hint = PERMISSIONS_BY_SCOPE[other].includes(permission)
          ? ` It is an ${other}-scope permission.`
          : didYouMean(permission, catalog);
        error(
          'unknown-permission',
          role.source,
          field,
          `"${permission}" is not a ${role.scope}-scope permission.${hint} Known: ${catalog.join(', ')}`,
        );
      }
    });
  }
  for (const f of judgeRoles(
    state.roles.values(),
    context.leastPrivilege ?? DEFAULT_LEAST_PRIVILEGE,
  )) {
    findings.push(f);
  }

  // A role of one organization: that organization must exist.
  const elsewhere = context.organizationsElsewhere;
  for (const role of state.roles.values()) {
    if (role.org === undefined || state.organizations.has(role.org)) continue;
    if (elsewhere === 'any' || elsewhere?.has(role.org) === true) continue;
    if (isUnchecked('Organization', role.org)) continue;
    error(
      'unknown-organization',
      role.source,
      ['spec', 'org'],
      `organization "${role.org}" does not exist: declare an Organization of that name, or remove spec.org to make the role platform-wide.${didYouMean(role.org, state.organizations.keys())}`,
    );
  }
  /** A role of another organization used here: reported where it is used. */
  const belongsElsewhere = (
    role: RoleDefinition & { org?: string },
    org: string,
    source: SourceRef,
    field: PathSegment[] = ['role'],
  ): boolean => {
    if (role.org === undefined || role.org === org) return false;
    error(
      'role-organization',
      source,
      field,
      `role "${role.name}" belongs to organization "${role.org}" and cannot be used in "${org}": declare a role of "${org}", or make "${role.name}" platform-wide (remove its spec.org)`,
    );
    return true;
  };

  const roleNamed = (name: string): (RoleDefinition & { org?: string }) | undefined => {
    const custom = state.roles.get(name);
    if (custom !== undefined) return { ...custom, builtIn: false };
    return BUILT_IN_ROLES.get(name);
  };
  const roleNames = (scope: RoleScope) =>
    [...BUILT_IN_ROLES.values(), ...state.roles.values()]
      .filter((r) => r.scope === scope && r.name !== OWNER_ROLE)
      .map((r) => r.name);

  // Plans.
  for (const plan of state.plans.values()) {
    if (plan.seats.paid + plan.seats.free < 1) {
      error(
        'no-seats',
        plan.source,
        ['spec', 'seats'],
        'a plan needs at least one seat: the owner takes one',
      );
    }
  }

  // Organizations: plan; what each uses is counted for the invariants below.
  const orgPlans = new Map<string, PlanRecord | undefined>();
  const usage = new Map<string, OrganizationUsage>();
  for (const org of state.organizations.values()) {
    if (org.timeZone !== undefined && !isTimeZone(org.timeZone)) {
      error(
        'unknown-time-zone',
        org.source,
        ['spec', 'timeZone'],
        `"${org.timeZone}" is not a time zone: use an IANA name such as Europe/Paris, America/New_York or UTC`,
      );
    }
    let plan: PlanRecord | undefined;
    if (org.plan !== undefined) {
      plan = state.plans.get(org.plan);
      if (plan === undefined && !isUnchecked('Plan', org.plan)) {
        error(
          'unknown-plan',
          org.source,
          ['spec', 'plan'],
          `plan "${org.plan}" does not exist: declare a Plan of that name.${didYouMean(org.plan, state.plans.keys())}`,
        );
      }
    }
    orgPlans.set(org.name, plan);
    const use = emptyUsage();
    use.paid = 1; // the owner
    use.resources = org.resources.length;
    usage.set(org.name, use);
  }

  /** The organization a record names, reporting it when it does not exist. */
  const organizationNamed = (
    source: SourceRef,
    name: string,
    inline: boolean,
  ): OrganizationRecord | undefined => {
    const org = state.organizations.get(name);
    if (org === undefined && !inline && !isUnchecked('Organization', name)) {
      error(
        'unknown-organization',
        source,
        ['org'],
        `organization "${name}" does not exist: declare an Organization of that name.${didYouMean(name, state.organizations.keys())}`,
      );
    }
    return org;
  };
  /** Per org and feature, the first record that needs the feature (where a finding points). */
  const firstUse = new Map<string, SourceRef>();
  const useFeature = (org: string, feature: PlanFeature, source: SourceRef) => {
    const key = `${org}\u0000${feature}`;
    if (!firstUse.has(key)) firstUse.set(key, source);
  };

  // Memberships: org, role, owner, seats.
  for (const m of state.memberships) {
    const org = organizationNamed(m.source, m.org, m.origin === 'inline');
    if (m.role === OWNER_ROLE) {
      error(
        'owner-role',
        m.source,
        ['role'],
        `owner is not a membership role: the owner is spec.owner of Organization "${m.org}"; to make ${m.user} the owner, set it there (an ownership transfer)`,
      );
    } else {
      const role = roleNamed(m.role);
      if (role === undefined) {
        if (!isUnchecked('Role', m.role)) {
          error(
            'unknown-role',
            m.source,
            ['role'],
            `role "${m.role}" does not exist: use a built-in role (${roleNames('organization')
              .filter((n) => BUILT_IN_ROLES.has(n))
              .join(', ')}) or declare a Role.${didYouMean(m.role, roleNames('organization'))}`,
          );
        }
      } else if (role.scope !== 'organization') {
        error(
          'role-scope',
          m.source,
          ['role'],
          `role "${m.role}" is a resource role: a membership needs an organization role; to give access to one resource, declare a Grant`,
        );
      } else if (!belongsElsewhere(role, m.org, m.source) && !role.builtIn) {
        useFeature(m.org, 'customRoles', m.source);
      }
    }
    if (org === undefined || m.role === OWNER_ROLE) continue;
    if (m.user === org.owner) {
      report(
        'error',
        'owner-membership',
        m.source,
        ['user'],
        `${m.user} is the owner of "${org.name}" and holds every permission: remove this membership (or transfer ownership first)`,
        org.source,
      );
      continue;
    }
    useFeature(m.org, 'members', m.source);
    const use = usage.get(org.name);
    if (use !== undefined) {
      countMembership(use, m.role, m.seat, roleNamed(m.role)?.builtIn === false);
    }
  }

  // Grants: org, resource, role, expiry.
  for (const g of state.grants) {
    const org = organizationNamed(g.source, g.org, false);
    const role = roleNamed(g.role);
    if (role === undefined) {
      if (!isUnchecked('Role', g.role)) {
        error(
          'unknown-role',
          g.source,
          ['role'],
          `role "${g.role}" does not exist: use a resource role (${roleNames('resource').join(', ')}) or declare a Role with scope: resource.${didYouMean(g.role, roleNames('resource'))}`,
        );
      }
    } else if (role.scope !== 'resource') {
      error(
        'role-scope',
        g.source,
        ['role'],
        `role "${g.role}" is an organization role: a grant needs a resource role (${roleNames('resource').join(', ')}); for access to the whole organization, declare a Membership`,
      );
    } else if (!belongsElsewhere(role, g.org, g.source) && !role.builtIn) {
      useFeature(g.org, 'customRoles', g.source);
    }
    if (g.expires !== undefined && Date.parse(g.expires) <= context.now.getTime()) {
      error(
        'grant-expired',
        g.source,
        ['expires'],
        `the grant expired at ${g.expires}: remove it, or set a later date`,
      );
    }
    if (org === undefined) continue;
    const resources = org.resources.map((r) => `${r.type}/${r.name}`);
    if (!resources.includes(g.resource)) {
      error(
        'unknown-resource',
        g.source,
        ['resource'],
        `organization "${org.name}" has no resource ${g.resource}: add it to spec.resources of the Organization.${didYouMean(g.resource, resources)}`,
      );
    }
    if (g.user === org.owner) {
      report(
        'warning',
        'owner-grant',
        g.source,
        ['user'],
        `${g.user} owns "${org.name}" and already holds every permission: this grant adds nothing`,
      );
    }
    useFeature(g.org, 'resourceGrants', g.source);
    const use = usage.get(org.name);
    if (use !== undefined) countGrant(use, g.role, roleNamed(g.role)?.builtIn === false);
  }

  // Groups: org, role, grants. Their people take a paid seat each, once per organization
  // whatever the number of groups, unless they hold one already (the owner, a membership).
  const seated = new Map<string, Set<string>>();
  for (const org of state.organizations.values()) seated.set(org.name, new Set([org.owner]));
  for (const m of state.memberships) seated.get(m.org)?.add(m.user);
  /** A role a group names, of the scope it needs: reported at `field` when it is not. */
  const groupRole = (
    g: GroupRecord,
    name: string,
    scope: RoleScope,
    field: PathSegment[],
  ): void => {
    const role = roleNamed(name);
    if (role === undefined) {
      if (!isUnchecked('Role', name)) {
        error(
          'unknown-role',
          g.source,
          field,
          `role "${name}" does not exist: use a built-in ${scope} role or declare a Role.${didYouMean(name, roleNames(scope))}`,
        );
      }
    } else if (role.scope !== scope || name === OWNER_ROLE) {
      error(
        'role-scope',
        g.source,
        field,
        name === OWNER_ROLE
          ? `owner is not a group role: the owner is spec.owner of Organization "${g.org}"`
          : `role "${name}" is ${role.scope === 'organization' ? 'an organization' : 'a resource'} role: a group's ${scope === 'organization' ? 'role needs an organization' : 'grant needs a resource'} role`,
      );
    } else if (!belongsElsewhere(role, g.org, g.source, field) && !role.builtIn) {
      useFeature(g.org, 'customRoles', g.source);
      const use = usage.get(g.org);
      if (use !== undefined) use.features.customRoles += 1;
    }
  };
  for (const g of state.groups) {
    const org = organizationNamed(g.source, g.org, g.origin === 'inline');
    if (g.role !== undefined) groupRole(g, g.role, 'organization', ['role']);
    g.grants.forEach((grant, i) => groupRole(g, grant.role, 'resource', ['grants', i, 'role']));
    if (org === undefined) continue;
    const resources = org.resources.map((r) => `${r.type}/${r.name}`);
    g.grants.forEach((grant, i) => {
      if (!resources.includes(grant.resource)) {
        error(
          'unknown-resource',
          g.source,
          ['grants', i, 'resource'],
          `organization "${org.name}" has no resource ${grant.resource}: add it to spec.resources of the Organization.${didYouMean(grant.resource, resources)}`,
        );
      }
    });
    const use = usage.get(org.name);
    if (use === undefined) continue;
    if (g.members.length > 0) useFeature(g.org, 'members', g.source);
    if (g.grants.length > 0) useFeature(g.org, 'resourceGrants', g.source);
    use.features.members += g.members.length > 0 ? 1 : 0;
    use.features.resourceGrants += g.grants.length;
    const people = seated.get(org.name);
    for (const person of g.members) {
      if (people === undefined || people.has(person)) continue;
      people.add(person);
      use.paid += 1;
    }
  }

  // Delegations: the delegate manages members there, for a member, within the plan's bound.
  const roleIn = new Map<string, string>();
  for (const m of state.memberships) roleIn.set(`${m.org}\u0000${m.user}`, m.role);
  for (const d of state.delegations) {
    const org = organizationNamed(d.source, d.org, false);
    const perms = (d.permissions ?? []).filter(
      (p) =>
        !ORGANIZATION_PERMISSIONS.includes(p as never) &&
        !RESOURCE_PERMISSIONS.includes(p as never),
    );
    for (const p of perms) {
      const all = [...ORGANIZATION_PERMISSIONS, ...RESOURCE_PERMISSIONS];
      error(
        'unknown-permission',
        d.source,
        ['permissions', (d.permissions ?? []).indexOf(p)],
        `"${p}" is not a permission.${didYouMean(p, all)}`,
      );
    }
    const plan = org?.plan === undefined ? undefined : state.plans.get(org.plan);
    const maxDays = plan?.maxDelegationDays ?? DEFAULT_MAX_DELEGATION_DAYS;
    const ends = Date.parse(d.expires);
    // The bound runs from its start (a planned absence), or from now.
    const from = Math.max(context.now.getTime(), d.starts === undefined ? 0 : Date.parse(d.starts));
    if (ends <= context.now.getTime()) {
      error(
        'delegation-expired',
        d.source,
        ['expires'],
        `the delegation expired at ${d.expires}: remove it, or set a later date`,
      );
    } else if (d.starts !== undefined && Date.parse(d.starts) >= ends) {
      error('invalid-date', d.source, ['starts'], 'the delegation starts after it expires');
    } else if (ends - from > maxDays * 86_400_000) {
      report(
        'error',
        'delegation-too-long',
        d.source,
        ['expires'],
        `the delegation lasts until ${d.expires}, more than the ${maxDays} days ${plan === undefined ? 'Roster allows by default' : `plan "${plan.name}" allows (spec.maxDelegationDays)`} from ${d.starts === undefined ? 'now' : 'its start'}: set an earlier date`,
        plan?.source,
      );
    }
    if (org === undefined) continue;
    useFeature(d.org, 'delegation', d.source);
    const use = usage.get(org.name);
    if (use !== undefined) use.features.delegation += 1;
    const role = d.delegate === org.owner ? OWNER_ROLE : roleIn.get(`${d.org}\u0000${d.delegate}`);
    const held = role === undefined ? [] : (roleNamed(role)?.permissions ?? []);
    if (role !== OWNER_ROLE && !held.includes('members.manage')) {
      error(
        'delegate-not-administrator',
        d.source,
        ['delegate'],
        `${d.delegate} ${role === undefined ? 'is not a member' : `is ${role}`} of "${org.name}": a delegate must be its owner or hold members.manage (administrator)`,
      );
    }
    if (d.onBehalfOf !== '*') {
      if (d.onBehalfOf === org.owner || d.onBehalfOf === d.delegate) {
        error(
          'delegation-member',
          d.source,
          ['onBehalfOf'],
          `${d.onBehalfOf} is ${d.onBehalfOf === org.owner ? 'the owner' : 'the delegate'}: a delegation is for another member`,
        );
      } else if (!roleIn.has(`${d.org}\u0000${d.onBehalfOf}`)) {
        error(
          'delegation-member',
          d.source,
          ['onBehalfOf'],
          `${d.onBehalfOf} is not a member of "${org.name}": a delegation is for one of its members, or "*" for all`,
        );
      }
    }
  }

  for (const c of state.contacts) organizationNamed(c.source, c.org, c.origin === 'inline');

  // The organization invariants (seats, resources, features), shared with the planner.
  for (const [orgName, use] of usage) {
    const org = state.organizations.get(orgName);
    if (org === undefined) continue;
    const plan = orgPlans.get(orgName);
    const violations = organizationViolations(
      use,
      plan === undefined ? undefined : planLimits(plan.name, planFields(plan)),
      {
        hasPlan: org.plan !== undefined,
        checkOwners: false,
      },
    );
    for (const v of violations) {
      switch (v.code) {
        case 'resources-need-plan':
          error(
            v.code,
            org.source,
            ['spec', 'resources'],
            `organization "${org.name}" has resources but no plan: set spec.plan first`,
          );
          break;
        case 'resource-limit':
          error(
            v.code,
            org.source,
            ['spec', 'resources', v.limit],
            `organization "${org.name}" declares ${v.used} resources; plan "${plan?.name}" allows ${v.limit}: remove ${v.used - v.limit} or raise spec.maxResources of the plan`,
          );
          break;
        case 'feature-missing': {
          const first = firstUse.get(`${orgName}\u0000${v.feature}`) ?? org.source;
          const records = `${v.count} record${v.count === 1 ? '' : 's'} need${v.count === 1 ? 's' : ''} it, the first here`;
          if (plan === undefined) {
            error(
              v.code,
              first,
              [],
              `organization "${orgName}" has no plan, and ${FEATURE_PURPOSE[v.feature]} needs a plan with the ${v.feature} feature (${records}): set spec.plan`,
            );
          } else {
            report(
              'error',
              v.code,
              first,
              [],
              `plan "${plan.name}" of "${orgName}" lacks the ${v.feature} feature, which ${FEATURE_PURPOSE[v.feature]} needs (${records}): add it to the plan's spec.features or change the plan`,
              plan.source,
            );
          }
          break;
        }
        case 'seats-exceeded':
          report(
            'error',
            v.code,
            org.source,
            ['spec', 'plan'],
            `organization "${orgName}" uses ${v.used} ${v.seat} seats${v.seat === 'paid' ? " (the owner's included)" : ''} but plan "${plan?.name}" has ${v.limit}: remove ${v.used - v.limit} ${v.seat} members, move some to ${v.seat === 'paid' ? 'free' : 'paid'} seats, or raise spec.seats.${v.seat} of the plan`,
            plan?.source,
          );
          break;
        case 'owners':
          break;
      }
    }
  }

  return findings;
}
