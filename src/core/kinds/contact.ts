/** A contact of an organization: receives mail of some categories, has no access; keyed by (org, email). */
import type { ContactCategory } from '../catalog.js';
import type { ContactRecord, SourceRef } from '../model.js';
import type { KindDescriptor } from './kind.js';
import { address, optional, sorted, text } from './shared.js';

export interface ContactId {
  readonly kind: 'contact';
  readonly org: string;
  readonly email: string;
}

export type ContactFields = {
  readonly name: string | null;
  readonly categories: readonly string[];
};

export const contactKind = {
  kind: 'contact',
  key: (id) => [id.org, id.email],
  describe: (id) => `contact ${id.email}`,
  organization: (id) => id.org,
  fields: ['name', 'categories'],
  *desired(state) {
    for (const c of state.contacts) {
      const fields: ContactFields = { name: c.name ?? null, categories: sorted(c.categories) };
      yield { id: { kind: 'contact', org: c.org, email: c.email }, fields, source: c.source };
    }
  },
  document: {
    kind: 'Contact',
    identityFields: ['org', 'email'],
    mainId(_name, spec) {
      const org = text(spec, 'org');
      const email = address(spec, 'email');
      return org === undefined || email === undefined ? undefined : { kind: 'contact', org, email };
    },
    ids(name, spec) {
      const id = this.mainId(name, spec);
      return id === undefined ? undefined : [id];
    },
    collect({ parsed, document }, context) {
      if (document.kind !== 'Contact') return;
      const spec = document.spec;
      const at: SourceRef = { document: parsed, path: ['spec'] };
      const email = context.email(at, ['email'], spec.email);
      if (email === undefined) return;
      context.addContact(contactModel(spec.org, email, spec, 'document', at));
    },
    spec: ({ id, fields: f }) => ({
      org: id.org,
      email: id.email,
      ...optional('name', f.name),
      categories: f.categories,
    }),
  },
} satisfies KindDescriptor<ContactId, ContactFields>;

/** A contact of the desired state, from a Contact document or an inline contact. */
export function contactModel(
  org: string,
  email: string,
  spec: { name?: string; categories: ContactCategory[] },
  origin: ContactRecord['origin'],
  source: SourceRef,
): ContactRecord {
  return {
    org,
    email,
    ...(spec.name !== undefined && { name: spec.name.normalize('NFC') }),
    categories: spec.categories,
    origin,
    source,
  };
}
