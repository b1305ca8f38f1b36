/**
 * Turns the actual state back into manifests, one file per organization (plus plans, roles and users),
 * in the same format Roster reads: planning over an export shows no changes.
 */
import { stringify } from 'yaml';
import { OWNER_ROLE } from './catalog.js';
import { isKind, KIND_TABLE, orgOf, type RecordKind, type RecordOf } from './kinds/index.js';
import type { ActualState } from './plan.js';
import type { ActualRecord } from './records.js';
import { API_VERSION } from './schema/index.js';
import { membershipFields } from './schema/membership.js';

const HEADER = '# Exported by "roster export" from the access database.\n';

/** Options of `exportManifests`. */
export interface ExportOptions {
  /** Only this organization (no plans.yaml, roles.yaml or users.yaml). */
  readonly org?: string;
}

/** File name -> YAML text. */
export function exportManifests(
  actual: ActualState,
  options: ExportOptions = {},
): Map<string, string> {
  const files = new Map<string, string>();
  const of = <K extends RecordKind>(records: readonly ActualRecord[], kind: K) =>
    records.filter((r): r is ActualRecord & RecordOf<K> => isKind(r, kind));
  const documents = (docs: object[]) =>
    HEADER +
    docs.map((d) => stringify(d, { lineWidth: 0, aliasDuplicateObjects: false })).join('---\n');
  const byName = (a: { id: { name: string } }, b: { id: { name: string } }) =>
    a.id.name.localeCompare(b.id.name);

  if (options.org === undefined) {
    const plans = of(actual.records, 'plan')
      .sort(byName)
      .map((r) => document('Plan', r.id.name, KIND_TABLE.plan.document.spec(r)));
    const roles = of(actual.records, 'role')
      .sort(byName)
      .map((r) => document('Role', r.id.name, KIND_TABLE.role.document.spec(r)));
    const names = new Set<string>();
    const users = of(actual.records, 'user')
      .filter((r) => r.fields.aliases.length > 0 || r.fields.locale !== null)
      .sort((a, b) => a.id.email.localeCompare(b.id.email))
      .map((r) =>
        document('User', uniqueName(r.id.email, names), KIND_TABLE.user.document.spec(r)),
      );
    if (plans.length > 0) files.set('plans.yaml', documents(plans));
    if (roles.length > 0) files.set('roles.yaml', documents(roles));
    if (users.length > 0) files.set('users.yaml', documents(users));
  }

  const tenant = new Map<string, ActualRecord[]>();
  for (const r of actual.records) {
    const org = orgOf(r.id);
    if (org === null) continue;
    const list = tenant.get(org) ?? [];
    list.push(r);
    tenant.set(org, list);
  }
  const { membership, contact, grant, organization } = KIND_TABLE;
  for (const org of of(actual.records, 'organization').sort(byName)) {
    const name = org.id.name;
    if (options.org !== undefined && options.org !== name) continue;
    const records = tenant.get(name) ?? [];
    const members = of(records, 'membership');
    const owner = members.find((m) => m.fields.role === OWNER_ROLE);
    const spec: Record<string, unknown> = organization.document.spec(org, records);
    // Inline entries are the documents' specs without the organization, defaults left out.
    const inline = members
      .filter((m) => m !== owner)
      .sort((a, b) => a.id.user.localeCompare(b.id.user))
      .map((m) => withoutDefaults(inlineOf(membership.document.spec(m))));
    if (inline.length > 0) spec.members = inline;
    const contacts = of(records, 'contact')
      .sort((a, b) => a.id.email.localeCompare(b.id.email))
      .map((c) => inlineOf(contact.document.spec(c)));
    if (contacts.length > 0) spec.contacts = contacts;
    const groups = of(records, 'group')
      .sort((a, b) => a.id.name.localeCompare(b.id.name))
      .map((g) => ({ name: g.id.name, ...inlineOf(KIND_TABLE.group.document.spec(g)) }));
    if (groups.length > 0) spec.groups = groups;
    const docs: object[] = [document('Organization', name, spec)];
    const taken = new Set<string>();
    for (const g of of(records, 'grant').sort((a, b) =>
      `${a.id.user}/${a.id.resource}`.localeCompare(`${b.id.user}/${b.id.resource}`),
    )) {
      docs.push(
        document(
          'Grant',
          uniqueName(`${name}-${g.id.user}-${g.id.resource}`, taken),
          grant.document.spec(g),
        ),
      );
    }
    for (const d of of(records, 'delegation').sort((a, b) => a.id.name.localeCompare(b.id.name))) {
      docs.push(document('Delegation', d.id.name, KIND_TABLE.delegation.document.spec(d)));
    }
    files.set(`${name}.yaml`, documents(docs));
  }
  return files;
}

function document(kind: string, name: string, spec: object) {
  return { apiVersion: API_VERSION, kind, metadata: { name }, spec };
}

/** A document's spec as an entry of its Organization: without `org`. */
function inlineOf(spec: Record<string, unknown>): Record<string, unknown> {
  const { org: _org, ...entry } = spec;
  return entry;
}

/** An inline member without the values its schema defaults to (a paid seat, not suspended). */
function withoutDefaults(entry: Record<string, unknown>): Record<string, unknown> {
  const schema = membershipFields as Record<string, { default?: unknown }>;
  return Object.fromEntries(
    Object.entries(entry).filter(([key, value]) => schema[key]?.default !== value),
  );
}

/** A DNS-1123 name made from free text, unique among `taken`. */
export function uniqueName(text: string, taken: Set<string>): string {
  const base =
    text
      .toLowerCase()
      .replace(/@/g, '-at-')
      .replace(/[^a-z0-9.-]+/g, '-')
      .replace(/-{2,}/g, '-')
      .replace(/-*\.[-.]*/g, '.')
      .slice(0, 240)
      .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '') || 'record';
  let name = base;
  for (let i = 2; taken.has(name); i++) name = `${base}-${i}`;
  taken.add(name);
  return name;
}
