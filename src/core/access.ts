/**
 * The access decision: may this user do this in this organization (on this resource)? Pure: the
 * facts come from the database, the rules are here, with the reason a product can show.
 */
import { featuresNeeded } from './invariants.js';
import {
  BUILT_IN_ROLES,
  ORGANIZATION_PERMISSIONS,
  OWNER_ROLE,
  RESOURCE_PERMISSIONS,
} from './catalog.js';

/** What the database knows about a user in an organization. */
export interface AccessFacts {
  readonly orgExists: boolean;
  readonly membership: {
    role: string;
    status: string;
    permissions: readonly string[] | null;
  } | null;
  readonly grant: {
    role: string;
    status: string;
    expiresAt: Date | null;
    permissions: readonly string[] | null;
  } | null;
  /** The groups of the organization the user is in, with the organization role each gives. */
  readonly groups?: readonly GroupFact[] | null;
  /** The grants on the resource asked about that the user's groups give. */
  readonly groupGrants?: readonly GroupFact[] | null;
  readonly resourceExists: boolean;
  /** The features of the organization's plan; null when it has no plan (nothing is gated). */
  readonly planFeatures?: readonly string[] | null;
}

/** A role a group gives, and the person's status in the organization's groups. */
export interface GroupFact {
  readonly group: string;
  readonly role: string | null;
  readonly status: string;
  readonly permissions: readonly string[] | null;
}

/** Every reason a decision can give: the API's enum, and what an access test may expect. */
export const ACCESS_REASONS = [
  'owner',
  'role',
  'grant',
  'group',
  'suspended',
  'expired-grant',
  'invitation-pending',
  'not-a-member',
  'permission-not-granted',
  'unknown-organization',
  'unknown-resource',
  'unknown-permission',
  'feature-not-in-plan',
  'delegation',
  'no-delegation',
  'delegation-expired',
  'delegation-not-started',
  'permission-not-delegated',
  'delegate-not-administrator',
] as const;

/** Why access is allowed or denied. */
export type AccessReason = (typeof ACCESS_REASONS)[number];

/** The answer of `check`. */
export interface AccessDecision {
  readonly allowed: boolean;
  readonly reason: AccessReason;
  /** The role that allowed or was considered. */
  readonly role?: string;
  /** The group that gave that role (reason `group`). */
  readonly group?: string;
  /** Acting for whom (a check with `actingAs`). */
  readonly actingAs?: string;
  /** The delegation that allowed it, or was considered. */
  readonly delegation?: string;
}

/** What the database knows of a delegate acting for a member in an organization. */
export interface DelegationFacts {
  /** The delegate's own membership there (the owner's has role `owner`). */
  readonly delegate: { role: string; status: string; permissions: readonly string[] | null } | null;
  /** The delegation that covers the pair: for that member, or for every member. */
  readonly delegation: {
    name: string;
    permissions: readonly string[] | null;
    startsAt: Date | null;
    expiresAt: Date;
  } | null;
  readonly planFeatures?: readonly string[] | null;
}

/**
 * `check(user, permission, org, actingAs)`: allowed with reason `delegation` only while the
 * delegate still manages members there (or owns it), the plan has the `delegation` feature, an
 * unexpired delegation covers the pair, it delegates the permission (when it names some), and
 * the member may do it themselves (`member`: the member's own decision).
 */
export function decideDelegatedAccess(
  facts: DelegationFacts,
  member: AccessDecision,
  permission: string,
  actingAs: string,
  now: Date,
): AccessDecision {
  const base = { actingAs };
  if (member.reason === 'unknown-permission' || member.reason === 'unknown-organization') {
    return { ...member, ...base };
  }
  const d = facts.delegate;
  const manages =
    d !== null &&
    (d.role === OWNER_ROLE ||
      (d.status === 'active' && permissionsOf(d.role, d.permissions).includes('members.manage')));
  if (!manages) {
    return { allowed: false, reason: 'delegate-not-administrator', ...base };
  }
  const features = facts.planFeatures;
  if (features !== null && features !== undefined && !features.includes('delegation')) {
    return { allowed: false, reason: 'feature-not-in-plan', ...base };
  }
  const delegation = facts.delegation;
  if (delegation === null) return { allowed: false, reason: 'no-delegation', ...base };
  const named = { ...base, delegation: delegation.name };
  if (delegation.expiresAt <= now) {
    return { allowed: false, reason: 'delegation-expired', ...named };
  }
  if (delegation.startsAt !== null && delegation.startsAt > now) {
    return { allowed: false, reason: 'delegation-not-started', ...named };
  }
  if (delegation.permissions !== null && !delegation.permissions.includes(permission)) {
    return { allowed: false, reason: 'permission-not-delegated', ...named };
  }
  if (!member.allowed) return { ...member, ...named };
  return {
    allowed: true,
    reason: 'delegation',
    ...(member.role !== undefined && { role: member.role }),
    ...named,
  };
}

