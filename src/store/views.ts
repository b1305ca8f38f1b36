/**
 * Who has access, and who changed it: the members of an organization with their facts and last
 * change, and the audit log. Read by `roster members`, `roster audit` and the access API, a page
 * at a time (keyset pagination, by index: each page costs the same however deep).
 */
import type { ReviewRow } from '../core/review.js';
import { emailIdentity } from '../core/email.js';
import { UsageError } from '../core/errors.js';
import { run, statement, type Queryable } from './sql/statement.js';

/** The most rows one page holds. */
export const MAX_VIEW_PAGE = 1000;

/** A page of rows and the cursor of the next, if any. */
export interface Page<T> {
  readonly items: readonly T[];
  readonly next: string | null;
}

/** A member of an organization as `roster members` shows it. */
export interface MemberView {
  readonly user: string;
  readonly role: string;
  readonly seat: string;
  /** invited, active or suspended. */
  readonly status: string;
  readonly joinedAt: string | null;
  readonly invitedBy: string | null;
  /** Who manages the record (`roster-cli`, `operator:…`, `pulumi:…`); null: made in the app. */
  readonly managedBy: string | null;
  /** The latest change Roster recorded for it, and where it came from. */
  readonly lastChange: {
    readonly at: string;
    readonly action: string;
    readonly actor: string;
    readonly source: Readonly<Record<string, unknown>> | null;
  } | null;
}

const LIST_MEMBERS = statement(
  'list-members',
  `SELECT u.email, m.role, m.seat, m.status, m.joined_at, m.invited_by, m.managed_by,
          a.at, a.action, a.actor, a.source
     FROM organizations o
     JOIN memberships m ON m.org_id = o.org_id
     JOIN users u ON u.user_id = m.user_id
     -- Its latest audit entry, by index (audit_log_record): the key as apply writes it.
     LEFT JOIN LATERAL (
       SELECT a.at, a.action, a.actor, a.source FROM audit_log a
        WHERE a.org_id = o.org_id
          AND a.record_key = '{"kind":"membership","org":' || to_json(o.name)::text
                             || ',"user":' || to_json(u.email)::text || '}'
        ORDER BY a.audit_id DESC LIMIT 1) a ON true
    WHERE o.name = $1 AND ($2::text IS NULL OR u.email > $2)
    ORDER BY u.email
    LIMIT $3`,
);

const ORGANIZATION_EXISTS = statement(
  'organization-exists',
  `SELECT 1 FROM organizations WHERE name = $1`,
);

/** The members of an organization, by address; null when there is no such organization. */
export async function listMembers(
  db: Queryable,
  org: string,
  page: { limit?: number; after?: string } = {},
): Promise<Page<MemberView> | null> {
  const limit = pageLimit(page.limit);
  const { rows } = await run(db, LIST_MEMBERS, [org, page.after ?? null, limit + 1]);
  if (rows.length === 0 && (await run(db, ORGANIZATION_EXISTS, [org])).rows.length === 0) {
    return null;
  }
  const more = rows.length > limit;
  const shown = more ? rows.slice(0, limit) : rows;
  return {
    items: shown.map((r) => ({
      user: r.email,
      role: r.role,
      seat: r.seat,
      status: r.status,
      joinedAt: r.joined_at?.toISOString() ?? null,
      invitedBy: r.invited_by,
      managedBy: r.managed_by,
      lastChange:
        r.at === null
          ? null
          : { at: r.at.toISOString(), action: r.action, actor: r.actor, source: r.source },
    })),
    next: more ? (shown[shown.length - 1]?.email ?? null) : null,
  };
}

/** One entry of the audit log. */
/** Every action of the audit log (its CHECK constraint, migration 000015). */
export const AUDIT_ACTIONS = [
  'create',
  'update',
  'delete',
  'act-as',
  'invitation-sent',
  'invitation-accepted',
  'invitation-resent',
  'invitation-revoked',
  'invitation-expired',
  'api-key-created',
  'api-key-used',
  'api-key-revoked',
] as const;

export interface AuditEntry {
  readonly id: string;
  readonly at: string;
  readonly org: string | null;
  readonly actor: string;
  /** One of AUDIT_ACTIONS. */
  readonly action: (typeof AUDIT_ACTIONS)[number];
  readonly record: string;
  readonly key: Readonly<Record<string, unknown>>;
  readonly before: unknown;
  readonly after: unknown;
  readonly source: Readonly<Record<string, unknown>> | null;
}

/** What `listAudit` selects. */
export interface AuditFilter {
  /** Organizations the reader may see (an API key's scope); undefined: all. */
  readonly orgs?: readonly string[];
  readonly org?: string;
  /** Entries about this person: as a member, a grant holder, or the member a delegate acted for. */
  readonly user?: string;
  readonly since?: Date;
  readonly until?: Date;
}

const LIST_AUDIT = statement(
  'list-audit',
  `SELECT a.audit_id::text AS id, a.at, o.name AS org, a.actor, a.action, a.record, a.record_key,
          a.before, a.after, a.source
     FROM audit_log a LEFT JOIN organizations o ON o.org_id = a.org_id
    WHERE ($1::text IS NULL OR a.org_id = (SELECT org_id FROM organizations WHERE name = $1))
      AND ($2::text[] IS NULL OR o.name = ANY($2::text[]))
      AND ($3::text IS NULL OR (a.record_key::jsonb) ->> 'user' = $3)
      AND ($4::timestamptz IS NULL OR a.at >= $4)
      AND ($5::timestamptz IS NULL OR a.at < $5)
      AND ($6::bigint IS NULL OR a.audit_id < $6)
    ORDER BY a.audit_id DESC
    LIMIT $7`,
);

