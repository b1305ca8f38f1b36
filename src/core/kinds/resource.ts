/** A resource of an organization (`type/name`), declared in the organization's `spec.resources`. */
import type { KindDescriptor } from './kind.js';

export interface ResourceId {
  readonly kind: 'resource';
  readonly org: string;
  readonly type: string;
  readonly name: string;
}

/** A resource has no managed fields: it exists or not. */
export type ResourceFields = Record<never, never>;

export const resourceKind = {
  kind: 'resource',
  key: (id) => [id.org, id.type, id.name],
  describe: (id) => `resource ${id.type}/${id.name}`,
  organization: (id) => id.org,
  fields: [],
  *desired(state) {
    for (const org of state.organizations.values()) {
      for (const r of org.resources) {
        const id = { kind: 'resource', org: org.name, type: r.type, name: r.name } as const;
        yield { id, fields: {}, source: r.source };
      }
    }
  },
  document: null,
} satisfies KindDescriptor<ResourceId, ResourceFields>;
