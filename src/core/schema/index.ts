/**
 * The per-kind JSON Schemas and the TypeScript types derived from them. Nothing here is written
 * twice: a type is `FromSchema<typeof schema>`.
 */
import type { FromSchema } from 'json-schema-to-ts';
import { contactSchema, contactStatusSchema } from './contact.js';
import { delegationSchema, delegationStatusSchema } from './delegation.js';
import { grantSchema, grantStatusSchema } from './grant.js';
import { groupSchema, groupStatusSchema } from './group.js';
import { membershipSchema, membershipStatusSchema } from './membership.js';
import { organizationSchema, organizationStatusSchema } from './organization.js';
import { planSchema, planStatusSchema } from './plan.js';
import { roleSchema, roleStatusSchema } from './role.js';
import { userSchema, userStatusSchema } from './user.js';

export { API_GROUP, API_VERSION, API_VERSION_NAME, PATTERN_DESCRIPTIONS } from './common.js';

/** A `Plan` document. */
export type PlanDocument = FromSchema<typeof planSchema>;
/** A `Role` document. */
export type RoleDocument = FromSchema<typeof roleSchema>;
/** A `User` document. */
export type UserDocument = FromSchema<typeof userSchema>;
/** An `Organization` document. */
export type OrganizationDocument = FromSchema<typeof organizationSchema>;
/** A `Membership` document. */
export type MembershipDocument = FromSchema<typeof membershipSchema>;
/** A `Grant` document. */
export type GrantDocument = FromSchema<typeof grantSchema>;
/** A `Group` document. */
export type GroupDocument = FromSchema<typeof groupSchema>;
/** A `Delegation` document. */
export type DelegationDocument = FromSchema<typeof delegationSchema>;
/** A `Contact` document. */
export type ContactDocument = FromSchema<typeof contactSchema>;

/** Any Roster document. */
export type RosterDocument =
  | PlanDocument
  | RoleDocument
  | UserDocument
  | OrganizationDocument
  | MembershipDocument
  | GrantDocument
  | GroupDocument
  | DelegationDocument
  | ContactDocument;

/** A kind of Roster document. */
export type Kind = RosterDocument['kind'];

/** Everything generators need to know about one kind. */
export interface KindDefinition {
  readonly kind: Kind;
  readonly plural: string;
  readonly schema: { readonly properties: { readonly spec: object } } & object;
  readonly statusSchema: object;
}

/** Every kind, in the order documents of a plan are best read: plans, roles and users first. */
export const KINDS: readonly KindDefinition[] = [
  { kind: 'Plan', plural: 'plans', schema: planSchema, statusSchema: planStatusSchema },
  { kind: 'Role', plural: 'roles', schema: roleSchema, statusSchema: roleStatusSchema },
  { kind: 'User', plural: 'users', schema: userSchema, statusSchema: userStatusSchema },
  {
    kind: 'Organization',
    plural: 'organizations',
    schema: organizationSchema,
    statusSchema: organizationStatusSchema,
  },
  {
    kind: 'Membership',
    plural: 'memberships',
    schema: membershipSchema,
    statusSchema: membershipStatusSchema,
  },
  { kind: 'Grant', plural: 'grants', schema: grantSchema, statusSchema: grantStatusSchema },
  { kind: 'Group', plural: 'groups', schema: groupSchema, statusSchema: groupStatusSchema },
  {
    kind: 'Delegation',
    plural: 'delegations',
    schema: delegationSchema,
    statusSchema: delegationStatusSchema,
  },
  { kind: 'Contact', plural: 'contacts', schema: contactSchema, statusSchema: contactStatusSchema },
];

/** The kind definition for a kind name, or undefined. */
export function findKind(kind: string): KindDefinition | undefined {
  return KINDS.find((k) => k.kind === kind);
}
