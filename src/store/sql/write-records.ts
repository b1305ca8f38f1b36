/**
 * The statements apply writes records with: one per kind and direction, each taking a batch as
 * arrays (set-based: one round trip per batch, however many rows); those that write many rows
 * in a first apply read them from a staging table filled by COPY instead, from `copyFrom` rows
 * up (`row-source.ts`). Apply's steps in `../apply.ts` call them in order; the column lists here
 * are the only place a field of a kind meets its column.
 */
import { CONTACT_APPLIED, GRANT_APPLIED, MEMBERSHIP_APPLIED } from './last-applied.js';
import { rowSource, rowsStatement, writeRows, type Getters } from './row-source.js';
import { run, statement, type Queryable } from './statement.js';

/** A text[] or int[] parameter: one value per row. */
type Column<T> = readonly T[];

const INSERT_USERS = rowsStatement(
  'insert-users',
  rowSource('users', [['email', 'text']]),
  0,
  (from) => `INSERT INTO users (email) SELECT x.email FROM ${from} ON CONFLICT (email) DO NOTHING`,
);
/** Adds the users these addresses name, if new. */
export async function insertUsers(
  db: Queryable,
  emails: Column<string>,
  copyFrom?: number,
): Promise<number> {
  return writeRows(db, INSERT_USERS, [], emails, { email: (e) => e }, copyFrom);
}

const UPSERT_PLANS = statement(
  'upsert-plans',
  `INSERT INTO plans AS p (name, display_name, paid_seats, free_seats, max_resources, features,
          invitation_expiry_days, invitation_max_resends, max_delegation_days, managed_by, last_applied)
   SELECT x.name, x.display_name, x.paid, x.free, x.max_resources,
          ARRAY(SELECT jsonb_array_elements_text(x.features)), x.expiry, x.resends, x.delegation_days,
          x.managed_by, x.last_applied
     FROM unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::int[], $6::jsonb[], $7::text[], $8::jsonb[], $9::int[], $10::int[], $11::int[])
          AS x(name, display_name, paid, free, max_resources, features, managed_by, last_applied, expiry, resends, delegation_days)
   ON CONFLICT (name) DO UPDATE SET display_name = EXCLUDED.display_name, paid_seats = EXCLUDED.paid_seats,
          free_seats = EXCLUDED.free_seats, max_resources = EXCLUDED.max_resources, features = EXCLUDED.features,
          invitation_expiry_days = EXCLUDED.invitation_expiry_days,
          invitation_max_resends = EXCLUDED.invitation_max_resends,
          max_delegation_days = EXCLUDED.max_delegation_days,
          managed_by = EXCLUDED.managed_by, last_applied = EXCLUDED.last_applied, updated_at = now()`,
);
/** Creates or updates plans. */
export async function upsertPlans(
  db: Queryable,
  rows: {
    name: Column<string>;
    displayName: Column<unknown>;
    paidSeats: Column<unknown>;
    freeSeats: Column<unknown>;
    maxResources: Column<unknown>;
    features: Column<string>;
    managedBy: Column<string | null>;
    lastApplied: Column<string | null>;
    expiryDays: Column<unknown>;
    maxResends: Column<unknown>;
    maxDelegationDays: Column<unknown>;
  },
): Promise<number> {
  const r = rows;
  const values = [
    r.name,
    r.displayName,
    r.paidSeats,
    r.freeSeats,
    r.maxResources,
    r.features,
    r.managedBy,
    r.lastApplied,
    r.expiryDays,
    r.maxResends,
    r.maxDelegationDays,
  ];
  return (await run(db, UPSERT_PLANS, values)).rowCount ?? 0;
}

