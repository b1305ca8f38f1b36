/**
 * Access tests: `kind: AccessTest` documents list what people may and may not do
 * (`alice@x.io can billing.manage in acme`), evaluated against the declared state with the same
 * decision as the access API (`access.ts`), without a database. The unit tests of access, run in
 * the same CI job as `roster plan`. Pure.
 */
import {
  ACCESS_REASONS,
  decideAccess,
  decideDelegatedAccess,
  type AccessDecision,
  type AccessFacts,
  type GroupFact,
} from './access.js';
import { OWNER_ROLE } from './catalog.js';
import { compileSchema, describeSchemaErrors } from './check-document.js';
import { emailIdentity } from './email.js';
import type { Finding } from './findings.js';
import { EVERY_MEMBER } from './kinds/delegation.js';
import { ALL_PERMISSIONS } from './least-privilege.js';
import type {
  DelegationRecord,
  DesiredState,
  GrantRecord,
  GroupRecord,
  MembershipRecord,
} from './model.js';
import type { ParsedDocument } from './parse.js';
import {
  documentSchema,
  emailSchema,
  nameSchema,
  PERMISSION_PATTERN,
  RESOURCE_REF_PATTERN,
} from './schema/common.js';

const permission = { type: 'string', maxLength: 64, pattern: PERMISSION_PATTERN } as const;

/** The JSON Schema of an `AccessTest`. */
export const accessTestSchema = documentSchema('AccessTest', {
  type: 'object',
  additionalProperties: false,
  required: ['expect'],
  properties: {
    description: { type: 'string', maxLength: 1000 },
    expect: {
      type: 'array',
      minItems: 1,
      maxItems: 10000,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['user', 'in'],
        properties: {
          user: emailSchema,
          can: { ...permission, description: 'The permission the user must have.' },
          cannot: { ...permission, description: 'The permission the user must not have.' },
          in: { ...nameSchema, description: 'The organization.' },
          resource: { type: 'string', maxLength: 127, pattern: RESOURCE_REF_PATTERN },
          actingAs: { ...emailSchema, description: 'Acting for this member (a Delegation).' },
          reason: {
            type: 'string',
            enum: ACCESS_REASONS,
            description: 'The reason expected too.',
          },
        },
      },
    },
  },
} as const);

/** One expectation, where it was written. */
export interface AccessExpectation {
  readonly user: string;
  readonly permission: string;
  readonly allowed: boolean;
  readonly org: string;
  readonly resource: string | null;
  readonly actingAs: string | null;
  readonly reason: string | null;
  readonly document: ParsedDocument;
  readonly index: number;
}

const validate = compileSchema(accessTestSchema);

/** Whether a parsed document is an access test (and not a record of the access database). */
export function isAccessTest(parsed: ParsedDocument): boolean {
  const value = parsed.value as { kind?: unknown } | null;
  return typeof value === 'object' && value !== null && value.kind === 'AccessTest';
}

/** The expectations of an AccessTest document, or the findings against it. */
export function readAccessTest(parsed: ParsedDocument): AccessExpectation[] | Finding[] {
  if (!validate(parsed.value)) {
    return describeSchemaErrors(validate.errors ?? [], 'AccessTest', parsed);
  }
  const spec = (parsed.value as { spec: { expect: Record<string, string>[] } }).spec;
  const findings: Finding[] = [];
  const expectations: AccessExpectation[] = [];
  spec.expect.forEach((e, index) => {
    const at = parsed.locate(['spec', 'expect', index]);
    if ((e.can === undefined) === (e.cannot === undefined)) {
      findings.push({
        severity: 'error',
        code: 'access-test',
        message: 'an expectation says either can: PERMISSION or cannot: PERMISSION',
        location: at,
      });
      return;
    }
    const permission = e.can ?? e.cannot ?? '';
    if (!ALL_PERMISSIONS.includes(permission)) {
      findings.push({
        severity: 'error',
        code: 'unknown-permission',
        message: `"${permission}" is not a permission`,
        location: parsed.locate(['spec', 'expect', index, e.can === undefined ? 'cannot' : 'can']),
      });
      return;
    }
    expectations.push({
      user: emailIdentity(e.user ?? ''),
      permission,
      allowed: e.can !== undefined,
      org: e.in ?? '',
      resource: e.resource ?? null,
      actingAs: e.actingAs === undefined ? null : emailIdentity(e.actingAs),
      reason: e.reason ?? null,
      document: parsed,
      index,
    });
  });
  return findings.length > 0 ? findings : expectations;
}

