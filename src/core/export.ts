/**
 * Turns the actual state back into manifests, one file per organization (plus plans and roles),
 * in the same format Roster reads: planning over an export shows no changes.
 */
import { stringify } from 'yaml';
import { OWNER_ROLE } from './catalog.js';
import type { ActualState } from './plan.js';
import type { ActualRecord, Fields } from './records.js';
import { API_VERSION } from './schema/index.js';

const HEADER = '# Exported by "roster export" from the access database.\n';

/** Options of `exportManifests`. */
export interface ExportOptions {
  /** Only this organization (no plans.yaml or roles.yaml). */
  readonly org?: string;
}

/** File name -> YAML text. */
export function exportManifests(
  actual: ActualState,
  options: ExportOptions = {},
): Map<string, string> {
  const files = new Map<string, string>();
  const of = (kind: ActualRecord['id']['kind']) => actual.records.filter((r) => r.id.kind === kind);
  const byName = <T extends { id: { name?: string } }>(a: T, b: T) =>
    (a.id.name ?? '').localeCompare(b.id.name ?? '');
  const documents = (docs: object[]) =>
    HEADER +
    docs.map((d) => stringify(d, { lineWidth: 0, aliasDuplicateObjects: false })).join('---\n');

  if (options.org === undefined) {
    const plans = of('plan')
      .sort(byName)
      .map((r) => document('Plan', r.id.name ?? '', planSpec(r.fields)));
    const roles = of('role')
      .sort(byName)
      .map((r) => document('Role', r.id.name ?? '', roleSpec(r.fields)));
    if (plans.length > 0) files.set('plans.yaml', documents(plans));
    if (roles.length > 0) files.set('roles.yaml', documents(roles));
  }

  const tenant = new Map<string, ActualRecord[]>();
  for (const r of actual.records) {
    if (r.id.org === undefined) continue;
    const list = tenant.get(r.id.org) ?? [];
    list.push(r);
    tenant.set(r.id.org, list);
  }
  for (const org of of('organization').sort(byName)) {
    const name = org.id.name ?? '';
    if (options.org !== undefined && options.org !== name) continue;
    const records = tenant.get(name) ?? [];
    const members = records.filter((r) => r.id.kind === 'membership');
    const owner = members.find((m) => m.fields.role === OWNER_ROLE);
    const spec: Record<string, unknown> = organizationSpec(org, records);
    const inline = members
      .filter((m) => m !== owner)
      .sort((a, b) => (a.id.user ?? '').localeCompare(b.id.user ?? ''))
      .map((m) => ({
        user: m.id.user,
        role: m.fields.role,
        ...(m.fields.seat === 'free' && { seat: 'free' }),
        ...(m.fields.suspended === true && { suspended: true }),
      }));
    if (inline.length > 0) spec.members = inline;
    const contacts = records
      .filter((r) => r.id.kind === 'contact')
      .sort((a, b) => (a.id.email ?? '').localeCompare(b.id.email ?? ''))
      .map((c) => ({
        email: c.id.email,
        ...(c.fields.name !== null && { name: c.fields.name }),
        categories: c.fields.categories,
      }));
    if (contacts.length > 0) spec.contacts = contacts;
    const docs: object[] = [document('Organization', name, spec)];
    const taken = new Set<string>();
    for (const g of records
      .filter((r) => r.id.kind === 'grant')
      .sort((a, b) =>
        `${a.id.user}/${a.id.resource}`.localeCompare(`${b.id.user}/${b.id.resource}`),
      )) {
      const grantSpec: Record<string, unknown> = {
        org: name,
        user: g.id.user,
        resource: g.id.resource,
        role: g.fields.role,
      };
      if (g.fields.expires !== null) grantSpec.expires = g.fields.expires;
      docs.push(
        document('Grant', uniqueName(`${name}-${g.id.user}-${g.id.resource}`, taken), grantSpec),
      );
    }
    files.set(`${name}.yaml`, documents(docs));
  }
  return files;
}

function document(kind: string, name: string, spec: object) {
  return { apiVersion: API_VERSION, kind, metadata: { name }, spec };
}

/**
 * The `spec` of an Organization without its members and contacts: display name, plan, owner,
 * resources, invitation policy, from its record and the records of its tenant.
 */
export function organizationSpec(
  org: ActualRecord,
  tenant: readonly ActualRecord[],
): Record<string, unknown> {
  const owner = tenant.find((r) => r.id.kind === 'membership' && r.fields.role === OWNER_ROLE);
  const resources = tenant
    .filter((r) => r.id.kind === 'resource')
    .map((r) => ({ type: r.id.type, name: r.id.name }))
    .sort((a, b) => `${a.type}/${a.name}`.localeCompare(`${b.type}/${b.name}`));
  const policy = invitationPolicy(org.fields);
  return {
    ...(org.fields.displayName !== null && { displayName: org.fields.displayName }),
    ...(org.fields.plan !== null && { plan: org.fields.plan }),
    ...(policy !== undefined && { invitations: policy }),
    owner: owner?.id.user ?? '',
    ...(resources.length > 0 && { resources }),
  };
}

/** The `spec` of a Plan, from its record's fields. */
export function planSpec(f: Fields) {
  return {
    ...(f.displayName !== null && { displayName: f.displayName }),
    seats: { paid: f.paidSeats, free: f.freeSeats },
    ...(f.maxResources !== null && { maxResources: f.maxResources }),
    features: f.features,
    ...(invitationPolicy(f) !== undefined && { invitations: invitationPolicy(f) }),
  };
}

/** `spec.invitations` from a plan's or organization's fields, if any is set. */
export function invitationPolicy(f: Fields) {
  const policy = {
    ...(typeof f.invitationExpiryDays === 'number' && { expiresInDays: f.invitationExpiryDays }),
    ...(typeof f.invitationMaxResends === 'number' && { maxResends: f.invitationMaxResends }),
  };
  return Object.keys(policy).length === 0 ? undefined : policy;
}

/** The `spec` of a Role, from its record's fields. */
export function roleSpec(f: Fields) {
  return {
    scope: f.scope,
    ...(f.description !== null && { description: f.description }),
    permissions: f.permissions,
  };
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
      .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '') || 'grant';
  let name = base;
  for (let i = 2; taken.has(name); i++) name = `${base}-${i}`;
  taken.add(name);
  return name;
}