const UPSERT_ROLES = statement(
  'upsert-roles',
  `INSERT INTO roles AS r (name, org, scope, description, managed_by, last_applied)
   SELECT x.name, x.org, x.scope, x.description, x.managed_by, x.last_applied
     FROM unnest($1::text[], $6::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[])
          AS x(name, org, scope, description, managed_by, last_applied)
   ON CONFLICT (name) DO UPDATE SET org = EXCLUDED.org, scope = EXCLUDED.scope,
          description = EXCLUDED.description, managed_by = EXCLUDED.managed_by,
          last_applied = EXCLUDED.last_applied, updated_at = now()`,
);
/** Creates or updates roles (not their permissions: `replaceRolePermissions`). */
export async function upsertRoles(
  db: Queryable,
  r: {
    name: Column<string>;
    scope: Column<unknown>;
    description: Column<unknown>;
    managedBy: Column<string | null>;
    lastApplied: Column<string | null>;
    /** The organization a role belongs to, or null: platform-wide. */
    org: Column<unknown>;
  },
): Promise<number> {
  const values = [r.name, r.scope, r.description, r.managedBy, r.lastApplied, r.org];
  return (await run(db, UPSERT_ROLES, values)).rowCount ?? 0;
}

const DELETE_ROLE_PERMISSIONS = statement(
  'delete-role-permissions',
  `DELETE FROM role_permissions WHERE role = ANY($1::text[])`,
);
const INSERT_ROLE_PERMISSIONS = statement(
  'insert-role-permissions',
  `INSERT INTO role_permissions (role, permission) SELECT * FROM unnest($1::text[], $2::text[])`,
);
/** Sets the permissions of these roles to exactly the given (role, permission) pairs. */
export async function replaceRolePermissions(
  db: Queryable,
  roles: Column<string>,
  pairs: readonly (readonly [string, string])[],
): Promise<number> {
  const deleted = await run(db, DELETE_ROLE_PERMISSIONS, [roles]);
  const inserted = await run(db, INSERT_ROLE_PERMISSIONS, [
    pairs.map(([role]) => role),
    pairs.map(([, permission]) => permission),
  ]);
  return (deleted.rowCount ?? 0) + (inserted.rowCount ?? 0);
}

const UPSERT_ORGANIZATIONS = statement(
  'upsert-organizations',
  `INSERT INTO organizations AS o (name, display_name, plan, managed_by, last_applied,
          invitation_expiry_days, invitation_max_resends, locale, time_zone, product_name,
          sender_name, logo_url, accent_color)
   SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::int[], $7::int[],
          $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[])
   ON CONFLICT (name) DO UPDATE SET display_name = EXCLUDED.display_name, plan = EXCLUDED.plan,
          invitation_expiry_days = EXCLUDED.invitation_expiry_days,
          invitation_max_resends = EXCLUDED.invitation_max_resends,
          locale = EXCLUDED.locale, time_zone = EXCLUDED.time_zone,
          product_name = EXCLUDED.product_name, sender_name = EXCLUDED.sender_name,
          logo_url = EXCLUDED.logo_url, accent_color = EXCLUDED.accent_color,
          managed_by = EXCLUDED.managed_by, last_applied = EXCLUDED.last_applied, updated_at = now()`,
);
/** Creates or updates organizations. */
export async function upsertOrganizations(
  db: Queryable,
  r: {
    name: Column<string>;
    displayName: Column<unknown>;
    plan: Column<unknown>;
    managedBy: Column<string | null>;
    lastApplied: Column<string | null>;
    expiryDays: Column<unknown>;
    maxResends: Column<unknown>;
    locale: Column<unknown>;
    timeZone: Column<unknown>;
    productName: Column<unknown>;
    senderName: Column<unknown>;
    logoUrl: Column<unknown>;
    accentColor: Column<unknown>;
  },
): Promise<number> {
  const values = [
    r.name,
    r.displayName,
    r.plan,
    r.managedBy,
    r.lastApplied,
    r.expiryDays,
    r.maxResends,
    r.locale,
    r.timeZone,
    r.productName,
    r.senderName,
    r.logoUrl,
    r.accentColor,
  ];
  return (await run(db, UPSERT_ORGANIZATIONS, values)).rowCount ?? 0;
}