/**
 * The declared state looked up by person: built once per run, so that each expectation costs a
 * few map lookups, not a scan of every membership, grant and group of the input.
 */
interface StateIndex {
  readonly state: DesiredState;
  /** Each alias, to its person's primary address. */
  readonly personOf: ReadonlyMap<string, string>;
  /** `org\0user` -> membership. */
  readonly memberships: ReadonlyMap<string, MembershipRecord>;
  /** `org\0user\0resource` -> grant. */
  readonly grants: ReadonlyMap<string, GrantRecord>;
  /** `org\0user` -> the groups of that organization the person is in. */
  readonly groups: ReadonlyMap<string, readonly GroupRecord[]>;
  /** `org\0delegate` -> that delegate's delegations there. */
  readonly delegations: ReadonlyMap<string, readonly DelegationRecord[]>;
}

const keyOf = (...parts: string[]) => parts.join('\u0000');

/** The list under `key`, made empty if absent. */
function listAt<T>(map: Map<string, T[]>, key: string): T[] {
  let list = map.get(key);
  if (list === undefined) map.set(key, (list = []));
  return list;
}

function indexState(state: DesiredState): StateIndex {
  const personOf = new Map<string, string>();
  for (const user of state.users.values()) {
    for (const alias of user.aliases) personOf.set(alias, user.email);
  }
  const memberships = new Map(state.memberships.map((m) => [keyOf(m.org, m.user), m]));
  const grants = new Map(state.grants.map((g) => [keyOf(g.org, g.user, g.resource), g]));
  const groups = new Map<string, GroupRecord[]>();
  for (const g of state.groups) {
    for (const person of g.members) listAt(groups, keyOf(g.org, person)).push(g);
  }
  const delegations = new Map<string, DelegationRecord[]>();
  for (const d of state.delegations) listAt(delegations, keyOf(d.org, d.delegate)).push(d);
  return { state, personOf, memberships, grants, groups, delegations };
}

/** What the declared state says of one person in one organization, as the database would. */
function factsOf(index: StateIndex, user: string, orgName: string, resource: string | null) {
  const { state } = index;
  const org = state.organizations.get(orgName);
  const permissionsOf = (role: string): string[] | null => {
    const custom = state.roles.get(role);
    if (custom === undefined) return null;
    // A role of another organization grants nothing here.
    return custom.org === undefined || custom.org === orgName ? [...custom.permissions] : [];
  };
  // An alias is its User's primary address.
  const person = index.personOf.get(user) ?? user;
  const m = index.memberships.get(keyOf(orgName, person));
  const membership =
    org === undefined
      ? null
      : org.owner === person
        ? { role: OWNER_ROLE, status: 'active', permissions: null }
        : m === undefined
          ? null
          : {
              role: m.role,
              status: m.suspended ? 'suspended' : 'active',
              permissions: permissionsOf(m.role),
            };
  const grant = resource === null ? undefined : index.grants.get(keyOf(orgName, person, resource));
  const groups = index.groups.get(keyOf(orgName, person)) ?? [];
  const groupFacts: GroupFact[] = groups.map((g) => ({
    group: g.name,
    role: g.role ?? null,
    status: 'active',
    permissions: g.role === undefined ? null : permissionsOf(g.role),
  }));
  const groupGrants: GroupFact[] = groups.flatMap((g) =>
    g.grants
      .filter((x) => x.resource === resource)
      .map((x) => ({
        group: g.name,
        role: x.role,
        status: 'active',
        permissions: permissionsOf(x.role),
      })),
  );
  const plan = org?.plan === undefined ? undefined : state.plans.get(org.plan);
  const facts: AccessFacts = {
    orgExists: org !== undefined,
    membership,
    grant:
      grant === undefined
        ? null
        : {
            role: grant.role,
            status: 'active',
            expiresAt: grant.expires === undefined ? null : new Date(grant.expires),
            permissions: permissionsOf(grant.role),
          },
    groups: groupFacts,
    groupGrants,
    resourceExists:
      resource !== null &&
      (org?.resources.some((r) => `${r.type}/${r.name}` === resource) ?? false),
    planFeatures: plan === undefined ? null : [...plan.features],
  };
  return { facts, person, membership };
}

