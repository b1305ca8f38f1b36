/**
 * Reads the actual state: one set-based query per table, scoped to the organizations the plan
 * concerns (or every organization). Plans, roles and organizations are always read whole, since
 * references between them cross the scope.
 */
import { BUILT_IN_ROLES } from '../core/catalog.js';
import type { ActualState, OutsideUsage } from '../core/plan.js';
import type {
  ContactFields,
  DelegationFields,
  GrantFields,
  GroupFields,
  MembershipFields,
  OrganizationFields,
  PlanFields,
  RoleFields,
  UserFields,
} from '../core/kinds/index.js';
import type { ActualRecord, Fields, MemberFacts } from '../core/records.js';
import { MEMBERSHIP_APPLIED } from './sql/last-applied.js';
import { run, statement, type Queryable } from './sql/statement.js';

/** Which organizations to read the records of: the named ones, or all. */
export type SnapshotScope = readonly string[] | 'all';

const fieldsOf = (value: unknown): Fields | null => (value === null ? null : (value as Fields));
const iso = (value: Date | null): string | null => (value === null ? null : value.toISOString());

/** How much of the catalog a snapshot reads besides the scope. */
export interface SnapshotOptions {
  /**
   * `all` (default): every organization, so that deleting a plan sees the organizations using it.
   * `scope`: only the organizations in scope, for a driver that writes one organization's records
   * and no plan or role (the operator): its reads stay constant as the tenants grow.
   */
  readonly organizations?: 'all' | 'scope';
}

/**
 * Facts of members who have not joined are shared (most are alike: invited by the same actor), so
 * a million members do not keep a million copies.
 */
function memberFactsCache() {
  const shared = new Map<string, MemberFacts>();
  return (status: MemberFacts['status'], joinedAt: string | null, invitedBy: string | null) => {
    if (joinedAt !== null) return { status, joinedAt, invitedBy };
    const key = invitedBy === null ? `${status}\u0001` : `${status}\u0000${invitedBy}`;
    let facts = shared.get(key);
    if (facts === undefined) {
      facts = Object.freeze({ status, joinedAt, invitedBy });
      shared.set(key, facts);
    }
    return facts;
  };
}

/** `lastApplied` as the row's own fields when equal (no drift): one object instead of two. */
function appliedOrSame(applied: Fields | null, current: Fields): Fields | null {
  if (applied === null) return null;
  const keys = Object.keys(current);
  if (Object.keys(applied).length !== keys.length) return applied;
  for (const key of keys) {
    if (JSON.stringify(applied[key]) !== JSON.stringify(current[key])) return applied;
  }
  return current;
}

/** Reads the records of the scope: one set-based statement per table. */
export async function readSnapshot(
  db: Queryable,
  scope: SnapshotScope,
  options: SnapshotOptions = {},
): Promise<ActualState> {
  const orgFilter = scope === 'all' ? null : [...scope];
  const narrow = options.organizations === 'scope' && orgFilter !== null;
  const factsOf = memberFactsCache();
  const records: ActualRecord[] = [];
  for (const read of [
    () => readPlans(db),
    () => readRoles(db),
    () => readUsers(db),
    () => readOrganizations(db, narrow ? orgFilter : null),
    () => readResources(db, orgFilter),
    () => readMemberships(db, orgFilter, factsOf),
    () => readGrants(db, orgFilter, factsOf),
    () => readGroups(db, orgFilter),
    () => readDelegations(db, orgFilter),
    () => readContacts(db, orgFilter),
  ]) {
    for (const record of await read()) records.push(record);
  }
  return { records };
}

type FactsOf = ReturnType<typeof memberFactsCache>;

