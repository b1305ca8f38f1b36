import type { Branding } from './branding.js';
/**
 * The desired state: what the manifests declare, normalised (e-mails lowercased, defaults
 * filled, inline members and contacts unfolded) and keyed the way the access database keys it.
 * Every record remembers where it was declared, so later errors can point there.
 */
import type { ContactCategory, PlanFeature, RoleScope, SeatKind } from './catalog.js';
import type { SourceLocation } from './findings.js';
import type { ParsedDocument, PathSegment } from './parse.js';

/** Where a record was declared: a node of a parsed document. */
export interface SourceRef {
  readonly document: ParsedDocument;
  readonly path: readonly PathSegment[];
}

/** The position of a record, or of one of its fields (or that field's key). */
export function locate(
  ref: SourceRef,
  field: readonly PathSegment[] = [],
  key = false,
): SourceLocation {
  return ref.document.locate([...ref.path, ...field], key);
}

/** How long invitation links last and how often expired ones are re-sent. */
export interface InvitationPolicy {
  readonly expiresInDays?: number;
  readonly maxResends?: number;
}

/** A plan. */
export interface PlanRecord {
  readonly name: string;
  readonly displayName?: string;
  readonly seats: { readonly paid: number; readonly free: number };
  readonly maxResources?: number;
  readonly features: ReadonlySet<PlanFeature>;
  readonly invitations: InvitationPolicy;
  /** How long a delegation may last on the plan, in days. */
  readonly maxDelegationDays?: number;
  readonly source: SourceRef;
}

/** A custom role (built-in roles live in `catalog.ts`). */
export interface RoleRecord {
  readonly name: string;
  readonly scope: RoleScope;
  readonly permissions: readonly string[];
  readonly description?: string;
  /** The organization the role belongs to, usable there only; platform-wide when absent. */
  readonly org?: string;
  readonly source: SourceRef;
}

/** A person with aliases: platform-wide, keyed by the primary address. */
export interface UserRecord {
  /** The primary address, normalised. */
  readonly email: string;
  /** The other addresses of the same person, normalised. */
  readonly aliases: readonly string[];
  /** The language of their invitations, over their organization's (`fr`), if declared. */
  readonly locale?: string;
  readonly source: SourceRef;
}

/** A resource of an organization, named `type/name`. */
export interface ResourceRecord {
  readonly type: string;
  readonly name: string;
  readonly source: SourceRef;
}

/** An organization. */
export interface OrganizationRecord {
  readonly name: string;
  readonly displayName?: string;
  readonly plan?: string;
  /** The owner's normalised e-mail address. */
  readonly owner: string;
  readonly resources: readonly ResourceRecord[];
  readonly invitations: InvitationPolicy;
  /** The language of its invitations (`fr`), if declared. */
  readonly locale?: string;
  /** The time zone of dates in its invitations (`Europe/Paris`), if declared. */
  readonly timeZone?: string;
  /** Its brand in invitations, over the platform's. */
  readonly branding: Branding;
  readonly source: SourceRef;
}

/** A user's membership of an organization; keyed by (org, user). */
export interface MembershipRecord {
  readonly org: string;
  readonly user: string;
  readonly role: string;
  readonly seat: SeatKind;
  readonly suspended: boolean;
  /** `document` for a Membership, `inline` for an entry of `Organization.spec.members`. */
  readonly origin: 'document' | 'inline';
  readonly source: SourceRef;
}

/** A user's role on one resource of an organization; keyed by (org, user, resource). */
export interface GrantRecord {
  readonly org: string;
  readonly user: string;
  /** `type/name`. */
  readonly resource: string;
  readonly role: string;
  /** When the grant lapses, as an ISO timestamp; a date means the end of that day, UTC. */
  readonly expires?: string;
  readonly source: SourceRef;
}

/** A group of an organization: people sharing a role and grants; keyed by (org, name). */
export interface GroupRecord {
  readonly org: string;
  readonly name: string;
  /** An organization role its members hold. */
  readonly role?: string;
  /** Its people, by primary address. */
  readonly members: readonly string[];
  readonly grants: readonly { readonly resource: string; readonly role: string }[];
  /** `document` for a Group, `inline` for an entry of `Organization.spec.groups`. */
  readonly origin: 'document' | 'inline';
  readonly source: SourceRef;
}

/**
 * An administrator allowed to act for a member (or every member) of an organization, until an
 * expiry; keyed by (org, name).
 */
export interface DelegationRecord {
  readonly org: string;
  readonly name: string;
  /** Who acts, by primary address. */
  readonly delegate: string;
  /** For whom: a member's primary address, or `*` for every member. */
  readonly onBehalfOf: string;
  /** The permissions delegated, at most the member's own; absent: all of the member's. */
  readonly permissions?: readonly string[];
  /** When it starts, as an ISO instant; absent: at once. */
  readonly starts?: string;
  /** When it lapses, as an ISO instant. */
  readonly expires: string;
  readonly reason: string;
  readonly source: SourceRef;
}

/** A contact of an organization; keyed by (org, email). */
export interface ContactRecord {
  readonly org: string;
  readonly email: string;
  readonly name?: string;
  readonly categories: readonly ContactCategory[];
  readonly origin: 'document' | 'inline';
  readonly source: SourceRef;
}

/** Everything the manifests declare. */
export interface DesiredState {
  readonly plans: ReadonlyMap<string, PlanRecord>;
  readonly roles: ReadonlyMap<string, RoleRecord>;
  /** People declared with aliases, by primary address. */
  readonly users: ReadonlyMap<string, UserRecord>;
  readonly organizations: ReadonlyMap<string, OrganizationRecord>;
  readonly memberships: readonly MembershipRecord[];
  readonly grants: readonly GrantRecord[];
  readonly groups: readonly GroupRecord[];
  readonly delegations: readonly DelegationRecord[];
  readonly contacts: readonly ContactRecord[];
}

/** The key of a membership: one per (org, user). */
export function membershipKey(m: { org: string; user: string }): string {
  return [m.org, m.user].join('\u0000'); // join: a flat string, cheaper to hash than a rope
}

/** The key of a grant: one per (org, user, resource). */
export function grantKey(g: { org: string; user: string; resource: string }): string {
  return [g.org, g.user, g.resource].join('\u0000');
}

/** The key of a group: one per (org, name). */
export function groupKey(g: { org: string; name: string }): string {
  return [g.org, g.name].join('\u0000');
}

/** The key of a delegation: one per (org, name). */
export function delegationKey(d: { org: string; name: string }): string {
  return [d.org, d.name].join('\u0000');
}

/** The key of a contact: one per (org, email). */
export function contactKey(c: { org: string; email: string }): string {
  return [c.org, c.email].join('\u0000');
}