const UPSERT_RESOURCES = statement(
  'upsert-resources',
  `INSERT INTO resources (org_id, type, name, managed_by)
   SELECT o.org_id, x.type, x.name, x.managed_by
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS x(org, type, name, managed_by)
     JOIN organizations o ON o.name = x.org
   ON CONFLICT (org_id, type, name) DO UPDATE SET managed_by = EXCLUDED.managed_by`,
);
/** Creates resources, or changes who manages them. */
export async function upsertResources(
  db: Queryable,
  r: {
    org: Column<string>;
    type: Column<string>;
    name: Column<string>;
    managedBy: Column<string | null>;
  },
): Promise<number> {
  return (await run(db, UPSERT_RESOURCES, [r.org, r.type, r.name, r.managedBy])).rowCount ?? 0;
}

const MEMBERSHIP_ROWS = rowSource('memberships', [
  ['org', 'text'],
  ['email', 'text'],
  ['role', 'text'],
  ['seat', 'text'],
  ['suspended', 'boolean'],
  ['managed_by', 'text'],
]);
const UPSERT_MEMBERSHIPS = rowsStatement(
  'upsert-memberships',
  MEMBERSHIP_ROWS,
  1,
  (
    from,
  ) => `INSERT INTO memberships AS m (org_id, user_id, role, seat, status, invited_by, managed_by, last_applied)
   SELECT o.org_id, u.user_id, x.role, x.seat,
          CASE WHEN x.suspended THEN 'suspended' ELSE 'invited' END, $1, x.managed_by,
          -- What Roster wrote (the change's fields), built here rather than sent as jsonb.
          CASE WHEN x.managed_by IS NOT NULL THEN ${MEMBERSHIP_APPLIED.input} END
     FROM ${from}
     JOIN organizations o ON o.name = x.org
     JOIN users u ON u.email = x.email
   ON CONFLICT (org_id, user_id) DO UPDATE SET role = EXCLUDED.role, seat = EXCLUDED.seat,
          status = CASE WHEN EXCLUDED.status = 'suspended' THEN 'suspended'
                        WHEN m.status = 'suspended' THEN CASE WHEN m.joined_at IS NULL THEN 'invited' ELSE 'active' END
                        ELSE m.status END,
          managed_by = EXCLUDED.managed_by, last_applied = EXCLUDED.last_applied, updated_at = now()`,
);
/**
 * Creates or updates memberships. A new member is `invited` (or `suspended`); resuming a
 * suspended member makes them `active` again if they had joined.
 */
export async function upsertMemberships<T>(
  db: Queryable,
  items: readonly T[],
  get: Getters<T, 'org' | 'email' | 'role' | 'seat' | 'suspended' | 'managed_by'>,
  invitedBy: string,
  copyFrom?: number,
): Promise<number> {
  return writeRows(db, UPSERT_MEMBERSHIPS, [invitedBy], items, get, copyFrom);
}

const UPSERT_GRANTS = rowsStatement(
  'upsert-grants',
  rowSource('grants', [
    ['org', 'text'],
    ['email', 'text'],
    ['type', 'text'],
    ['name', 'text'],
    ['role', 'text'],
    ['expires', 'text'],
    ['managed_by', 'text'],
  ]),
  1,
  (
    from,
  ) => `INSERT INTO grants AS g (org_id, user_id, resource_type, resource_name, role, expires_at, invited_by, managed_by, last_applied)
   SELECT o.org_id, u.user_id, x.type, x.name, x.role, x.expires::timestamptz, $1, x.managed_by,
          CASE WHEN x.managed_by IS NOT NULL THEN ${GRANT_APPLIED.input} END
     FROM ${from}
     JOIN organizations o ON o.name = x.org
     JOIN users u ON u.email = x.email
   ON CONFLICT (org_id, user_id, resource_type, resource_name) DO UPDATE SET role = EXCLUDED.role,
          expires_at = EXCLUDED.expires_at, managed_by = EXCLUDED.managed_by,
          last_applied = EXCLUDED.last_applied, updated_at = now()`,
);
/** Creates or updates grants. */
export async function upsertGrants<T>(
  db: Queryable,
  items: readonly T[],
  get: Getters<T, 'org' | 'email' | 'type' | 'name' | 'role' | 'expires' | 'managed_by'>,
  invitedBy: string,
  copyFrom?: number,
): Promise<number> {
  return writeRows(db, UPSERT_GRANTS, [invitedBy], items, get, copyFrom);
}

