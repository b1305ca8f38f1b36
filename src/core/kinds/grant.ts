/** A user's role on one resource of an organization, until an optional expiry; keyed by (org, user, resource). */
import type { GrantRecord, SourceRef } from '../model.js';
import { expiryInstant } from '../expiry.js';
import type { KindDescriptor } from './kind.js';
import { address, optional, text } from './shared.js';

export interface GrantId {
  readonly kind: 'grant';
  readonly org: string;
  readonly user: string;
  /** `type/name`. */
  readonly resource: string;
}

export type GrantFields = {
  readonly role: string;
  /** When the grant lapses, as an ISO instant. */
  readonly expires: string | null;
};

export const grantKind = {
  kind: 'grant',
  key: (id) => [id.org, id.user, id.resource],
  describe: (id) => `grant ${id.user} on ${id.resource}`,
  organization: (id) => id.org,
  fields: ['role', 'expires'],
  *desired(state) {
    for (const g of state.grants) {
      const id = { kind: 'grant', org: g.org, user: g.user, resource: g.resource } as const;
      yield { id, fields: { role: g.role, expires: g.expires ?? null }, source: g.source };
    }
  },
  document: {
    kind: 'Grant',
    identityFields: ['org', 'user', 'resource'],
    mainId(_name, spec) {
      const org = text(spec, 'org');
      const user = address(spec, 'user');
      const resource = text(spec, 'resource');
      return org === undefined || user === undefined || resource === undefined
        ? undefined
        : { kind: 'grant', org, user, resource };
    },
    ids(name, spec) {
      const id = this.mainId(name, spec);
      return id === undefined ? undefined : [id];
    },
    collect({ parsed, document }, context) {
      if (document.kind !== 'Grant') return;
      const spec = document.spec;
      const at: SourceRef = { document: parsed, path: ['spec'] };
      const user = context.person(at, ['user'], spec.user);
      let expires: string | undefined;
      if (spec.expires !== undefined) {
        expires = expiryInstant(spec.expires);
        if (expires === undefined) {
          context.error(
            at,
            ['expires'],
            'invalid-date',
            `expires: "${spec.expires}" is not a real date`,
          );
        }
      }
      if (user === undefined || (spec.expires !== undefined && expires === undefined)) return;
      const record: GrantRecord = {
        org: spec.org,
        user,
        resource: spec.resource,
        role: spec.role,
        ...(expires !== undefined && { expires }),
        source: at,
      };
      context.addGrant(record);
    },
    spec: ({ id, fields: f }) => ({
      org: id.org,
      user: id.user,
      resource: id.resource,
      role: f.role,
      ...optional('expires', f.expires),
    }),
  },
} satisfies KindDescriptor<GrantId, GrantFields>;
