/**
 * A group of an organization: people who share an organization role and grants on its resources;
 * keyed by (org, name). Its members are one field of the record (sorted addresses), its grants
 * another (`type/name=role`), so that a changed group is one update a reviewer reads as such.
 */
import type { GroupRecord, SourceRef } from '../model.js';
import type { PathSegment } from '../parse.js';
import type { KindDescriptor } from './kind.js';
import { optional, sorted, text } from './shared.js';

export interface GroupId {
  readonly kind: 'group';
  readonly org: string;
  readonly name: string;
}

export type GroupFields = {
  readonly role: string | null;
  /** The people, by primary address. */
  readonly members: readonly string[];
  /** `type/name=role`, sorted. */
  readonly grants: readonly string[];
};

/** A group grant as its field holds it. */
export const groupGrant = (g: { resource: string; role: string }): string =>
  `${g.resource}=${g.role}`;

/** A group grant from its field. */
export function parseGroupGrant(value: string): { resource: string; role: string } {
  const at = value.lastIndexOf('=');
  return { resource: value.slice(0, at), role: value.slice(at + 1) };
}

export const groupKind = {
  kind: 'group',
  key: (id) => [id.org, id.name],
  describe: (id) => `group ${id.name}`,
  organization: (id) => id.org,
  fields: ['role', 'members', 'grants'],
  *desired(state) {
    for (const g of state.groups) {
      const fields: GroupFields = {
        role: g.role ?? null,
        members: sorted(g.members),
        grants: sorted(g.grants.map(groupGrant)),
      };
      yield { id: { kind: 'group', org: g.org, name: g.name }, fields, source: g.source };
    }
  },
  document: {
    kind: 'Group',
    identityFields: ['org', 'name'],
    mainId(name, spec) {
      const org = text(spec, 'org');
      return org === undefined || name === '' ? undefined : { kind: 'group', org, name };
    },
    ids(name, spec) {
      const id = this.mainId(name, spec);
      return id === undefined ? undefined : [id];
    },
    collect({ parsed, document }, context) {
      if (document.kind !== 'Group') return;
      const at: SourceRef = { document: parsed, path: ['spec'] };
      const group = groupModel(
        document.spec.org,
        document.metadata.name,
        document.spec,
        'document',
        at,
        context,
      );
      if (group !== undefined) context.addGroup(group);
    },
    spec: ({ id, fields: f }) => ({
      org: id.org,
      ...optional('role', f.role),
      members: f.members,
      ...((f.grants as readonly string[]).length > 0 && {
        grants: (f.grants as readonly string[]).map(parseGroupGrant),
      }),
    }),
  },
} satisfies KindDescriptor<GroupId, GroupFields>;

/**
 * A group of the desired state, from a Group document or an inline group; its members resolved
 * to people (an alias is its User's). Undefined when an address is invalid (reported).
 */
export function groupModel(
  org: string,
  name: string,
  spec: {
    members: readonly string[];
    role?: string;
    grants?: readonly { resource: string; role: string }[];
  },
  origin: GroupRecord['origin'],
  source: SourceRef,
  context: {
    person(source: SourceRef, field: PathSegment[], raw: string): string | undefined;
    error(source: SourceRef, field: PathSegment[], code: string, message: string): void;
  },
): GroupRecord | undefined {
  const members: string[] = [];
  const seen = new Map<string, number>();
  let valid = true;
  spec.members.forEach((raw, i) => {
    const person = context.person(source, ['members', i], raw);
    if (person === undefined) {
      valid = false;
      return;
    }
    const first = seen.get(person);
    if (first !== undefined) {
      context.error(
        source,
        ['members', i],
        'duplicate',
        `${raw} is ${person}, already a member of group ${name} (members[${first}])`,
      );
      return;
    }
    seen.set(person, i);
    members.push(person);
  });
  if (!valid) return undefined;
  return {
    org,
    name,
    ...(spec.role !== undefined && { role: spec.role }),
    members,
    grants: [...(spec.grants ?? [])],
    origin,
    source,
  };
}
