/**
 * The kind table: every kind of record Roster manages, in the order changes are applied (parents
 * first). What one kind means — its identity, fields, document, spec — is its file in this
 * directory; code that works on any record goes through this table instead of switching on kinds.
 */
import type { Kind } from '../schema/index.js';
import { contactKind, type ContactFields, type ContactId } from './contact.js';
import { delegationKind, type DelegationFields, type DelegationId } from './delegation.js';
import { grantKind, type GrantFields, type GrantId } from './grant.js';
import { groupKind, type GroupFields, type GroupId } from './group.js';
import type { DocumentPart, Fields, KindDescriptor } from './kind.js';
import { membershipKind, type MembershipFields, type MembershipId } from './membership.js';
import { organizationKind, type OrganizationFields, type OrganizationId } from './organization.js';
import { planKind, type PlanFields, type PlanId } from './plan.js';
import { resourceKind, type ResourceFields, type ResourceId } from './resource.js';
import { roleKind, type RoleFields, type RoleId } from './role.js';
import { userKind, type UserFields, type UserId } from './user.js';

export type { DocumentPart, FieldValue, Fields, KindDescriptor } from './kind.js';
export type {
  ContactFields,
  ContactId,
  DelegationFields,
  DelegationId,
  GrantFields,
  GrantId,
  GroupFields,
  GroupId,
  MembershipFields,
  MembershipId,
  OrganizationFields,
  OrganizationId,
  PlanFields,
  PlanId,
  ResourceFields,
  ResourceId,
  RoleFields,
  RoleId,
  UserFields,
  UserId,
};

/** What identifies a record: a discriminated union on `kind`. */
export type RecordId =
  | PlanId
  | RoleId
  | UserId
  | OrganizationId
  | ResourceId
  | MembershipId
  | GrantId
  | GroupId
  | DelegationId
  | ContactId;

/** A kind of record. */
export type RecordKind = RecordId['kind'];

/** The id of one kind. */
export type IdOf<K extends RecordKind> = Extract<RecordId, { kind: K }>;

/** The managed fields of each kind. */
export interface FieldsByKind {
  plan: PlanFields;
  role: RoleFields;
  user: UserFields;
  organization: OrganizationFields;
  resource: ResourceFields;
  membership: MembershipFields;
  grant: GrantFields;
  group: GroupFields;
  delegation: DelegationFields;
  contact: ContactFields;
}

/** The table itself, by kind. */
export const KIND_TABLE = {
  plan: planKind,
  role: roleKind,
  user: userKind,
  organization: organizationKind,
  resource: resourceKind,
  membership: membershipKind,
  grant: grantKind,
  group: groupKind,
  delegation: delegationKind,
  contact: contactKind,
} as const satisfies { readonly [K in RecordKind]: KindDescriptor<IdOf<K>, FieldsByKind[K]> };

/** The kinds of record, parents before children: the order creations are applied in. */
export const RECORD_KINDS = Object.keys(KIND_TABLE) as readonly RecordKind[];

/** The descriptor of a record's kind. */
export function kindOf<K extends RecordKind>(
  id: IdOf<K>,
): KindDescriptor<IdOf<K>, FieldsByKind[K]> {
  return KIND_TABLE[id.kind as K] as unknown as KindDescriptor<IdOf<K>, FieldsByKind[K]>;
}

type DocumentKindDescriptor = KindDescriptor<RecordId, Fields> & {
  readonly document: DocumentPart<RecordId>;
};

const BY_DOCUMENT = new Map<Kind, DocumentKindDescriptor>();
for (const descriptor of Object.values(KIND_TABLE) as KindDescriptor<RecordId, Fields>[]) {
  if (descriptor.document !== null) {
    BY_DOCUMENT.set(descriptor.document.kind, descriptor as DocumentKindDescriptor);
  }
}

/** The descriptor of the record kind a document kind declares. */
export function kindOfDocument(kind: Kind): DocumentKindDescriptor {
  const descriptor = BY_DOCUMENT.get(kind);
  if (descriptor === undefined) throw new Error(`no record kind for document kind ${kind}`);
  return descriptor;
}

/** The organization a record belongs to; null for plans, roles and users. */
export function orgOf(id: RecordId): string | null {
  return (kindOf(id) as KindDescriptor<RecordId, Fields>).organization(id);
}

/** How a record is named to people: `membership bob@dev.io`, `grant dave@x.io on site/shop`. */
export function describeRecord(id: RecordId): string {
  return (kindOf(id) as KindDescriptor<RecordId, Fields>).describe(id);
}

/** A record of one kind, with its typed fields. */
export interface RecordOf<K extends RecordKind> {
  readonly id: IdOf<K>;
  readonly fields: FieldsByKind[K];
}

/** Narrows a record to one kind, fields included. */
export function isKind<K extends RecordKind, R extends { readonly id: RecordId }>(
  record: R,
  kind: K,
): record is R & RecordOf<K> {
  return record.id.kind === kind;
}