const UPSERT_CONTACTS = rowsStatement(
  'upsert-contacts',
  rowSource('contacts', [
    ['org', 'text'],
    ['email', 'text'],
    ['name', 'text'],
    // A JSON array: a text[] per row does not unnest.
    ['categories', 'text'],
    ['managed_by', 'text'],
  ]),
  0,
  (from) => `INSERT INTO contacts AS c (org_id, email, name, categories, managed_by, last_applied)
   SELECT o.org_id, x.email, x.name, ARRAY(SELECT jsonb_array_elements_text(x.categories::jsonb)),
          x.managed_by, CASE WHEN x.managed_by IS NOT NULL THEN ${CONTACT_APPLIED.input} END
     FROM ${from}
     JOIN organizations o ON o.name = x.org
   ON CONFLICT (org_id, email) DO UPDATE SET name = EXCLUDED.name, categories = EXCLUDED.categories,
          managed_by = EXCLUDED.managed_by, last_applied = EXCLUDED.last_applied, updated_at = now()`,
);
/** Creates or updates contacts (`categories`: a JSON array of strings). */
export async function upsertContacts<T>(
  db: Queryable,
  items: readonly T[],
  get: Getters<T, 'org' | 'email' | 'name' | 'categories' | 'managed_by'>,
  copyFrom?: number,
): Promise<number> {
  return writeRows(db, UPSERT_CONTACTS, [], items, get, copyFrom);
}

const REVOKE_PENDING_INVITATIONS = statement(
  'revoke-pending-invitations',
  `UPDATE invitations i SET status = 'revoked'
     FROM unnest($1::text[], $2::text[], $3::text[]) AS x(org, email, resource), organizations o, users u
    WHERE i.status = 'pending' AND o.name = x.org AND u.email = x.email
      AND i.org_id = o.org_id AND i.user_id = u.user_id
      AND coalesce(i.resource_type || '/' || i.resource_name, '') = x.resource`,
);
/** Revokes the pending invitations of these (org, user, resource or '') subjects. */
export async function revokePendingInvitations(
  db: Queryable,
  r: { org: Column<string>; user: Column<string>; resource: Column<string> },
): Promise<number> {
  return (await run(db, REVOKE_PENDING_INVITATIONS, [r.org, r.user, r.resource])).rowCount ?? 0;
}

const QUEUE_INVITATIONS = rowsStatement(
  'queue-invitations',
  rowSource('invitations', [
    ['org', 'text'],
    ['email', 'text'],
    ['subject', 'text'],
    ['type', 'text'],
    ['name', 'text'],
    ['role', 'text'],
  ]),
  1,
  (from) => `WITH created AS (
     INSERT INTO invitations (org_id, user_id, subject, resource_type, resource_name, role, invited_by)
     SELECT o.org_id, u.user_id, x.subject, nullif(x.type, ''), nullif(x.name, ''), x.role, $1
       FROM ${from}
       JOIN organizations o ON o.name = x.org
       JOIN users u ON u.email = x.email
     RETURNING org_id, invitation_id)
   INSERT INTO outbox (org_id, kind, idempotency_key, payload)
   SELECT org_id, 'invitation', 'invitation:' || org_id || ':' || invitation_id,
          jsonb_build_object('orgId', org_id, 'invitationId', invitation_id)
     FROM created`,
);
/** Records invitations and queues their e-mails in the outbox, in one statement. */
export async function queueInvitations<T>(
  db: Queryable,
  items: readonly T[],
  get: Getters<T, 'org' | 'email' | 'subject' | 'type' | 'name' | 'role'>,
  invitedBy: string,
  copyFrom?: number,
): Promise<number> {
  return writeRows(db, QUEUE_INVITATIONS, [invitedBy], items, get, copyFrom);
}

/** The organization id of audit entries that name none (plans, roles, people, API keys). */
export const PLATFORM_AUDIT_ORG = 0;

