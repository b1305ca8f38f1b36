/** The access API's reads: one query per question, set-based, parameterized. */
import type pg from 'pg';
import { decideAccess, decideDelegatedAccess, type AccessDecision } from '../core/access.js';
import { OWNER_ROLE } from '../core/catalog.js';
import { emailIdentity } from '../core/email.js';
import { run, statement, type Queryable } from './sql/statement.js';

/** The person an address names: the user an alias points at, else the user of that address. */
const PERSON = (address: string) =>
  `coalesce((SELECT a.user_id FROM user_aliases a WHERE a.alias = ${address}),
            (SELECT w.user_id FROM users w WHERE w.email = ${address}))`;

const CHECK_ACCESS = statement(
  'check-access',
  `SELECT o.org_id IS NOT NULL AS org_exists,
            -- A role of another organization grants nothing here.
            (SELECT json_build_object('role', m.role, 'status', m.status,
                      'permissions', (SELECT array_agg(rp.permission) FROM role_permissions rp JOIN roles r ON r.name = rp.role
                                       WHERE rp.role = m.role AND (r.org IS NULL OR r.org = o.name)))
               FROM memberships m WHERE m.org_id = o.org_id AND m.user_id = u.user_id) AS membership,
            (SELECT json_build_object('role', g.role, 'status', g.status, 'expiresAt', g.expires_at,
                      'permissions', (SELECT array_agg(rp.permission) FROM role_permissions rp JOIN roles r ON r.name = rp.role
                                       WHERE rp.role = g.role AND (r.org IS NULL OR r.org = o.name)))
               FROM grants g WHERE g.org_id = o.org_id AND g.user_id = u.user_id
                AND g.resource_type = $3 AND g.resource_name = $4) AS grant,
            (SELECT json_agg(json_build_object('group', gr.name, 'role', gr.role, 'status', gm.status,
                      'permissions', (SELECT array_agg(rp.permission) FROM role_permissions rp JOIN roles r ON r.name = rp.role
                                       WHERE rp.role = gr.role AND (r.org IS NULL OR r.org = o.name)))
                      ORDER BY gr.name)
               FROM group_members gm JOIN groups gr ON gr.org_id = gm.org_id AND gr.name = gm.group_name
              WHERE gm.org_id = o.org_id AND gm.user_id = u.user_id) AS groups,
            (SELECT json_agg(json_build_object('group', gg.group_name, 'role', gg.role, 'status', gm.status,
                      'permissions', (SELECT array_agg(rp.permission) FROM role_permissions rp JOIN roles r ON r.name = rp.role
                                       WHERE rp.role = gg.role AND (r.org IS NULL OR r.org = o.name)))
                      ORDER BY gg.group_name)
               FROM group_grants gg
               JOIN group_members gm ON gm.org_id = gg.org_id AND gm.group_name = gg.group_name AND gm.user_id = u.user_id
              WHERE gg.org_id = o.org_id AND gg.resource_type = $3 AND gg.resource_name = $4) AS group_grants,
            EXISTS (SELECT 1 FROM resources r WHERE r.org_id = o.org_id AND r.type = $3 AND r.name = $4)
              AS resource_exists,
            (SELECT p.features FROM plans p WHERE p.name = o.plan) AS plan_features
       FROM (SELECT 1) AS one
       LEFT JOIN organizations o ON o.name = $1
       LEFT JOIN users u ON u.user_id = ${PERSON('$2')}`,
  { prepare: true },
);

/** What `checkAccess` asks. */
export interface AccessQuery {
  readonly user: string;
  readonly permission: string;
  readonly org: string;
  readonly resource: string | null;
}

/** `check(user, permission, org[, resource])`. */
export async function checkAccess(
  pool: pg.Pool,
  query: AccessQuery,
  now = new Date(),
): Promise<AccessDecision> {
  return (await checkAccessUntil(pool, query, now)).decision;
}

/**
 * The decision, and until when it holds if nothing is written meanwhile: a grant that lapses
 * changes the answer at its expiry, with no write to announce it.
 */
