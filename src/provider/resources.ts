/**
 * The Pulumi resources and how each maps onto Roster's format and records: the same JSON Schema
 * (`spec`), plus `name` for the kinds whose identity is their name, and the outputs Roster adds.
 */
import { findKind, type Kind } from '../core/schema/index.js';

/** One Pulumi resource type. */
export interface ResourceType {
  readonly kind: Kind;
  /** `roster:index:Membership`. */
  readonly token: string;
  /** Inputs that are `metadata.name` (Plan, Role, Organization). */
  readonly hasName: boolean;
  /** Spec fields Pulumi does not take (declared as their own resources instead). */
  readonly omitted: readonly string[];
  /** Inputs whose change replaces the resource (the record's identity, or an immutable field). */
  readonly replaceOnChanges: readonly string[];
  /** Outputs Roster computes. */
  readonly outputs: Readonly<Record<string, { type: 'string'; description: string }>>;
  readonly description: string;
}

const invitationOutputs = {
  status: { type: 'string', description: 'invited, active or suspended.' },
  invitationState: {
    type: 'string',
    description: 'Pending, Accepted, Expired or Revoked; empty when no invitation was needed.',
  },
} as const;

/** Every resource type the provider serves. */
export const RESOURCE_TYPES: readonly ResourceType[] = [
  {
    kind: 'Plan',
    token: 'roster:index:Plan',
    hasName: true,
    omitted: [],
    replaceOnChanges: ['name'],
    outputs: {},
    description: 'A plan: seat limits, a resource limit and feature flags.',
  },
  {
    kind: 'Role',
    token: 'roster:index:Role',
    hasName: true,
    omitted: [],
    replaceOnChanges: ['name'],
    outputs: {},
    description: 'A custom role: a named set of permissions of one scope.',
  },
  {
    kind: 'User',
    token: 'roster:index:User',
    hasName: false,
    omitted: [],
    replaceOnChanges: ['email'],
    outputs: {},
    description:
      'A person with several addresses: the primary one and its aliases. A Membership or Grant naming an alias is this person once the User exists (make them depend on it).',
  },
  {
    kind: 'Organization',
    token: 'roster:index:Organization',
    hasName: true,
    omitted: ['members', 'contacts', 'groups'],
    replaceOnChanges: ['name'],
    outputs: {},
    description:
      'An organization with its plan, its one owner and its resources. Declare members, groups and contacts as Membership, Group and Contact resources.',
  },
  {
    kind: 'Membership',
    token: 'roster:index:Membership',
    hasName: false,
    omitted: [],
    replaceOnChanges: ['org', 'user'],
    outputs: {
      ...invitationOutputs,
      joinedAt: { type: 'string', description: 'When the invitation was accepted.' },
    },
    description:
      'A user in an organization with a role. Roster e-mails an invitation when the user is not yet active there.',
  },
  {
    kind: 'Grant',
    token: 'roster:index:Grant',
    hasName: false,
    omitted: [],
    replaceOnChanges: ['org', 'user', 'resource'],
    outputs: invitationOutputs,
    description: 'A user given a role on one resource of an organization, optionally until a date.',
  },
  {
    kind: 'Group',
    token: 'roster:index:Group',
    hasName: true,
    omitted: [],
    replaceOnChanges: ['org', 'name'],
    outputs: {},
    description:
      'A group of an organization: its people share an organization role and grants on its resources. Someone not yet a member is invited once.',
  },
  {
    kind: 'Delegation',
    token: 'roster:index:Delegation',
    hasName: true,
    omitted: [],
    replaceOnChanges: ['org', 'name', 'delegate'],
    outputs: {},
    description:
      "An administrator allowed to act for a member (or every member) of an organization, within the member's permissions, until an expiry the plan bounds.",
  },
  {
    kind: 'Contact',
    token: 'roster:index:Contact',
    hasName: false,
    omitted: [],
    replaceOnChanges: ['org', 'email'],
    outputs: {},
    description: 'Someone who cannot log in but receives mail of some categories.',
  },
];

/** The resource type of a token or a URN's type, if Roster serves it. */
export function resourceTypeOf(token: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((t) => t.token === token);
}

/** The JSON Schema of the spec of a resource type, without omitted fields. */
export function specSchemaOf(type: ResourceType): {
  properties: Record<string, Record<string, unknown>>;
  required: readonly string[];
  description?: string;
} {
  const definition = findKind(type.kind);
  const spec = definition?.schema.properties.spec as {
    properties: Record<string, Record<string, unknown>>;
    required?: readonly string[];
    description?: string;
  };
  const properties = Object.fromEntries(
    Object.entries(spec.properties).filter(([k]) => !type.omitted.includes(k)),
  );
  return {
    properties,
    required: spec.required ?? [],
    ...(spec.description !== undefined && { description: spec.description }),
  };
}