const APPEND_AUDIT = rowsStatement(
  'append-audit',
  rowSource('audit', [
    ['org', 'text'],
    ['action', 'text'],
    ['record', 'text'],
    ['record_key', 'text'],
    // JSON as text, cast here: PostgreSQL parses text arrays far faster than arrays of jsonb.
    ['before', 'text'],
    ['after', 'text'],
    ['source', 'text'],
    // The person behind one change, where known (a custom resource's author); else $1.
    ['actor', 'text'],
  ]),
  1,
  (
    from,
  ) => `INSERT INTO audit_log (org_id, actor, action, record, record_key, before, after, source)
   SELECT coalesce(o.org_id, ${PLATFORM_AUDIT_ORG}), coalesce(x.actor, $1), x.action, x.record, x.record_key,
          x.before::jsonb, x.after::jsonb, x.source::jsonb
     FROM ${from}
     LEFT JOIN organizations o ON o.name = x.org`,
);
/**
 * Appends audit entries (`before`, `after`, `source`: JSON text or null; `actor`: a change's own,
 * or null for the apply's).
 */
export async function appendAudit<T>(
  db: Queryable,
  actor: string,
  items: readonly T[],
  get: Getters<
    T,
    'org' | 'action' | 'record' | 'record_key' | 'before' | 'after' | 'source' | 'actor'
  >,
  copyFrom?: number,
): Promise<number> {
  return writeRows(db, APPEND_AUDIT, [actor], items, get, copyFrom);
}

const DELETE_CONTACTS = statement(
  'delete-contacts',
  `DELETE FROM contacts c USING unnest($1::text[], $2::text[]) AS x(org, email), organizations o
    WHERE o.name = x.org AND c.org_id = o.org_id AND c.email = x.email`,
);
/** Deletes contacts by (org, email). */
export async function deleteContacts(
  db: Queryable,
  r: { org: Column<string>; email: Column<string> },
): Promise<number> {
  return (await run(db, DELETE_CONTACTS, [r.org, r.email])).rowCount ?? 0;
}

const DELETE_GRANTS = statement(
  'delete-grants',
  `DELETE FROM grants g USING unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS x(org, email, type, name),
          organizations o, users u
    WHERE o.name = x.org AND u.email = x.email AND g.org_id = o.org_id AND g.user_id = u.user_id
      AND g.resource_type = x.type AND g.resource_name = x.name`,
);
/** Deletes grants by (org, user, resource type, resource name). */
export async function deleteGrants(
  db: Queryable,
  r: {
    org: Column<string>;
    user: Column<string>;
    resourceType: Column<string>;
    resourceName: Column<string>;
  },
): Promise<number> {
  const values = [r.org, r.user, r.resourceType, r.resourceName];
  return (await run(db, DELETE_GRANTS, values)).rowCount ?? 0;
}

const DELETE_MEMBERSHIPS = statement(
  'delete-memberships',
  `DELETE FROM memberships m USING unnest($1::text[], $2::text[]) AS x(org, email), organizations o, users u
    WHERE o.name = x.org AND u.email = x.email AND m.org_id = o.org_id AND m.user_id = u.user_id`,
);
/** Deletes memberships by (org, user). */
export async function deleteMemberships(
  db: Queryable,
  r: { org: Column<string>; user: Column<string> },
): Promise<number> {
  return (await run(db, DELETE_MEMBERSHIPS, [r.org, r.user])).rowCount ?? 0;
}

const DELETE_RESOURCES = statement(
  'delete-resources',
  `DELETE FROM resources r USING unnest($1::text[], $2::text[], $3::text[]) AS x(org, type, name), organizations o
    WHERE o.name = x.org AND r.org_id = o.org_id AND r.type = x.type AND r.name = x.name`,
);
/** Deletes resources by (org, type, name). */
export async function deleteResources(
  db: Queryable,
  r: { org: Column<string>; type: Column<string>; name: Column<string> },
): Promise<number> {
  return (await run(db, DELETE_RESOURCES, [r.org, r.type, r.name])).rowCount ?? 0;
}

const DELETE_ORGANIZATIONS = statement(
  'delete-organizations',
  `DELETE FROM organizations WHERE name = ANY($1::text[])`,
);
/** Deletes organizations by name (what is left of their tenant goes with them: ON DELETE CASCADE). */
export async function deleteOrganizations(db: Queryable, names: Column<string>): Promise<number> {
  return (await run(db, DELETE_ORGANIZATIONS, [names])).rowCount ?? 0;
}