export async function checkAccessUntil(
  pool: Queryable,
  query: AccessQuery,
  now = new Date(),
): Promise<{ decision: AccessDecision; validUntil: Date | null }> {
  const [type = '', ...rest] = (query.resource ?? '').split('/');
  const name = rest.join('/');
  const { rows } = await run(pool, CHECK_ACCESS, [
    query.org,
    emailIdentity(query.user),
    type,
    name,
  ]);
  const row = rows[0];
  const grantExpiry =
    row?.grant === null || row?.grant === undefined || row.grant.expiresAt === null
      ? null
      : new Date(row.grant.expiresAt);
  const decision = decideAccess(
    {
      orgExists: row?.org_exists === true,
      membership: row?.membership ?? null,
      grant:
        row?.grant === null || row?.grant === undefined
          ? null
          : { ...row.grant, expiresAt: grantExpiry },
      groups: row?.groups ?? null,
      groupGrants: row?.group_grants ?? null,
      resourceExists: row?.resource_exists === true,
      planFeatures: row?.plan_features ?? null,
    },
    query.permission,
    query.resource,
    now,
  );
  return { decision, validUntil: grantExpiry !== null && grantExpiry > now ? grantExpiry : null };
}

/** An organization a user can switch to. */
export interface SwitchableOrganization {
  readonly org: string;
  readonly displayName: string | null;
  /**
   * `membership`: the role in the organization; `group`: through groups only; `grant`: roles on
   * single resources only.
   */
  readonly via: 'membership' | 'group' | 'grant';
  readonly role: string | null;
  readonly resources: readonly { resource: string; role: string }[];
  /** The groups the user is in there, with the role each gives. */
  readonly groups: readonly { group: string; role: string | null }[];
}

const ORGANIZATIONS_OF_USER = statement(
  'organizations-of-user',
  `SELECT o.name, o.display_name, m.role,
            coalesce((SELECT json_agg(json_build_object('resource', g.resource_type || '/' || g.resource_name, 'role', g.role)
                                      ORDER BY g.resource_type, g.resource_name)
                        FROM grants g
                       WHERE g.org_id = o.org_id AND g.user_id = u.user_id AND g.status = 'active'
                         AND (g.expires_at IS NULL OR g.expires_at > now())), '[]') AS resources,
            coalesce((SELECT json_agg(json_build_object('group', gr.name, 'role', gr.role) ORDER BY gr.name)
                        FROM group_members gm JOIN groups gr ON gr.org_id = gm.org_id AND gr.name = gm.group_name
                       WHERE gm.org_id = o.org_id AND gm.user_id = u.user_id AND gm.status = 'active'), '[]') AS groups
       FROM users u
       JOIN organizations o ON EXISTS (SELECT 1 FROM memberships m WHERE m.org_id = o.org_id AND m.user_id = u.user_id AND m.status = 'active')
                            OR EXISTS (SELECT 1 FROM grants g WHERE g.org_id = o.org_id AND g.user_id = u.user_id AND g.status = 'active'
                                         AND (g.expires_at IS NULL OR g.expires_at > now()))
                            OR EXISTS (SELECT 1 FROM group_members gm WHERE gm.org_id = o.org_id AND gm.user_id = u.user_id
                                         AND gm.status = 'active')
       LEFT JOIN memberships m ON m.org_id = o.org_id AND m.user_id = u.user_id AND m.status = 'active'
      WHERE u.user_id = ${PERSON('$1')}
      ORDER BY o.name`,
);

const CONTACTS_OF = statement(
  'contacts-of',
  // The contacts covering the category (every contact without one); when none does, the
  // organization's owner, who receives what no contact was named for.
  `WITH listed AS (
     SELECT c.email, c.name, c.categories
       FROM organizations o JOIN contacts c ON c.org_id = o.org_id
      WHERE o.name = $1 AND ($2::text IS NULL OR $2 = ANY (c.categories)))
   SELECT o.org_id, l.email, l.name, l.categories, 'contact' AS via
     FROM organizations o JOIN listed l ON true
    WHERE o.name = $1
   UNION ALL
   SELECT o.org_id, u.email, NULL, '{}'::text[], 'owner'
     FROM organizations o
     LEFT JOIN memberships m ON m.org_id = o.org_id AND m.role = '${OWNER_ROLE}'
     LEFT JOIN users u ON u.user_id = m.user_id
    WHERE o.name = $1 AND NOT EXISTS (SELECT 1 FROM listed)
    ORDER BY 5, 2`,
);

/**
 * The organizations a user is an active member of, is active in a group of, or holds an active,
 * unexpired grant in.
 */
export async function organizationsOfUser(
  pool: pg.Pool,
  email: string,
): Promise<SwitchableOrganization[]> {
  const { rows } = await run(pool, ORGANIZATIONS_OF_USER, [emailIdentity(email)]);
  return rows.map((r) => ({
    org: r.name,
    displayName: r.display_name,
    via: r.role !== null ? 'membership' : r.groups.length > 0 ? 'group' : 'grant',
    role: r.role,
    resources: r.resources,
    groups: r.groups,
  }));
}