/** The audit log, newest first, a page at a time. */
export async function listAudit(
  db: Queryable,
  filter: AuditFilter,
  page: { limit?: number; after?: string } = {},
): Promise<Page<AuditEntry>> {
  const limit = pageLimit(page.limit);
  if (page.after !== undefined && !/^[1-9]\d{0,18}$/.test(page.after)) {
    throw new UsageError(`the cursor ${JSON.stringify(page.after)} is not one "audit" printed`);
  }
  const { rows } = await run(db, LIST_AUDIT, [
    filter.org ?? null,
    filter.orgs === undefined ? null : [...filter.orgs],
    filter.user === undefined ? null : emailIdentity(filter.user),
    filter.since ?? null,
    filter.until ?? null,
    page.after ?? null,
    limit + 1,
  ]);
  const more = rows.length > limit;
  const shown = more ? rows.slice(0, limit) : rows;
  return {
    items: shown.map((r) => ({
      id: r.id,
      at: r.at.toISOString(),
      org: r.org,
      actor: r.actor,
      action: r.action,
      record: r.record,
      key: JSON.parse(r.record_key) as Record<string, unknown>,
      before: r.before,
      after: r.after,
      source: r.source,
    })),
    next: more ? (shown[shown.length - 1]?.id ?? null) : null,
  };
}

function pageLimit(limit: number | undefined): number {
  return Math.min(MAX_VIEW_PAGE, Math.max(1, Math.floor(limit ?? 100)));
}

/** One line of an access review: a person's access through one path. */
export type ReviewLine = ReviewRow;

/** The most lines a review holds; a larger organization's is cut, and says so. */
export const MAX_REVIEW_LINES = 50_000;

const ACCESS_REVIEW = statement(
  'access-review',
  `WITH o AS (SELECT org_id FROM organizations WHERE name = $1)
   SELECT * FROM (
     SELECT u.email AS user, CASE WHEN m.role = 'owner' THEN 'owner' ELSE 'membership' END AS via,
            m.role, NULL AS resource, NULL AS detail, m.status,
            coalesce(m.joined_at, m.created_at) AS since, NULL::timestamptz AS until, m.managed_by
       FROM memberships m JOIN o USING (org_id) JOIN users u USING (user_id)
     UNION ALL
     SELECT u.email, 'grant', g.role, g.resource_type || '/' || g.resource_name, NULL, g.status,
            coalesce(g.joined_at, g.created_at), g.expires_at, g.managed_by
       FROM grants g JOIN o USING (org_id) JOIN users u USING (user_id)
     UNION ALL
     SELECT u.email, 'group', gr.role, NULL, gm.group_name, gm.status,
            coalesce(gm.joined_at, gm.created_at), NULL, gr.managed_by
       FROM group_members gm JOIN o USING (org_id)
       JOIN groups gr ON gr.org_id = gm.org_id AND gr.name = gm.group_name
       JOIN users u ON u.user_id = gm.user_id
     UNION ALL
     SELECT u.email, 'group', gg.role, gg.resource_type || '/' || gg.resource_name, gg.group_name,
            gm.status, coalesce(gm.joined_at, gm.created_at), NULL, gr.managed_by
       FROM group_grants gg JOIN o USING (org_id)
       JOIN groups gr ON gr.org_id = gg.org_id AND gr.name = gg.group_name
       JOIN group_members gm ON gm.org_id = gg.org_id AND gm.group_name = gg.group_name
       JOIN users u ON u.user_id = gm.user_id
     UNION ALL
     SELECT du.email, 'delegation', NULL, NULL, coalesce(mu.email, 'every member'), 'active',
            coalesce(d.starts_at, d.created_at), d.expires_at, d.managed_by
       FROM delegations d JOIN o USING (org_id)
       JOIN users du ON du.user_id = d.delegate_id
       LEFT JOIN users mu ON mu.user_id = d.on_behalf_of_id) x
   ORDER BY x.user, x.via, x.resource NULLS FIRST, x.detail NULLS FIRST
   LIMIT $2`,
);

/**
 * Who has access to an organization and through what, for an access review; null when there is
 * no such organization. At most `MAX_REVIEW_LINES` lines (`cut` says when there were more).
 */
export async function accessReview(
  db: Queryable,
  org: string,
): Promise<{ lines: ReviewLine[]; cut: boolean } | null> {
  const { rows } = await run(db, ACCESS_REVIEW, [org, MAX_REVIEW_LINES + 1]);
  if (rows.length === 0 && (await run(db, ORGANIZATION_EXISTS, [org])).rows.length === 0) {
    return null;
  }
  const cut = rows.length > MAX_REVIEW_LINES;
  return {
    cut,
    lines: rows.slice(0, MAX_REVIEW_LINES).map((r) => ({
      user: r.user,
      via: r.via,
      role: r.role,
      resource: r.resource,
      detail: r.detail,
      status: r.status,
      since: r.since.toISOString(),
      until: r.until?.toISOString() ?? null,
      managedBy: r.managed_by,
    })),
  };
}