const DELETE_ROLES = statement('delete-roles', `DELETE FROM roles WHERE name = ANY($1::text[])`);
/** Deletes roles by name. */
export async function deleteRoles(db: Queryable, names: Column<string>): Promise<number> {
  return (await run(db, DELETE_ROLES, [names])).rowCount ?? 0;
}

const DELETE_PLANS = statement('delete-plans', `DELETE FROM plans WHERE name = ANY($1::text[])`);
/** Deletes plans by name. */
export async function deletePlans(db: Queryable, names: Column<string>): Promise<number> {
  return (await run(db, DELETE_PLANS, [names])).rowCount ?? 0;
}

const UPSERT_USER_RECORDS = statement(
  'upsert-user-records',
  `INSERT INTO user_records AS r (user_id, managed_by, last_applied, locale)
   SELECT u.user_id, x.managed_by, x.last_applied, x.locale
     FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::text[]) AS x(email, managed_by, last_applied, locale)
     JOIN users u ON u.email = x.email
   ON CONFLICT (user_id) DO UPDATE SET managed_by = EXCLUDED.managed_by, locale = EXCLUDED.locale,
          last_applied = EXCLUDED.last_applied, updated_at = now()`,
);
/** Records who manages the people User records name (by primary address; `insertUsers` first). */
export async function upsertUserRecords(
  db: Queryable,
  r: {
    email: Column<string>;
    managedBy: Column<string | null>;
    lastApplied: Column<string | null>;
    locale: Column<unknown>;
  },
): Promise<number> {
  const values = [r.email, r.managedBy, r.lastApplied, r.locale];
  return (await run(db, UPSERT_USER_RECORDS, values)).rowCount ?? 0;
}

const RELEASE_ALIASES = statement(
  'release-aliases',
  `DELETE FROM user_aliases a
    WHERE a.user_id IN (SELECT u.user_id FROM users u WHERE u.email = ANY($1::text[]))
       OR a.alias = ANY($2::text[])`,
);
/**
 * Drops the aliases of these people, and any of these addresses wherever it points: before the
 * users of a plan are written, so that an address leaving one person can become another's, or a
 * user of its own, in the same apply.
 */
export async function releaseAliases(
  db: Queryable,
  users: Column<string>,
  addresses: Column<string>,
): Promise<number> {
  return (await run(db, RELEASE_ALIASES, [users, addresses])).rowCount ?? 0;
}

const INSERT_ALIASES = statement(
  'insert-aliases',
  `INSERT INTO user_aliases (alias, user_id)
   SELECT x.alias, u.user_id FROM unnest($1::text[], $2::text[]) AS x(email, alias)
     JOIN users u ON u.email = x.email`,
);
/** Points each alias at its person (`[primary, alias]` pairs). */
export async function insertAliases(
  db: Queryable,
  pairs: readonly (readonly [string, string])[],
): Promise<number> {
  const values = [pairs.map(([email]) => email), pairs.map(([, alias]) => alias)];
  return (await run(db, INSERT_ALIASES, values)).rowCount ?? 0;
}

const RELEASE_USERS = statement(
  'release-users',
  `DELETE FROM user_records r USING users u WHERE r.user_id = u.user_id AND u.email = ANY($1::text[])`,
);
/** Stops managing these people (their rows stay: memberships point at them). */
export async function releaseUsers(db: Queryable, emails: Column<string>): Promise<number> {
  return (await run(db, RELEASE_USERS, [emails])).rowCount ?? 0;
}

const UPSERT_GROUPS = statement(
  'upsert-groups',
  `INSERT INTO groups AS gr (org_id, name, role, managed_by, last_applied)
   SELECT o.org_id, x.name, x.role, x.managed_by, x.last_applied
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[])
          AS x(org, name, role, managed_by, last_applied)
     JOIN organizations o ON o.name = x.org
   ON CONFLICT (org_id, name) DO UPDATE SET role = EXCLUDED.role, managed_by = EXCLUDED.managed_by,
          last_applied = EXCLUDED.last_applied, updated_at = now()`,
);
/** Creates or updates groups (not their people or grants: `replaceGroupMembers`, `replaceGroupGrants`). */
export async function upsertGroups(
  db: Queryable,
  r: {
    org: Column<string>;
    name: Column<string>;
    role: Column<unknown>;
    managedBy: Column<string | null>;
    lastApplied: Column<string | null>;
  },
): Promise<number> {
  const values = [r.org, r.name, r.role, r.managedBy, r.lastApplied];
  return (await run(db, UPSERT_GROUPS, values)).rowCount ?? 0;
}