const READ_PLANS = statement(
  'read-plans',
  `SELECT name, display_name, paid_seats, free_seats, max_resources, features,
          invitation_expiry_days, invitation_max_resends, max_delegation_days, managed_by, last_applied
     FROM plans`,
);
/** Every plan. */
export async function readPlans(db: Queryable): Promise<ActualRecord[]> {
  const { rows } = await run(db, READ_PLANS);
  return rows.map((r) => {
    const fields: PlanFields = {
      displayName: r.display_name,
      paidSeats: r.paid_seats,
      freeSeats: r.free_seats,
      maxResources: r.max_resources,
      features: [...r.features].sort(),
      invitationExpiryDays: r.invitation_expiry_days,
      invitationMaxResends: r.invitation_max_resends,
      maxDelegationDays: r.max_delegation_days,
    };
    return {
      id: { kind: 'plan', name: r.name },
      fields,
      managedBy: r.managed_by,
      lastApplied: fieldsOf(r.last_applied),
    };
  });
}

const READ_ROLES = statement(
  'read-roles',
  `SELECT r.name, r.org, r.scope, r.description, r.managed_by, r.last_applied,
          coalesce(array_agg(p.permission ORDER BY p.permission) FILTER (WHERE p.permission IS NOT NULL), '{}') AS permissions
     FROM roles r LEFT JOIN role_permissions p ON p.role = r.name
    GROUP BY r.name`,
);
/** Every custom role, with its permissions. */
export async function readRoles(db: Queryable): Promise<ActualRecord[]> {
  const { rows } = await run(db, READ_ROLES);
  return rows.map((r) => {
    const fields: RoleFields = {
      org: r.org,
      scope: r.scope,
      description: r.description,
      permissions: r.permissions,
    };
    return {
      id: { kind: 'role', name: r.name },
      fields,
      managedBy: r.managed_by,
      lastApplied: fieldsOf(r.last_applied),
    };
  });
}

const READ_USERS = statement(
  'read-users',
  // Only the people a User record manages or who have aliases: few, however many users there are.
  `SELECT u.email, r.managed_by, r.last_applied, r.locale,
          coalesce((SELECT array_agg(a.alias ORDER BY a.alias) FROM user_aliases a WHERE a.user_id = u.user_id), '{}') AS aliases
     FROM users u LEFT JOIN user_records r USING (user_id)
    WHERE u.user_id IN (SELECT user_id FROM user_records UNION SELECT user_id FROM user_aliases)`,
);
/** Every person with aliases, or managed as a User. */
export async function readUsers(db: Queryable): Promise<ActualRecord[]> {
  const { rows } = await run(db, READ_USERS);
  return rows.map((r) => {
    const fields: UserFields = { aliases: r.aliases, locale: r.locale ?? null };
    return {
      id: { kind: 'user', email: r.email },
      fields,
      managedBy: r.managed_by,
      lastApplied: appliedOrSame(fieldsOf(r.last_applied), fields),
    };
  });
}

const READ_ORGANIZATIONS = statement(
  'read-organizations',
  `SELECT name, display_name, plan, invitation_expiry_days, invitation_max_resends,
          locale, time_zone, product_name, sender_name, logo_url, accent_color,
          managed_by, last_applied
     FROM organizations WHERE $1::text[] IS NULL OR name = ANY($1::text[])`,
);
/** The named organizations, or every one (`null`). */
export async function readOrganizations(
  db: Queryable,
  names: readonly string[] | null,
): Promise<ActualRecord[]> {
  const { rows } = await run(db, READ_ORGANIZATIONS, [names]);
  return rows.map((r) => {
    const fields: OrganizationFields = {
      displayName: r.display_name,
      plan: r.plan,
      invitationExpiryDays: r.invitation_expiry_days,
      invitationMaxResends: r.invitation_max_resends,
      locale: r.locale,
      timeZone: r.time_zone,
      productName: r.product_name,
      senderName: r.sender_name,
      logoUrl: r.logo_url,
      accentColor: r.accent_color,
    };
    return {
      id: { kind: 'organization', name: r.name },
      fields,
      managedBy: r.managed_by,
      lastApplied: fieldsOf(r.last_applied),
    };
  });
}

// Tenant tables, joined to their organization by org_id, scoped by name (or every organization).
const SCOPED = `o.name = ANY($1::text[]) OR $1 IS NULL`;

