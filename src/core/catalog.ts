/**
 * What Roster knows without being told: the permission catalogue, the built-in roles, the plan
 * features and the contact categories. Custom roles are built from this permission catalogue.
 */

/** Every permission an organization-scope role can hold. */
export const ORGANIZATION_PERMISSIONS = [
  'billing.view',
  'billing.manage',
  'members.view',
  'members.invite',
  'members.manage',
  'resources.view',
  'resources.create',
  'resources.manage',
  'support.tickets',
  'domains.manage',
  'contacts.manage',
] as const;

/** Every permission a resource-scope role (held through a Grant on one resource) can hold. */
export const RESOURCE_PERMISSIONS = [
  'resource.view',
  'resource.deploy',
  'resource.manage',
  'resource.backups',
  'resource.logs',
  'resource.users.manage',
] as const;

/** A permission of either scope. */
export type Permission =
  (typeof ORGANIZATION_PERMISSIONS)[number] | (typeof RESOURCE_PERMISSIONS)[number];

/** Where a role applies: to a whole organization (Membership) or to one resource (Grant). */
export type RoleScope = 'organization' | 'resource';

/** A role as the rules see it, built-in or custom. */
export interface RoleDefinition {
  readonly name: string;
  readonly scope: RoleScope;
  readonly permissions: readonly string[];
  readonly builtIn: boolean;
}

/**
 * The owner is not a membership role (it is `Organization.spec.owner`), but it is a role the
 * access checks know: it holds every organization permission.
 */
export const OWNER_ROLE = 'owner';

/** The built-in roles, by name. `owner` is listed so that no custom role can take the name. */
export const BUILT_IN_ROLES: ReadonlyMap<string, RoleDefinition> = new Map(
  (
    [
      { name: OWNER_ROLE, scope: 'organization', permissions: ORGANIZATION_PERMISSIONS },
      { name: 'administrator', scope: 'organization', permissions: ORGANIZATION_PERMISSIONS },
      {
        name: 'developer',
        scope: 'organization',
        permissions: ['members.view', 'resources.view', 'resources.create', 'resources.manage'],
      },
      {
        name: 'billing',
        scope: 'organization',
        permissions: ['billing.view', 'billing.manage', 'members.view'],
      },
      { name: 'resource-administrator', scope: 'resource', permissions: RESOURCE_PERMISSIONS },
      {
        name: 'resource-developer',
        scope: 'resource',
        permissions: ['resource.view', 'resource.deploy', 'resource.logs', 'resource.backups'],
      },
    ] as const
  ).map((r) => [r.name, { ...r, permissions: [...r.permissions], builtIn: true }]),
);

/** Plan features that gate parts of the format. */
export const PLAN_FEATURES = ['members', 'resourceGrants', 'customRoles', 'delegation'] as const;
/** How long a delegation may last on a plan that does not say (Plan.spec.maxDelegationDays). */
export const DEFAULT_MAX_DELEGATION_DAYS = 30;
/** A plan feature. */
export type PlanFeature = (typeof PLAN_FEATURES)[number];

/** The mail categories a contact can receive. */
export const CONTACT_CATEGORIES = ['general', 'billing', 'support', 'products', 'domains'] as const;
/** A contact category. */
export type ContactCategory = (typeof CONTACT_CATEGORIES)[number];

/** The seat kinds of a plan; every membership, the owner's included, takes one. */
export const SEAT_KINDS = ['paid', 'free'] as const;
/** A seat kind. */
export type SeatKind = (typeof SEAT_KINDS)[number];