const DELETE_GROUP_MEMBERS = statement(
  'delete-group-members',
  // Only those who left: the others keep their row, its status and when they joined.
  `DELETE FROM group_members gm
    USING unnest($1::text[], $2::text[]) AS x(org, name), organizations o
    WHERE o.name = x.org AND gm.org_id = o.org_id AND gm.group_name = x.name
      AND NOT EXISTS (SELECT 1 FROM unnest($3::text[], $4::text[], $5::text[]) AS k(org, name, email)
                        JOIN users u ON u.email = k.email
                       WHERE k.org = x.org AND k.name = x.name AND u.user_id = gm.user_id)`,
);
const INSERT_GROUP_MEMBERS = statement(
  'insert-group-members',
  // Someone already active in the organization (a member, or in another group) joins active.
  `INSERT INTO group_members (org_id, group_name, user_id, status, joined_at)
   SELECT o.org_id, x.name, u.user_id,
          CASE WHEN a.active THEN 'active' ELSE 'invited' END, CASE WHEN a.active THEN now() END
     FROM unnest($1::text[], $2::text[], $3::text[]) AS x(org, name, email)
     JOIN organizations o ON o.name = x.org
     JOIN users u ON u.email = x.email
     CROSS JOIN LATERAL (SELECT EXISTS (SELECT 1 FROM memberships m
                                          WHERE m.org_id = o.org_id AND m.user_id = u.user_id AND m.status = 'active')
                             OR EXISTS (SELECT 1 FROM group_members g
                                          WHERE g.org_id = o.org_id AND g.user_id = u.user_id AND g.status = 'active')
                             AS active) a
   ON CONFLICT (org_id, group_name, user_id) DO NOTHING`,
);
/** Sets the people of these groups to exactly the given (org, group, address) triples. */
export async function replaceGroupMembers(
  db: Queryable,
  groups: { org: Column<string>; name: Column<string> },
  members: readonly (readonly [string, string, string])[],
): Promise<number> {
  const keep = [0, 1, 2].map((i) => members.map((m) => m[i]));
  const deleted = await run(db, DELETE_GROUP_MEMBERS, [groups.org, groups.name, ...keep]);
  const inserted = await run(db, INSERT_GROUP_MEMBERS, keep);
  return (deleted.rowCount ?? 0) + (inserted.rowCount ?? 0);
}

const DELETE_GROUP_GRANTS = statement(
  'delete-group-grants',
  `DELETE FROM group_grants gg USING unnest($1::text[], $2::text[]) AS x(org, name), organizations o
    WHERE o.name = x.org AND gg.org_id = o.org_id AND gg.group_name = x.name`,
);
const INSERT_GROUP_GRANTS = statement(
  'insert-group-grants',
  `INSERT INTO group_grants (org_id, group_name, resource_type, resource_name, role)
   SELECT o.org_id, x.name, x.type, x.resource, x.role
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS x(org, name, type, resource, role)
     JOIN organizations o ON o.name = x.org`,
);
/** Sets the grants of these groups to exactly the given ones. */
export async function replaceGroupGrants(
  db: Queryable,
  groups: { org: Column<string>; name: Column<string> },
  grants: readonly { org: string; name: string; type: string; resource: string; role: string }[],
): Promise<number> {
  const deleted = await run(db, DELETE_GROUP_GRANTS, [groups.org, groups.name]);
  const inserted = await run(db, INSERT_GROUP_GRANTS, [
    grants.map((g) => g.org),
    grants.map((g) => g.name),
    grants.map((g) => g.type),
    grants.map((g) => g.resource),
    grants.map((g) => g.role),
  ]);
  return (deleted.rowCount ?? 0) + (inserted.rowCount ?? 0);
}

