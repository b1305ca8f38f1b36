/**
 * The access records as the planner compares them: a kind, the parts of its identity, and the
 * fields Roster manages, in one flat, comparable shape shared by the desired state (from
 * manifests), the actual state (from the database) and saved plans.
 */
import { OWNER_ROLE } from './catalog.js';
import type { DesiredState } from './model.js';
import type { SourceRef } from './model.js';
import type { PathSegment } from './parse.js';

/** The kinds of record in the access database. */
export const RECORD_KINDS = [
  'plan',
  'role',
  'organization',
  'resource',
  'membership',
  'grant',
  'contact',
] as const;
/** A kind of record. */
export type RecordKind = (typeof RECORD_KINDS)[number];

/** A field value: JSON scalars and sorted string lists, so that equality is structural. */
export type FieldValue = string | number | boolean | null | readonly string[];
/** The fields Roster manages on a record. */
export type Fields = Readonly<Record<string, FieldValue>>;

/** What identifies a record; only the parts its kind uses are set. */
export interface RecordId {
  readonly kind: RecordKind;
  readonly name?: string;
  readonly org?: string;
  readonly user?: string;
  readonly email?: string;
  readonly type?: string;
  readonly resource?: string;
}

/** A record of the desired or the actual state. */
export interface AccessRecord {
  readonly id: RecordId;
  readonly fields: Fields;
}

/**
 * A desired record, with the place it was declared. The place is resolved to a line and column
 * only when needed (a change or a finding shows it): positions are costly on large inputs.
 */
export interface DesiredRecord extends AccessRecord {
  readonly source?: SourceRef;
  /** Within `source`, the field the record comes from (e.g. `spec.owner` for the owner). */
  readonly sourceField?: readonly PathSegment[];
}

/** Facts the database knows about a member that are not declared. */
export interface MemberFacts {
  readonly status: 'invited' | 'active' | 'suspended';
  readonly joinedAt: string | null;
  readonly invitedBy: string | null;
}

/** A record as the database holds it. */
export interface ActualRecord extends AccessRecord {
  /** Who manages it: `roster-cli`, an operator or Pulumi stack, or null (made in the app). */
  readonly managedBy: string | null;
  /** The fields as Roster last wrote them; differs from `fields` after a change outside Roster. */
  readonly lastApplied: Fields | null;
  readonly facts?: MemberFacts;
}

const keys = new WeakMap<RecordId, string>();
/** Where a record id keeps its key: a hidden property (a WeakMap of millions of entries slows the collector). */
const KEY = Symbol('recordKey');

/**
 * The key of a record: unique across kinds. Remembered per id object, since the planner asks
 * for it several times per record and a million records would otherwise make a million strings
 * each time.
 */
export function recordKey(id: RecordId): string {
  const cached = (id as { [KEY]?: string })[KEY] ?? keys.get(id);
  if (cached !== undefined) return cached;
  // join() makes a flat string at once (a template literal makes a rope, flattened again when
  // the key is first hashed).
  const key = [
    id.kind,
    id.org ?? '',
    id.name ?? '',
    id.user ?? '',
    id.email ?? '',
    id.type ?? '',
    id.resource ?? '',
  ].join('\u0000');
  // Not enumerable: JSON, spreads and comparisons of ids never see it.
  if (Object.isExtensible(id)) Object.defineProperty(id, KEY, { value: key });
  else keys.set(id, key);
  return key;
}

/**
 * Valid stand-ins for each kind's non-identity spec fields, so that a resource's identity alone
 * (its name, or org/user/resource/email) maps to record ids: to find the records of a resource
 * whose other fields are unknown or invalid.
 */
export const IDENTITY_PLACEHOLDERS = {
  Plan: { seats: { paid: 1 } },
  Role: { scope: 'organization', permissions: ['members.view'] },
  Organization: { owner: 'placeholder@roster.invalid' },
  Membership: { role: 'developer' },
  Grant: { role: 'resource-developer' },
  Contact: { categories: ['general'] },
} as const satisfies Record<string, Record<string, unknown>>;

/** How a record is named to people: `membership bob@dev.io`, `grant dave@x.io on site/shop`. */
export function describeRecord(id: RecordId): string {
  switch (id.kind) {
    case 'plan':
    case 'role':
    case 'organization':
      return `${id.kind} ${id.name}`;
    case 'resource':
      return `resource ${id.type}/${id.name}`;
    case 'membership':
      return `membership ${id.user}`;
    case 'grant':
      return `grant ${id.user} on ${id.resource}`;
    case 'contact':
      return `contact ${id.email}`;
  }
}

/** Structural equality of field values. */
export function sameValue(a: FieldValue | undefined, b: FieldValue | undefined): boolean {
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((v, i) => v === b[i]);
  }
  return a === b;
}

/** The names of the fields whose values differ. */
export function changedFields(before: Fields, after: Fields): string[] {
  const names = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...names].filter((n) => !sameValue(before[n] ?? null, after[n] ?? null)).sort();
}

const sorted = (values: Iterable<string>) => [...values].sort();

/** The desired state as records. The owner becomes a membership with role `owner`. */
export function desiredRecords(state: DesiredState): DesiredRecord[] {
  const records: DesiredRecord[] = [];
  for (const plan of state.plans.values()) {
    records.push({
      id: { kind: 'plan', name: plan.name },
      fields: {
        displayName: plan.displayName ?? null,
        paidSeats: plan.seats.paid,
        freeSeats: plan.seats.free,
        maxResources: plan.maxResources ?? null,
        features: sorted(plan.features),
        invitationExpiryDays: plan.invitations.expiresInDays ?? null,
        invitationMaxResends: plan.invitations.maxResends ?? null,
      },
      source: plan.source,
    });
  }
  for (const role of state.roles.values()) {
    records.push({
      id: { kind: 'role', name: role.name },
      fields: {
        scope: role.scope,
        description: role.description ?? null,
        permissions: sorted(role.permissions),
      },
      source: role.source,
    });
  }
  for (const org of state.organizations.values()) {
    records.push({
      id: { kind: 'organization', name: org.name },
      fields: {
        displayName: org.displayName ?? null,
        plan: org.plan ?? null,
        invitationExpiryDays: org.invitations.expiresInDays ?? null,
        invitationMaxResends: org.invitations.maxResends ?? null,
      },
      source: org.source,
    });
    for (const resource of org.resources) {
      records.push({
        id: { kind: 'resource', org: org.name, type: resource.type, name: resource.name },
        fields: {},
        source: resource.source,
      });
    }
    records.push({
      id: { kind: 'membership', org: org.name, user: org.owner },
      fields: { role: OWNER_ROLE, seat: 'paid', suspended: false },
      source: org.source,
      sourceField: ['spec', 'owner'],
    });
  }
  for (const m of state.memberships) {
    records.push({
      id: { kind: 'membership', org: m.org, user: m.user },
      fields: { role: m.role, seat: m.seat, suspended: m.suspended },
      source: m.source,
    });
  }
  for (const g of state.grants) {
    records.push({
      id: { kind: 'grant', org: g.org, user: g.user, resource: g.resource },
      fields: { role: g.role, expires: g.expires ?? null },
      source: g.source,
    });
  }
  for (const c of state.contacts) {
    records.push({
      id: { kind: 'contact', org: c.org, email: c.email },
      fields: { name: c.name ?? null, categories: sorted(c.categories) },
      source: c.source,
    });
  }
  return records;
}
