/**
 * Builds the desired state from schema-checked documents: each document's kind file collects
 * what it declares (unfolding inline members and contacts, normalising e-mails and expiry dates);
 * this module refuses any record declared twice, naming both places. Reference and limit rules
 * run afterwards, in `rules.ts`.
 */
import type { CheckedDocument } from './check-document.js';
import { normalizeEmail } from './email.js';
import { formatLocation, type Finding, type SourceLocation } from './findings.js';
import { kindOfDocument } from './kinds/index.js';
import {
  contactKey,
  delegationKey,
  grantKey,
  groupKey,
  locate,
  membershipKey,
  type ContactRecord,
  type DelegationRecord,
  type DesiredState,
  type GrantRecord,
  type GroupRecord,
  type MembershipRecord,
  type OrganizationRecord,
  type PlanRecord,
  type RoleRecord,
  type SourceRef,
  type UserRecord,
} from './model.js';
import type { PathSegment } from './parse.js';

export { expiryInstant } from './expiry.js';

/** What a kind's `collect` adds to, and the checks it shares. */
export interface CollectContext {
  readonly plans: Map<string, PlanRecord>;
  readonly roles: Map<string, RoleRecord>;
  readonly organizations: Map<string, OrganizationRecord>;
  /**
   * Adds a person and claims their addresses; an address another User claims is reported at
   * both places (Users are collected before every other document).
   */
  addUser(record: UserRecord, aliasFields: readonly PathSegment[][]): void;
  addMembership(record: MembershipRecord): void;
  addGrant(record: GrantRecord): void;
  addContact(record: ContactRecord): void;
  addGroup(record: GroupRecord): void;
  addDelegation(record: DelegationRecord): void;
  /** The normalised address, or undefined after reporting why it is not one. */
  email(source: SourceRef, field: PathSegment[], raw: string): string | undefined;
  /** The person an address names: its User's primary address when it is an alias. */
  person(source: SourceRef, field: PathSegment[], raw: string): string | undefined;
  error(source: SourceRef, field: PathSegment[], code: string, message: string): void;
  /** Adds a record unless its key is taken; a duplicate is reported at its second place. */
  claim<T extends { source: SourceRef }>(
    map: Map<string, T>,
    key: string,
    record: T,
    what: string,
  ): void;
}

/** Collects records and the findings met while doing so. */
export function buildDesiredState(documents: readonly CheckedDocument[]): {
  state: DesiredState;
  findings: Finding[];
} {
  const findings: Finding[] = [];
  const memberships = new Map<string, MembershipRecord>();
  const grants = new Map<string, GrantRecord>();
  const contacts = new Map<string, ContactRecord>();
  const groups = new Map<string, GroupRecord>();
  const delegations = new Map<string, DelegationRecord>();
  const documentNames = new Map<string, SourceRef>();
  const users = new Map<string, UserRecord>();
  /** Every address a User declares: whose it is, and where. */
  const addresses = new Map<string, { primary: string; at: SourceLocation }>();

  const context: CollectContext = {
    plans: new Map(),
    roles: new Map(),
    organizations: new Map(),
    addUser(user, aliasFields) {
      const claim = (address: string, at: SourceLocation, what: string): boolean => {
        const first = addresses.get(address);
        if (first === undefined) {
          addresses.set(address, { primary: user.email, at });
          return true;
        }
        const whose = first.primary === user.email ? 'this User' : `the User ${first.primary}`;
        findings.push({
          severity: 'error',
          code: 'alias-collision',
          message: `${address} (${what}) is already an address of ${whose} at ${formatLocation(first.at)}: one address names one person`,
          location: at,
          related: [first.at],
        });
        return false;
      };
      if (!claim(user.email, locate(user.source, ['email']), 'primary address')) return;
      const aliases = user.aliases.filter((alias, i) =>
        claim(alias, locate(user.source, aliasFields[i] ?? []), 'alias'),
      );
      users.set(user.email, { ...user, aliases });
    },
    person(source, field, raw) {
      const email = context.email(source, field, raw);
      return email === undefined ? undefined : (addresses.get(email)?.primary ?? email);
    },
    addMembership: (m) =>
      context.claim(memberships, membershipKey(m), m, `membership of ${m.user} in ${m.org}`),
    addGrant: (g) =>
      context.claim(grants, grantKey(g), g, `grant of ${g.resource} in ${g.org} to ${g.user}`),
    addContact: (c) => context.claim(contacts, contactKey(c), c, `contact ${c.email} of ${c.org}`),
    addGroup: (g) => context.claim(groups, groupKey(g), g, `group ${g.name} of ${g.org}`),
    addDelegation: (d) =>
      context.claim(delegations, delegationKey(d), d, `delegation ${d.name} of ${d.org}`),
    error(source, field, code, message) {
      findings.push({ severity: 'error', code, message, location: locate(source, field) });
    },
    email(source, field, raw) {
      const result = normalizeEmail(raw);
      if (!result.ok) {
        context.error(source, field, 'invalid-email', `${JSON.stringify(raw)} ${result.reason}`);
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
    },
    claim(map, key, record, what) {
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
    },
  };

  // Users first: what every other document's addresses mean depends on them.
  const ordered = [
    ...documents.filter((d) => d.document.kind === 'User'),
    ...documents.filter((d) => d.document.kind !== 'User'),
  ];
  for (const checked of ordered) {
    const { parsed, document } = checked;
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
    kindOfDocument(document.kind).document.collect(checked, context);
  }

  return {
    state: {
      plans: context.plans,
      roles: context.roles,
      users,
      organizations: context.organizations,
      memberships: [...memberships.values()],
      grants: [...grants.values()],
      groups: [...groups.values()],
      delegations: [...delegations.values()],
      contacts: [...contacts.values()],
    },
    findings,
  };
}
