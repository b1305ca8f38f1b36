/**
 * Builds the desired state from schema-checked documents: unfolds inline members and contacts,
 * normalises e-mails and expiry dates, and refuses any record declared twice (naming both
 * places). Reference and limit rules run afterwards, in `rules.ts`.
 */
import type { ContactCategory, PlanFeature, SeatKind } from './catalog.js';
import type { CheckedDocument } from './check-document.js';
import { normalizeEmail } from './email.js';
import { formatLocation, type Finding } from './findings.js';
import {
  contactKey,
  grantKey,
  locate,
  membershipKey,
  type ContactRecord,
  type DesiredState,
  type GrantRecord,
  type MembershipRecord,
  type OrganizationRecord,
  type PlanRecord,
  type ResourceRecord,
  type RoleRecord,
  type SourceRef,
} from './model.js';
import type { PathSegment } from './parse.js';

/** Collects records and the findings met while doing so. */
export function buildDesiredState(documents: readonly CheckedDocument[]): {
  state: DesiredState;
  findings: Finding[];
} {
  const findings: Finding[] = [];
  const plans = new Map<string, PlanRecord>();
  const roles = new Map<string, RoleRecord>();
  const organizations = new Map<string, OrganizationRecord>();
  const memberships = new Map<string, MembershipRecord>();
  const grants = new Map<string, GrantRecord>();
  const contacts = new Map<string, ContactRecord>();
  const documentNames = new Map<string, SourceRef>();

  const error = (source: SourceRef, field: PathSegment[], code: string, message: string) => {
    findings.push({ severity: 'error', code, message, location: locate(source, field) });
  };
  const email = (source: SourceRef, field: PathSegment[], raw: string): string | undefined => {
    const result = normalizeEmail(raw);
    if (!result.ok) {
      error(source, field, 'invalid-email', `${JSON.stringify(raw)} ${result.reason}`);
      return undefined;
    }
    if (result.warning !== undefined) {
      findings.push({
        severity: 'warning',
        code: 'idn-email',
        message: `${JSON.stringify(raw)} ${result.warning}`,
        location: locate(source, field),
      });
    }
    return result.email;
  };
  /** Adds a record unless its key is taken; a duplicate is reported at its second place. */
  const claim = <T extends { source: SourceRef }>(
    map: Map<string, T>,
    key: string,
    record: T,
    what: string,
  ): void => {
    const first = map.get(key);
    if (first === undefined) {
      map.set(key, record);
      return;
    }
    const firstAt = locate(first.source);
    findings.push({
      severity: 'error',
      code: 'duplicate',
      message: `${what} is declared twice: first at ${formatLocation(firstAt)}; keep one`,
      location: locate(record.source),
      related: [firstAt],
    });
  };

  for (const { parsed, document } of documents) {
    const source: SourceRef = { document: parsed, path: [] };
    const nameKey = [document.kind, document.metadata.namespace ?? '', document.metadata.name].join(
      '\u0000',
    );
    const sameName = documentNames.get(nameKey);
    if (sameName !== undefined) {
      const firstAt = locate(sameName, ['metadata', 'name']);
      findings.push({
        severity: 'error',
        code: 'duplicate',
        message: `${document.kind} "${document.metadata.name}" is declared twice: first at ${formatLocation(firstAt)}; rename or remove one`,
        location: locate(source, ['metadata', 'name']),
        related: [firstAt],
      });
      continue;
    }
    documentNames.set(nameKey, source);

    switch (document.kind) {
      case 'Plan': {
        const spec = document.spec;
        plans.set(document.metadata.name, {
          name: document.metadata.name,
          ...(spec.displayName !== undefined && { displayName: spec.displayName.normalize('NFC') }),
          seats: { paid: spec.seats.paid, free: spec.seats.free },
          ...(spec.maxResources !== undefined && { maxResources: spec.maxResources }),
          features: new Set<PlanFeature>(spec.features),
          invitations: spec.invitations ?? {},
          source,
        });
        break;
      }
      case 'Role': {
        const spec = document.spec;
        roles.set(document.metadata.name, {
          name: document.metadata.name,
          scope: spec.scope,
          permissions: spec.permissions,
          ...(spec.description !== undefined && { description: spec.description }),
          source,
        });
        break;
      }
      case 'Organization': {
        const spec = document.spec;
        const org = document.metadata.name;
        const owner = email(source, ['spec', 'owner'], spec.owner);
        const resources = new Map<string, ResourceRecord>();
        (spec.resources ?? []).forEach((r, i) => {
          const resource = { ...r, source: { document: parsed, path: ['spec', 'resources', i] } };
          claim(
            resources,
            `${r.type}/${r.name}`,
            resource,
            `resource ${r.type}/${r.name} of ${org}`,
          );
        });
        organizations.set(org, {
          name: org,
          ...(spec.displayName !== undefined && { displayName: spec.displayName.normalize('NFC') }),
          ...(spec.plan !== undefined && { plan: spec.plan }),
          owner: owner ?? spec.owner.toLowerCase(),
          resources: [...resources.values()],
          invitations: spec.invitations ?? {},
          source,
        });
        (spec.members ?? []).forEach((m, i) => {
          const at: SourceRef = { document: parsed, path: ['spec', 'members', i] };
          const user = email(at, ['user'], m.user);
          if (user === undefined) return;
          const record = membership(org, user, m, 'inline', at);
          claim(memberships, membershipKey(record), record, `membership of ${user} in ${org}`);
        });
        (spec.contacts ?? []).forEach((c, i) => {
          const at: SourceRef = { document: parsed, path: ['spec', 'contacts', i] };
          const address = email(at, ['email'], c.email);
          if (address === undefined) return;
          const record = contact(org, address, c, 'inline', at);
          claim(contacts, contactKey(record), record, `contact ${address} of ${org}`);
        });
        break;
      }
      case 'Membership': {
        const spec = document.spec;
        const at: SourceRef = { document: parsed, path: ['spec'] };
        const user = email(at, ['user'], spec.user);
        if (user === undefined) break;
        const record = membership(spec.org, user, spec, 'document', at);
        claim(memberships, membershipKey(record), record, `membership of ${user} in ${spec.org}`);
        break;
      }
      case 'Grant': {
        const spec = document.spec;
        const at: SourceRef = { document: parsed, path: ['spec'] };
        const user = email(at, ['user'], spec.user);
        let expires: string | undefined;
        if (spec.expires !== undefined) {
          expires = expiryInstant(spec.expires);
          if (expires === undefined) {
            error(at, ['expires'], 'invalid-date', `expires: "${spec.expires}" is not a real date`);
          }
        }
        if (user === undefined || (spec.expires !== undefined && expires === undefined)) break;
        const record: GrantRecord = {
          org: spec.org,
          user,
          resource: spec.resource,
          role: spec.role,
          ...(expires !== undefined && { expires }),
          source: at,
        };
        claim(
          grants,
          grantKey(record),
          record,
          `grant of ${spec.resource} in ${spec.org} to ${user}`,
        );
        break;
      }
      case 'Contact': {
        const spec = document.spec;
        const at: SourceRef = { document: parsed, path: ['spec'] };
        const address = email(at, ['email'], spec.email);
        if (address === undefined) break;
        const record = contact(spec.org, address, spec, 'document', at);
        claim(contacts, contactKey(record), record, `contact ${address} of ${spec.org}`);
        break;
      }
    }
  }

  return {
    state: {
      plans,
      roles,
      organizations,
      memberships: [...memberships.values()],
      grants: [...grants.values()],
      contacts: [...contacts.values()],
    },
    findings,
  };
}

