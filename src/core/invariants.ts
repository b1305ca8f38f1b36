/**
 * The invariants of an organization against its plan, decided in one place: seats, resources,
 * features, one owner. Pure. `validate` counts what the input declares and reports violations as
 * findings at the places they come from; `plan` counts the state an apply would leave (the input
 * over the database, including organizations the input does not mention) and reports them as
 * refusals. Both ask this module whether a rule is broken; only the wording of the answer differs.
 */
import { BUILT_IN_ROLES, OWNER_ROLE, PLAN_FEATURES, type PlanFeature } from './catalog.js';

/** What an organization holds, counted. */
export interface OrganizationUsage {
  /** Seats used, the owner's included (the owner always takes a paid seat). */
  paid: number;
  free: number;
  owners: number;
  resources: number;
  /** Records that need each feature: members besides the owner, grants, custom role uses. */
  readonly features: Record<PlanFeature, number>;
}

/** What a plan allows. */
export interface PlanLimits {
  readonly name: string;
  readonly paidSeats: number;
  readonly freeSeats: number;
  readonly maxResources: number | null;
  readonly features: ReadonlySet<string>;
}

/** A broken invariant. */
export type Violation =
  | {
      readonly code: 'seats-exceeded';
      readonly seat: 'paid' | 'free';
      readonly used: number;
      readonly limit: number;
    }
  | { readonly code: 'resource-limit'; readonly used: number; readonly limit: number }
  | { readonly code: 'feature-missing'; readonly feature: PlanFeature; readonly count: number }
  | { readonly code: 'resources-need-plan'; readonly count: number }
  | { readonly code: 'owners'; readonly owners: number };

/** An empty tally. */
export function emptyUsage(): OrganizationUsage {
  return {
    paid: 0,
    free: 0,
    owners: 0,
    resources: 0,
    features: { members: 0, resourceGrants: 0, customRoles: 0, delegation: 0 },
  };
}

/**
 * The plan features a membership or a grant with this role needs to give any access: a member
 * other than the owner needs `members`, a grant `resourceGrants`, and a custom role
 * `customRoles`. One rule for plan time (counted here) and check time (`access.ts`).
 */
export function featuresNeeded(
  subject: 'membership' | 'grant',
  role: string,
  custom = !BUILT_IN_ROLES.has(role),
): PlanFeature[] {
  if (subject === 'membership' && role === OWNER_ROLE) return [];
  const needed: PlanFeature[] = [subject === 'membership' ? 'members' : 'resourceGrants'];
  if (custom) needed.push('customRoles');
  return needed;
}

/**
 * Counts one membership into `usage`; `custom` tells whether its role is a custom one (default:
 * any role that is not built in).
 */
export function countMembership(
  usage: OrganizationUsage,
  role: string,
  seat: string,
  custom = !BUILT_IN_ROLES.has(role),
): void {
  if (seat === 'free') usage.free += 1;
  else usage.paid += 1;
  if (role === OWNER_ROLE) usage.owners += 1;
  for (const feature of featuresNeeded('membership', role, custom)) usage.features[feature] += 1;
}

/** Counts one grant into `usage`. */
export function countGrant(
  usage: OrganizationUsage,
  role: string,
  custom = !BUILT_IN_ROLES.has(role),
): void {
  for (const feature of featuresNeeded('grant', role, custom)) usage.features[feature] += 1;
}

/**
 * The invariants `usage` breaks under `plan` (undefined: the organization has no plan, or its plan
 * is unknown, which is reported elsewhere). `hasPlan` tells the two apart. Owners are checked only
 * when `checkOwners` (the input alone does not count the owner as a membership).
 */
export function organizationViolations(
  usage: OrganizationUsage,
  plan: PlanLimits | undefined,
  options: { readonly hasPlan: boolean; readonly checkOwners: boolean },
): Violation[] {
  const violations: Violation[] = [];
  if (options.checkOwners && usage.owners !== 1) {
    violations.push({ code: 'owners', owners: usage.owners });
  }
  if (!options.hasPlan) {
    if (usage.resources > 0) {
      violations.push({ code: 'resources-need-plan', count: usage.resources });
    }
    for (const feature of PLAN_FEATURES) {
      const count = usage.features[feature];
      if (count > 0) violations.push({ code: 'feature-missing', feature, count });
    }
    return violations;
  }
  if (plan === undefined) return violations;
  for (const seat of ['paid', 'free'] as const) {
    const limit = seat === 'paid' ? plan.paidSeats : plan.freeSeats;
    if (usage[seat] > limit) {
      violations.push({ code: 'seats-exceeded', seat, used: usage[seat], limit });
    }
  }
  if (plan.maxResources !== null && usage.resources > plan.maxResources) {
    violations.push({ code: 'resource-limit', used: usage.resources, limit: plan.maxResources });
  }
  for (const feature of PLAN_FEATURES) {
    const count = usage.features[feature];
    if (count > 0 && !plan.features.has(feature)) {
      violations.push({ code: 'feature-missing', feature, count });
    }
  }
  return violations;
}

/** What each feature is for, in messages. */
export const FEATURE_PURPOSE: Record<PlanFeature, string> = {
  members: 'having members besides the owner',
  resourceGrants: 'granting access to single resources',
  customRoles: 'using custom roles',
  delegation: 'delegated access (an administrator acting for a member)',
};