const READ_RESOURCES = statement(
  'read-resources',
  `SELECT o.name AS org, r.type, r.name, r.managed_by
     FROM resources r JOIN organizations o USING (org_id) WHERE ${SCOPED}`,
);
/** The resources of the named organizations, or of every one. */
export async function readResources(
  db: Queryable,
  orgs: readonly string[] | null,
): Promise<ActualRecord[]> {
  const { rows } = await run(db, READ_RESOURCES, [orgs]);
  return rows.map((r) => ({
    id: { kind: 'resource', org: r.org, type: r.type, name: r.name },
    fields: {},
    managedBy: r.managed_by,
    lastApplied: r.managed_by === null ? null : {},
  }));
}

const READ_MEMBERSHIPS = statement(
  'read-memberships',
  `SELECT o.name AS org, u.email, m.role, m.seat, m.status, m.invited_by, m.joined_at,
          m.managed_by, m.last_applied IS NOT NULL AS applied,
          -- Sent only when it differs from the row (drift): at a million rows, parsing and
          -- keeping a copy of every row's last_applied costs seconds and hundreds of MB.
          CASE WHEN m.last_applied = ${MEMBERSHIP_APPLIED.row} THEN NULL ELSE m.last_applied END AS last_applied
     FROM memberships m JOIN organizations o USING (org_id) JOIN users u USING (user_id)
    WHERE ${SCOPED}`,
);
/** The memberships of the named organizations, or of every one. */
export async function readMemberships(
  db: Queryable,
  orgs: readonly string[] | null,
  factsOf: FactsOf = memberFactsCache(),
): Promise<ActualRecord[]> {
  const { rows } = await run(db, READ_MEMBERSHIPS, [orgs]);
  return rows.map((r) => {
    const fields: MembershipFields = {
      role: r.role,
      seat: r.seat,
      suspended: r.status === 'suspended',
    };
    return {
      id: { kind: 'membership', org: r.org, user: r.email },
      fields,
      managedBy: r.managed_by,
      lastApplied: r.applied ? (fieldsOf(r.last_applied) ?? fields) : null,
      facts: factsOf(r.status, iso(r.joined_at), r.invited_by),
    };
  });
}

const READ_GRANTS = statement(
  'read-grants',
  `SELECT o.name AS org, u.email, g.resource_type, g.resource_name, g.role, g.expires_at,
          g.status, g.invited_by, g.joined_at, g.managed_by, g.last_applied
     FROM grants g JOIN organizations o USING (org_id) JOIN users u USING (user_id)
    WHERE ${SCOPED}`,
);
/** The grants of the named organizations, or of every one. */
export async function readGrants(
  db: Queryable,
  orgs: readonly string[] | null,
  factsOf: FactsOf = memberFactsCache(),
): Promise<ActualRecord[]> {
  const { rows } = await run(db, READ_GRANTS, [orgs]);
  return rows.map((r) => {
    const fields: GrantFields = { role: r.role, expires: iso(r.expires_at) };
    return {
      id: {
        kind: 'grant',
        org: r.org,
        user: r.email,
        resource: `${r.resource_type}/${r.resource_name}`,
      },
      fields,
      managedBy: r.managed_by,
      lastApplied: appliedOrSame(fieldsOf(r.last_applied), fields),
      facts: factsOf(r.status, iso(r.joined_at), r.invited_by),
    };
  });
}

const READ_CONTACTS = statement(
  'read-contacts',
  `SELECT o.name AS org, c.email, c.name, c.categories, c.managed_by, c.last_applied
     FROM contacts c JOIN organizations o USING (org_id) WHERE ${SCOPED}`,
);
/** The contacts of the named organizations, or of every one. */
export async function readContacts(
  db: Queryable,
  orgs: readonly string[] | null,
): Promise<ActualRecord[]> {
  const { rows } = await run(db, READ_CONTACTS, [orgs]);
  return rows.map((r) => {
    const fields: ContactFields = { name: r.name, categories: [...r.categories].sort() };
    return {
      id: { kind: 'contact', org: r.org, email: r.email },
      fields,
      managedBy: r.managed_by,
      lastApplied: appliedOrSame(fieldsOf(r.last_applied), fields),
    };
  });
}