/** Who receives an organization's mail of a category: a contact, or the owner for want of one. */
export interface MailRecipient {
  readonly email: string;
  readonly name: string | null;
  /** The contact's categories (none for the owner). */
  readonly categories: readonly string[];
  /** `contact`, or `owner` when no contact covers the category (or there are no contacts). */
  readonly via: 'contact' | 'owner';
}

/**
 * The contacts of an organization, optionally of one category; when none covers it, the owner
 * (`via: 'owner'`). Null if there is no such organization.
 */
export async function contactsOf(
  pool: pg.Pool,
  org: string,
  category: string | null,
): Promise<MailRecipient[] | null> {
  const { rows } = await run(pool, CONTACTS_OF, [org, category]);
  if (rows.length === 0) return null;
  return rows
    .filter((r) => r.email !== null)
    .map((r) => ({ email: r.email, name: r.name, categories: r.categories, via: r.via }));
}

const DELEGATION_FACTS = statement(
  'delegation-facts',
  `SELECT o.org_id,
          (SELECT json_build_object('role', m.role, 'status', m.status,
                    'permissions', (SELECT array_agg(rp.permission) FROM role_permissions rp JOIN roles r ON r.name = rp.role
                                     WHERE rp.role = m.role AND (r.org IS NULL OR r.org = o.name)))
             FROM memberships m WHERE m.org_id = o.org_id AND m.user_id = ${PERSON('$2')}) AS delegate,
          -- The member's own delegation before one for every member; an unexpired one first.
          (SELECT json_build_object('name', d.name, 'permissions', d.permissions,
                    'startsAt', d.starts_at, 'expiresAt', d.expires_at)
             FROM delegations d
            WHERE d.org_id = o.org_id AND d.delegate_id = ${PERSON('$2')}
              AND (d.on_behalf_of_id = ${PERSON('$3')} OR d.on_behalf_of_id IS NULL)
            ORDER BY d.expires_at > $4 AND coalesce(d.starts_at <= $4, true) DESC,
                     d.on_behalf_of_id IS NULL, d.expires_at DESC
            LIMIT 1) AS delegation,
          (SELECT p.features FROM plans p WHERE p.name = o.plan) AS plan_features
     FROM organizations o WHERE o.name = $1`,
);

const AUDIT_ACT_AS = statement(
  'audit-act-as',
  `INSERT INTO audit_log (org_id, actor, action, record, record_key, after, source)
   VALUES ($1, $2, 'act-as', 'delegation', $3, $4::jsonb, $5::jsonb)`,
);

/** What `checkDelegatedAccess` asks: may `user` do this acting as `actingAs`? */
export interface DelegatedAccessQuery extends AccessQuery {
  readonly actingAs: string;
}

/**
 * `check(user, permission, org[, resource], actingAs)`, audited: the decision and its audit
 * entry (action `act-as`, the delegate as actor) are written in one transaction, and the answer
 * is given only once it committed: an unaudited use is never answered. Never cached.
 */
export async function checkDelegatedAccess(
  pool: pg.Pool,
  query: DelegatedAccessQuery,
  source: Readonly<Record<string, string>>,
  now = new Date(),
): Promise<AccessDecision> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const delegate = emailIdentity(query.user);
    const actingAs = emailIdentity(query.actingAs);
    const member = await checkAccessUntil(client, { ...query, user: actingAs }, now);
    const { rows } = await run(client, DELEGATION_FACTS, [query.org, delegate, actingAs, now]);
    const row = rows[0];
    const delegation = row?.delegation ?? null;
    const decision = decideDelegatedAccess(
      {
        delegate: row?.delegate ?? null,
        delegation:
          delegation === null
            ? null
            : {
                ...delegation,
                startsAt: delegation.startsAt === null ? null : new Date(delegation.startsAt),
                expiresAt: new Date(delegation.expiresAt),
              },
        planFeatures: row?.plan_features ?? null,
      },
      member.decision,
      query.permission,
      actingAs,
      now,
    );
    if (row !== undefined) {
      await run(client, AUDIT_ACT_AS, [
        row.org_id,
        delegate,
        // `user`: the person acted for, as every record about a person names them.
        JSON.stringify({ org: query.org, delegation: decision.delegation ?? null, user: actingAs }),
        JSON.stringify({
          actingAs,
          permission: query.permission,
          resource: query.resource,
          allowed: decision.allowed,
          reason: decision.reason,
        }),
        JSON.stringify(source),
      ]);
    }
    await client.query('COMMIT');
    return decision;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
