/**
 * An organization (a tenant): its plan, display name and invitation policy. Its owner is a
 * membership with role `owner`; its resources, inline members and contacts are records of their
 * own kinds, declared in the same document.
 */
import type { Branding } from '../branding.js';
import { OWNER_ROLE } from '../catalog.js';
import type { ResourceRecord, SourceRef } from '../model.js';
import type { Fields, KindDescriptor } from './kind.js';
import type { RecordId } from './index.js';
import { contactModel } from './contact.js';
import { membershipModel } from './membership.js';
import { groupModel } from './group.js';
import { address, invitationPolicy, optional, text } from './shared.js';

export interface OrganizationId {
  readonly kind: 'organization';
  readonly name: string;
}

export type OrganizationFields = {
  readonly displayName: string | null;
  readonly plan: string | null;
  readonly invitationExpiryDays: number | null;
  readonly invitationMaxResends: number | null;
  readonly locale: string | null;
  readonly timeZone: string | null;
  readonly productName: string | null;
  readonly senderName: string | null;
  readonly logoUrl: string | null;
  readonly accentColor: string | null;
};

export const organizationKind = {
  kind: 'organization',
  key: (id) => [id.name],
  describe: (id) => `organization ${id.name}`,
  organization: (id) => id.name,
  fields: [
    'displayName',
    'plan',
    'invitationExpiryDays',
    'invitationMaxResends',
    'locale',
    'timeZone',
    'productName',
    'senderName',
    'logoUrl',
    'accentColor',
  ],
  *desired(state) {
    for (const org of state.organizations.values()) {
      const fields: OrganizationFields = {
        displayName: org.displayName ?? null,
        plan: org.plan ?? null,
        invitationExpiryDays: org.invitations.expiresInDays ?? null,
        invitationMaxResends: org.invitations.maxResends ?? null,
        locale: org.locale ?? null,
        timeZone: org.timeZone ?? null,
        productName: org.branding.productName ?? null,
        senderName: org.branding.senderName ?? null,
        logoUrl: org.branding.logoUrl ?? null,
        accentColor: org.branding.accentColor?.toLowerCase() ?? null,
      };
      yield { id: { kind: 'organization', name: org.name }, fields, source: org.source };
    }
  },
  document: {
    kind: 'Organization',
    identityFields: ['name'],
    mainId: (name) => ({ kind: 'organization', name }),
    ids(name, spec) {
      const ids: RecordId[] = [{ kind: 'organization', name }];
      const owner = address(spec, 'owner');
      if (owner !== undefined) ids.push({ kind: 'membership', org: name, user: owner });
      for (const m of list(spec.members)) {
        const user = address(m, 'user');
        if (user === undefined) return undefined;
        ids.push({ kind: 'membership', org: name, user });
      }
      for (const g of list(spec.groups)) {
        const group = text(g, 'name');
        if (group === undefined) return undefined;
        ids.push({ kind: 'group', org: name, name: group });
      }
      for (const c of list(spec.contacts)) {
        const email = address(c, 'email');
        if (email === undefined) return undefined;
        ids.push({ kind: 'contact', org: name, email });
      }
      return ids;
    },
    collect({ parsed, document }, context) {
      if (document.kind !== 'Organization') return;
      const spec = document.spec;
      const org = document.metadata.name;
      const source: SourceRef = { document: parsed, path: [] };
      const owner = context.person(source, ['spec', 'owner'], spec.owner);
      const resources = new Map<string, ResourceRecord>();
      (spec.resources ?? []).forEach((r, i) => {
        const resource = { ...r, source: { document: parsed, path: ['spec', 'resources', i] } };
        context.claim(
          resources,
          `${r.type}/${r.name}`,
          resource,
          `resource ${r.type}/${r.name} of ${org}`,
        );
      });
      context.organizations.set(org, {
        name: org,
        ...(spec.displayName !== undefined && { displayName: spec.displayName.normalize('NFC') }),
        ...(spec.plan !== undefined && { plan: spec.plan }),
        owner: owner ?? spec.owner.toLowerCase(),
        resources: [...resources.values()],
        invitations: spec.invitations ?? {},
        ...(spec.locale !== undefined && { locale: spec.locale }),
        ...(spec.timeZone !== undefined && { timeZone: spec.timeZone }),
        branding: spec.branding ?? {},
        source,
      });
      (spec.members ?? []).forEach((m, i) => {
        const at: SourceRef = { document: parsed, path: ['spec', 'members', i] };
        const user = context.person(at, ['user'], m.user);
        if (user === undefined) return;
        context.addMembership(membershipModel(org, user, m, 'inline', at));
      });
      (spec.groups ?? []).forEach((g, i) => {
        const at: SourceRef = { document: parsed, path: ['spec', 'groups', i] };
        const group = groupModel(org, g.name, g, 'inline', at, context);
        if (group !== undefined) context.addGroup(group);
      });
      (spec.contacts ?? []).forEach((c, i) => {
        const at: SourceRef = { document: parsed, path: ['spec', 'contacts', i] };
        const email = context.email(at, ['email'], c.email);
        if (email === undefined) return;
        context.addContact(contactModel(org, email, c, 'inline', at));
      });
    },
    spec({ id, fields: f }, tenant) {
      const owner = tenant.find(
        (r) => r.id.kind === 'membership' && r.id.org === id.name && r.fields.role === OWNER_ROLE,
      );
      const resources = tenant
        .flatMap((r) => (r.id.kind === 'resource' ? [{ type: r.id.type, name: r.id.name }] : []))
        .sort((a, b) => `${a.type}/${a.name}`.localeCompare(`${b.type}/${b.name}`));
      return {
        ...optional('displayName', f.displayName),
        ...optional('plan', f.plan),
        ...optional('invitations', invitationPolicy(f)),
        ...optional('locale', f.locale),
        ...optional('timeZone', f.timeZone),
        ...optional('branding', branding(f)),
        owner: owner?.id.kind === 'membership' ? owner.id.user : '',
        ...(resources.length > 0 && { resources }),
      };
    },
  },
} satisfies KindDescriptor<OrganizationId, OrganizationFields>;

/** `spec.branding` from the record's fields, or null when it sets nothing. */
function branding(f: Fields): Branding | null {
  const parts: Record<string, string> = {};
  for (const part of ['productName', 'senderName', 'logoUrl', 'accentColor'] as const) {
    const value = f[part];
    if (typeof value === 'string') parts[part] = value;
  }
  return Object.keys(parts).length > 0 ? parts : null;
}

const list = (value: unknown): Readonly<Record<string, unknown>>[] =>
  Array.isArray(value) ? value.filter((v) => typeof v === 'object' && v !== null) : [];
