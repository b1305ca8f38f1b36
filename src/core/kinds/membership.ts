/**
 * A user's membership of an organization, with a role and a seat; keyed by (org, user). An
 * organization's owner is the membership with role `owner`.
 */
import { OWNER_ROLE, type SeatKind } from '../catalog.js';
import type { MembershipRecord, SourceRef } from '../model.js';
import type { KindDescriptor } from './kind.js';
import { address, text } from './shared.js';

export interface MembershipId {
  readonly kind: 'membership';
  readonly org: string;
  readonly user: string;
}

export type MembershipFields = {
  readonly role: string;
  readonly seat: string;
  readonly suspended: boolean;
};

export const membershipKind = {
  kind: 'membership',
  key: (id) => [id.org, id.user],
  describe: (id) => `membership ${id.user}`,
  organization: (id) => id.org,
  fields: ['role', 'seat', 'suspended'],
  *desired(state) {
    for (const org of state.organizations.values()) {
      const fields: MembershipFields = { role: OWNER_ROLE, seat: 'paid', suspended: false };
      const id = { kind: 'membership', org: org.name, user: org.owner } as const;
      yield { id, fields, source: org.source, sourceField: ['spec', 'owner'] };
    }
    for (const m of state.memberships) {
      const fields: MembershipFields = { role: m.role, seat: m.seat, suspended: m.suspended };
      yield { id: { kind: 'membership', org: m.org, user: m.user }, fields, source: m.source };
    }
  },
  document: {
    kind: 'Membership',
    identityFields: ['org', 'user'],
    mainId(_name, spec) {
      const org = text(spec, 'org');
      const user = address(spec, 'user');
      return org === undefined || user === undefined
        ? undefined
        : { kind: 'membership', org, user };
    },
    ids(name, spec) {
      const id = this.mainId(name, spec);
      return id === undefined ? undefined : [id];
    },
    collect({ parsed, document }, context) {
      if (document.kind !== 'Membership') return;
      const spec = document.spec;
      const at: SourceRef = { document: parsed, path: ['spec'] };
      const user = context.person(at, ['user'], spec.user);
      if (user === undefined) return;
      context.addMembership(membershipModel(spec.org, user, spec, 'document', at));
    },
    spec: ({ id, fields: f }) => ({
      org: id.org,
      user: id.user,
      role: f.role,
      seat: f.seat,
      suspended: f.suspended,
    }),
  },
} satisfies KindDescriptor<MembershipId, MembershipFields>;

/** A membership of the desired state, from a Membership document or an inline member. */
export function membershipModel(
  org: string,
  user: string,
  spec: { role: string; seat: SeatKind; suspended: boolean },
  origin: MembershipRecord['origin'],
  source: SourceRef,
): MembershipRecord {
  return { org, user, role: spec.role, seat: spec.seat, suspended: spec.suspended, origin, source };
}