const isResourcePermission = (p: string) => (RESOURCE_PERMISSIONS as readonly string[]).includes(p);
const isOrganizationPermission = (p: string) =>
  (ORGANIZATION_PERMISSIONS as readonly string[]).includes(p);

/** The permissions of a role: built-in, or the custom role's from the database. */
function permissionsOf(role: string, custom: readonly string[] | null): readonly string[] {
  return BUILT_IN_ROLES.get(role)?.permissions ?? custom ?? [];
}

/**
 * Decides. Organization roles reach resources too: `resources.manage` allows every resource
 * permission on the organization's resources, `resources.view` allows `resource.view`. The plan's
 * features hold here as at plan time: without `members` only the owner has access, without
 * `resourceGrants` no grant allows anything, without `customRoles` no custom role does (reason
 * `feature-not-in-plan`), even when the plan was changed after the access was given.
 */
export function decideAccess(
  facts: AccessFacts,
  permission: string,
  resource: string | null,
  now: Date,
): AccessDecision {
  if (!isResourcePermission(permission) && !isOrganizationPermission(permission)) {
    return { allowed: false, reason: 'unknown-permission' };
  }
  if (!facts.orgExists) return { allowed: false, reason: 'unknown-organization' };
  if (resource !== null && !facts.resourceExists) {
    return { allowed: false, reason: 'unknown-resource' };
  }
  if (isResourcePermission(permission) && resource === null) {
    return { allowed: false, reason: 'unknown-resource' };
  }

  const lacks = (feature: string) =>
    facts.planFeatures !== null &&
    facts.planFeatures !== undefined &&
    !facts.planFeatures.includes(feature);
  const outsidePlan = (role: string): AccessDecision => ({
    allowed: false,
    reason: 'feature-not-in-plan',
    role,
  });

  let denial: AccessDecision = { allowed: false, reason: 'not-a-member' };
  const m = facts.membership;
  if (m !== null) {
    if (m.status === 'suspended') return { allowed: false, reason: 'suspended', role: m.role };
    if (m.status !== 'active') {
      denial = { allowed: false, reason: 'invitation-pending', role: m.role };
    } else {
      const held = permissionsOf(m.role, m.permissions);
      const allowedByRole = isResourcePermission(permission)
        ? held.includes('resources.manage') ||
          (permission === 'resource.view' && held.includes('resources.view'))
        : held.includes(permission);
      if (allowedByRole) {
        if (m.role === OWNER_ROLE) return { allowed: true, reason: 'owner', role: m.role };
        // The plan decides what its members may have: members at all, custom roles.
        if (featuresNeeded('membership', m.role).some(lacks)) return outsidePlan(m.role);
        return { allowed: true, reason: 'role', role: m.role };
      }
      denial = { allowed: false, reason: 'permission-not-granted', role: m.role };
    }
  }

  const g = facts.grant;
  if (g !== null && isResourcePermission(permission)) {
    if (g.expiresAt !== null && g.expiresAt <= now) {
      if (denial.reason === 'permission-not-granted' || denial.reason === 'not-a-member') {
        denial = { allowed: false, reason: 'expired-grant', role: g.role };
      }
    } else if (g.status !== 'active') {
      denial = { allowed: false, reason: 'invitation-pending', role: g.role };
    } else if (permissionsOf(g.role, g.permissions).includes(permission)) {
      if (featuresNeeded('grant', g.role).some(lacks)) return outsidePlan(g.role);
      return { allowed: true, reason: 'grant', role: g.role };
    } else {
      denial = { allowed: false, reason: 'permission-not-granted', role: g.role };
    }
  }

  // The person's groups: an organization role, or a grant on the resource; the first that allows.
  const viaGroups = [
    ...(facts.groups ?? []).map((f) => ({ ...f, subject: 'membership' as const })),
    ...(isResourcePermission(permission) ? (facts.groupGrants ?? []) : []).map((f) => ({
      ...f,
      subject: 'grant' as const,
    })),
  ];
  for (const f of viaGroups) {
    if (f.role === null) continue;
    const considered = { role: f.role, group: f.group };
    if (f.status !== 'active') {
      if (denial.reason === 'not-a-member') {
        denial = { allowed: false, reason: 'invitation-pending', ...considered };
      }
      continue;
    }
    const held = permissionsOf(f.role, f.permissions);
    const allows =
      f.subject === 'grant'
        ? held.includes(permission)
        : isResourcePermission(permission)
          ? held.includes('resources.manage') ||
            (permission === 'resource.view' && held.includes('resources.view'))
          : held.includes(permission);
    if (allows) {
      if (featuresNeeded(f.subject, f.role).some(lacks)) {
        denial = { ...outsidePlan(f.role), group: f.group };
        continue;
      }
      return { allowed: true, reason: 'group', ...considered };
    }
    if (denial.reason === 'not-a-member' || denial.reason === 'invitation-pending') {
      denial = { allowed: false, reason: 'permission-not-granted', ...considered };
    }
  }
  return denial;
}