const DELETE_GROUPS = statement(
  'delete-groups',
  `DELETE FROM groups gr USING unnest($1::text[], $2::text[]) AS x(org, name), organizations o
    WHERE o.name = x.org AND gr.org_id = o.org_id AND gr.name = x.name`,
);
/** Deletes groups (their people and grants go with them). */
export async function deleteGroups(
  db: Queryable,
  r: { org: Column<string>; name: Column<string> },
): Promise<number> {
  return (await run(db, DELETE_GROUPS, [r.org, r.name])).rowCount ?? 0;
}

const REVOKE_GROUP_INVITATIONS = statement(
  'revoke-group-invitations',
  // Someone who left their last group of an organization before accepting: the link stops working.
  `UPDATE invitations i SET status = 'revoked'
     FROM organizations o
    WHERE o.name = ANY($1::text[]) AND i.org_id = o.org_id AND i.subject = 'group'
      AND i.status = 'pending'
      AND NOT EXISTS (SELECT 1 FROM group_members gm WHERE gm.org_id = i.org_id AND gm.user_id = i.user_id)`,
);
/** Revokes the pending group invitations of people no longer in any group of these organizations. */
export async function revokeGroupInvitations(db: Queryable, orgs: Column<string>): Promise<number> {
  return (await run(db, REVOKE_GROUP_INVITATIONS, [orgs])).rowCount ?? 0;
}

const UPSERT_DELEGATIONS = statement(
  'upsert-delegations',
  `INSERT INTO delegations AS d (org_id, name, delegate_id, on_behalf_of_id, permissions, starts_at,
          expires_at, reason, managed_by, last_applied)
   SELECT o.org_id, x.name, du.user_id, mu.user_id,
          CASE WHEN x.permissions IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text(x.permissions)) END,
          x.starts, x.expires, x.reason, x.managed_by, x.last_applied
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::timestamptz[],
                 $7::text[], $8::text[], $9::jsonb[], $10::timestamptz[])
          AS x(org, name, delegate, on_behalf_of, permissions, expires, reason, managed_by, last_applied, starts)
     JOIN organizations o ON o.name = x.org
     JOIN users du ON du.email = x.delegate
     LEFT JOIN users mu ON mu.email = x.on_behalf_of AND x.on_behalf_of <> '*'
   ON CONFLICT (org_id, name) DO UPDATE SET delegate_id = EXCLUDED.delegate_id,
          on_behalf_of_id = EXCLUDED.on_behalf_of_id, permissions = EXCLUDED.permissions,
          starts_at = EXCLUDED.starts_at, expires_at = EXCLUDED.expires_at, reason = EXCLUDED.reason,
          managed_by = EXCLUDED.managed_by, last_applied = EXCLUDED.last_applied, updated_at = now()`,
);
/** Creates or updates delegations (`*`: every member). */
export async function upsertDelegations(
  db: Queryable,
  r: {
    org: Column<string>;
    name: Column<string>;
    delegate: Column<unknown>;
    onBehalfOf: Column<unknown>;
    permissions: Column<string | null>;
    expires: Column<unknown>;
    reason: Column<unknown>;
    managedBy: Column<string | null>;
    lastApplied: Column<string | null>;
    starts: Column<unknown>;
  },
): Promise<number> {
  const values = [
    r.org,
    r.name,
    r.delegate,
    r.onBehalfOf,
    r.permissions,
    r.expires,
    r.reason,
    r.managedBy,
    r.lastApplied,
    r.starts,
  ];
  return (await run(db, UPSERT_DELEGATIONS, values)).rowCount ?? 0;
}

const DELETE_DELEGATIONS = statement(
  'delete-delegations',
  `DELETE FROM delegations d USING unnest($1::text[], $2::text[]) AS x(org, name), organizations o
    WHERE o.name = x.org AND d.org_id = o.org_id AND d.name = x.name`,
);
/** Deletes delegations. */
export async function deleteDelegations(
  db: Queryable,
  r: { org: Column<string>; name: Column<string> },
): Promise<number> {
  return (await run(db, DELETE_DELEGATIONS, [r.org, r.name])).rowCount ?? 0;
}