function membership(
  org: string,
  user: string,
  spec: { role: string; seat: SeatKind; suspended: boolean },
  origin: MembershipRecord['origin'],
  source: SourceRef,
): MembershipRecord {
  return { org, user, role: spec.role, seat: spec.seat, suspended: spec.suspended, origin, source };
}

function contact(
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

/**
 * The instant a grant lapses, as an ISO timestamp: a date means the end of that day (UTC), so
 * `2027-06-30` lapses at `2027-07-01T00:00:00.000Z`. Undefined for a date that does not exist.
 */
export function expiryInstant(expires: string): string | undefined {
  const dateOnly = /^(\d{4})-(\d{2})-(\d{2})$/.exec(expires);
  if (dateOnly !== null) {
    const [year, month, day] = dateOnly.slice(1).map(Number) as [number, number, number];
    const date = new Date(Date.UTC(year, month - 1, day));
    if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return undefined;
    return new Date(Date.UTC(year, month - 1, day + 1)).toISOString();
  }
  const [, year, month, day] = /^(\d{4})-(\d{2})-(\d{2})/.exec(expires)?.map(Number) ?? [];
  const instant = new Date(expires);
  if (Number.isNaN(instant.getTime()) || year === undefined) return undefined;
  const probe = new Date(Date.UTC(year, (month ?? 1) - 1, day));
  if (probe.getUTCMonth() !== (month ?? 1) - 1) return undefined;
  return instant.toISOString();
}