const READ_GROUPS = statement(
  'read-groups',
  `SELECT o.name AS org, gr.name, gr.role, gr.managed_by, gr.last_applied,
          coalesce((SELECT array_agg(u.email ORDER BY u.email) FROM group_members gm JOIN users u USING (user_id)
                     WHERE gm.org_id = gr.org_id AND gm.group_name = gr.name), '{}') AS members,
          coalesce((SELECT array_agg(gg.resource_type || '/' || gg.resource_name || '=' || gg.role
                                     ORDER BY gg.resource_type || '/' || gg.resource_name || '=' || gg.role)
                      FROM group_grants gg WHERE gg.org_id = gr.org_id AND gg.group_name = gr.name), '{}') AS grants
     FROM groups gr JOIN organizations o USING (org_id) WHERE ${SCOPED}`,
);
/** The groups of the named organizations, or of every one, with their people and grants. */
export async function readGroups(
  db: Queryable,
  orgs: readonly string[] | null,
): Promise<ActualRecord[]> {
  const { rows } = await run(db, READ_GROUPS, [orgs]);
  return rows.map((r) => {
    // Sorted as the kind sorts (code points), not by the database's collation.
    const fields: GroupFields = {
      role: r.role,
      members: [...r.members].sort(),
      grants: [...r.grants].sort(),
    };
    return {
      id: { kind: 'group', org: r.org, name: r.name },
      fields,
      managedBy: r.managed_by,
      lastApplied: appliedOrSame(fieldsOf(r.last_applied), fields),
    };
  });
}

const READ_DELEGATIONS = statement(
  'read-delegations',
  `SELECT o.name AS org, d.name, du.email AS delegate, coalesce(mu.email, '*') AS on_behalf_of,
          d.permissions, d.starts_at, d.expires_at, d.reason, d.managed_by, d.last_applied
     FROM delegations d JOIN organizations o USING (org_id)
     JOIN users du ON du.user_id = d.delegate_id
     LEFT JOIN users mu ON mu.user_id = d.on_behalf_of_id
    WHERE ${SCOPED}`,
);
/** The delegations of the named organizations, or of every one. */
export async function readDelegations(
  db: Queryable,
  orgs: readonly string[] | null,
): Promise<ActualRecord[]> {
  const { rows } = await run(db, READ_DELEGATIONS, [orgs]);
  return rows.map((r) => {
    const fields: DelegationFields = {
      delegate: r.delegate,
      onBehalfOf: r.on_behalf_of,
      permissions: r.permissions === null ? null : [...r.permissions].sort(),
      starts: iso(r.starts_at),
      expires: r.expires_at.toISOString(),
      reason: r.reason,
    };
    return {
      id: { kind: 'delegation', org: r.org, name: r.name },
      fields,
      managedBy: r.managed_by,
      lastApplied: appliedOrSame(fieldsOf(r.last_applied), fields),
    };
  });
}

/**
 * `snapshot` with what organizations outside `scope` use, when a plan made against it changes a
 * plan or a role (only then can they break a rule): counted in SQL, not read record by record, so
 * that a plan of a few tenants does not pay for the others. Unchanged when there are none.
 */
export async function withUsageOutside(
  db: Queryable,
  snapshot: ActualState,
  scope: SnapshotScope,
  changes: readonly { readonly id: { readonly kind: string } }[],
): Promise<ActualState> {
  if (scope === 'all') return snapshot;
  if (!changes.some((c) => c.id.kind === 'plan' || c.id.kind === 'role')) return snapshot;
  const usageOutsideScope = await readUsageOutside(db, scope);
  return usageOutsideScope.size === 0 ? snapshot : { ...snapshot, usageOutsideScope };
}

