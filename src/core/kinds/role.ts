/**
 * A custom role: a scope (organization or resource) and the permissions it grants; platform-wide,
 * or belonging to one organization (`org`), where alone it may be used.
 */
import type { KindDescriptor } from './kind.js';
import { optional, sorted } from './shared.js';

export interface RoleId {
  readonly kind: 'role';
  readonly name: string;
}

export type RoleFields = {
  readonly org: string | null;
  readonly scope: string;
  readonly description: string | null;
  readonly permissions: readonly string[];
};

export const roleKind = {
  kind: 'role',
  key: (id) => [id.name],
  describe: (id) => `role ${id.name}`,
  organization: () => null,
  fields: ['org', 'scope', 'description', 'permissions'],
  *desired(state) {
    for (const role of state.roles.values()) {
      const fields: RoleFields = {
        org: role.org ?? null,
        scope: role.scope,
        description: role.description ?? null,
        permissions: sorted(role.permissions),
      };
      yield { id: { kind: 'role', name: role.name }, fields, source: role.source };
    }
  },
  document: {
    kind: 'Role',
    identityFields: ['name'],
    mainId: (name) => ({ kind: 'role', name }),
    ids: (name) => [{ kind: 'role', name }],
    collect({ parsed, document }, context) {
      if (document.kind !== 'Role') return;
      const spec = document.spec;
      context.roles.set(document.metadata.name, {
        name: document.metadata.name,
        scope: spec.scope,
        permissions: spec.permissions,
        ...(spec.description !== undefined && { description: spec.description }),
        ...(spec.org !== undefined && { org: spec.org }),
        source: { document: parsed, path: [] },
      });
    },
    spec: ({ fields: f }) => ({
      ...optional('org', f.org),
      scope: f.scope,
      ...optional('description', f.description),
      permissions: f.permissions,
    }),
  },
} satisfies KindDescriptor<RoleId, RoleFields>;