/** The decision the declared state gives an expectation. */
function decideExpectation(index: StateIndex, e: AccessExpectation, now: Date): AccessDecision {
  if (e.actingAs === null) {
    return decideAccess(
      factsOf(index, e.user, e.org, e.resource).facts,
      e.permission,
      e.resource,
      now,
    );
  }
  const member = factsOf(index, e.actingAs, e.org, e.resource);
  const delegate = factsOf(index, e.user, e.org, null);
  // As the access API picks: the member's own before one for every member, a current one first.
  const current = (d: DelegationRecord) =>
    Date.parse(d.expires) > now.getTime() &&
    (d.starts === undefined || Date.parse(d.starts) <= now.getTime());
  const d = (index.delegations.get(keyOf(e.org, delegate.person)) ?? [])
    .filter((x) => x.onBehalfOf === member.person || x.onBehalfOf === EVERY_MEMBER)
    .sort(
      (a, b) =>
        Number(current(b)) - Number(current(a)) ||
        Number(a.onBehalfOf === EVERY_MEMBER) - Number(b.onBehalfOf === EVERY_MEMBER),
    )[0];
  return decideDelegatedAccess(
    {
      delegate: delegate.membership,
      delegation:
        d === undefined
          ? null
          : {
              name: d.name,
              permissions: d.permissions ?? null,
              startsAt: d.starts === undefined ? null : new Date(d.starts),
              expiresAt: new Date(d.expires),
            },
      planFeatures: delegate.facts.planFeatures ?? null,
    },
    decideAccess(member.facts, e.permission, e.resource, now),
    e.permission,
    member.person,
    now,
  );
}

/** Runs the expectations; each one that does not hold is a finding where it was written. */
export function runAccessTests(
  state: DesiredState,
  expectations: readonly AccessExpectation[],
  now: Date,
): Finding[] {
  const failures: Finding[] = [];
  if (expectations.length === 0) return failures;
  const index = indexState(state);
  for (const e of expectations) {
    const decision = decideExpectation(index, e, now);
    const held =
      decision.allowed === e.allowed && (e.reason === null || e.reason === decision.reason);
    if (held) continue;
    const said = `${e.user} ${e.allowed ? 'can' : 'cannot'} ${e.permission} in ${e.org}${e.resource === null ? '' : ` on ${e.resource}`}${e.actingAs === null ? '' : ` acting as ${e.actingAs}`}${e.reason === null ? '' : ` (${e.reason})`}`;
    const got = `${decision.allowed ? 'allowed' : 'denied'}: ${[
      decision.reason,
      ...(decision.role === undefined ? [] : [`role ${decision.role}`]),
      ...(decision.group === undefined ? [] : [`group ${decision.group}`]),
      ...(decision.delegation === undefined ? [] : [`delegation ${decision.delegation}`]),
    ].join(', ')}`;
    failures.push({
      severity: 'error',
      code: 'access-test',
      message: `expected "${said}", but the declared state says ${got}`,
      location: e.document.locate(['spec', 'expect', e.index]),
    });
  }
  return failures;
}