const READ_USAGE_OUTSIDE = statement(
  'read-usage-outside',
  `WITH outside AS (SELECT org_id, name, plan FROM organizations WHERE NOT (name = ANY($1::text[]))),
     m AS (SELECT m.org_id,
                  count(*) FILTER (WHERE m.seat = 'paid')::int AS paid,
                  count(*) FILTER (WHERE m.seat = 'free')::int AS free,
                  count(*) FILTER (WHERE m.role = 'owner')::int AS owners,
                  count(*) FILTER (WHERE m.role <> 'owner')::int AS members,
                  count(*) FILTER (WHERE NOT (m.role = ANY($2::text[])))::int AS custom
             FROM memberships m JOIN outside USING (org_id) GROUP BY m.org_id),
     g AS (SELECT g.org_id, count(*)::int AS grants,
                  count(*) FILTER (WHERE NOT (g.role = ANY($2::text[])))::int AS custom
             FROM grants g JOIN outside USING (org_id) GROUP BY g.org_id),
     r AS (SELECT r.org_id, count(*)::int AS resources
             FROM resources r JOIN outside USING (org_id) GROUP BY r.org_id),
     -- People in groups only take a paid seat each, once.
     gp AS (SELECT gm.org_id, count(DISTINCT gm.user_id)::int AS paid,
                   count(DISTINCT gm.group_name)::int AS groups
              FROM group_members gm JOIN outside USING (org_id)
             WHERE NOT EXISTS (SELECT 1 FROM memberships m WHERE m.org_id = gm.org_id AND m.user_id = gm.user_id)
             GROUP BY gm.org_id),
     used AS (SELECT x.org_id, array_agg(DISTINCT x.role ORDER BY x.role) AS roles
                FROM (SELECT org_id, role FROM memberships WHERE NOT (role = ANY($2::text[]))
                      UNION ALL
                      SELECT org_id, role FROM grants WHERE NOT (role = ANY($2::text[]))
                      UNION ALL
                      SELECT org_id, role FROM groups WHERE NOT (role = ANY($2::text[]))
                      UNION ALL
                      SELECT org_id, role FROM group_grants WHERE NOT (role = ANY($2::text[]))) x
                JOIN outside USING (org_id) GROUP BY x.org_id),
     dl AS (SELECT d.org_id, count(*)::int AS delegations
              FROM delegations d JOIN outside USING (org_id) GROUP BY d.org_id)
     SELECT o.name, o.plan, coalesce(m.paid, 0) + coalesce(gp.paid, 0) AS paid, coalesce(m.free, 0) AS free,
            coalesce(dl.delegations, 0) AS delegations,
            coalesce(m.owners, 0) AS owners, coalesce(m.members, 0) + coalesce(gp.groups, 0) AS members,
            coalesce(m.custom, 0) + coalesce(g.custom, 0) AS custom,
            coalesce(g.grants, 0) AS grants, coalesce(r.resources, 0) AS resources,
            coalesce(used.roles, '{}') AS roles
       FROM outside o
       LEFT JOIN m USING (org_id) LEFT JOIN g USING (org_id) LEFT JOIN r USING (org_id)
       LEFT JOIN gp USING (org_id) LEFT JOIN dl USING (org_id)
       LEFT JOIN used USING (org_id)`,
);

/**
 * Per organization not in `inside`: its plan, seats, owners, resources, what needs each plan
 * feature, and the custom roles it uses. Set-based: one aggregate per table, joined once.
 */
async function readUsageOutside(
  db: Queryable,
  inside: readonly string[],
): Promise<Map<string, OutsideUsage>> {
  const { rows } = await run(db, READ_USAGE_OUTSIDE, [[...inside], [...BUILT_IN_ROLES.keys()]]);
  const usage = new Map<string, OutsideUsage>();
  for (const row of rows) {
    usage.set(row.name, {
      plan: row.plan,
      roles: row.roles,
      usage: {
        paid: row.paid,
        free: row.free,
        owners: row.owners,
        resources: row.resources,
        features: {
          members: row.members,
          resourceGrants: row.grants,
          customRoles: row.custom,
          delegation: row.delegations,
        },
      },
    });
  }
  return usage;
}
