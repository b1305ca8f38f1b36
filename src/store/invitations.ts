/** What an operator does by hand: list invitations, re-send one, revoke one. */
import type pg from 'pg';
import { run, statement, type Queryable } from './sql/statement.js';
import { emailIdentity } from '../core/email.js';
import { UsageError } from '../core/errors.js';

/** One invitation as `roster invitations list` shows it. */
export interface InvitationRow {
  readonly org: string;
  readonly user: string;
  readonly subject: 'membership' | 'grant' | 'group';
  /** A grant's resource, or a group's `group/NAME`. */
  readonly resource: string | null;
  readonly role: string;
  readonly status: 'pending' | 'accepted' | 'revoked' | 'expired';
  readonly sentAt: string | null;
  readonly expiresAt: string | null;
  readonly resends: number;
  /**
   * `queued`, `sent`, `sending (claimed by W at T; held until L)`, `queued again: the delivery by
   * W … stopped before sending it`, or `retrying (N attempts, next at T): last error`.
   */
  readonly delivery: string;
}

/** A timestamp column as ISO 8601 in UTC, to the second. */
const utc = (column: string) =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')`;

const LIST_INVITATIONS = statement(
  'list-invitations',
  `SELECT i.invitation_id::text AS id, o.name AS org, u.email AS user, i.subject, i.resource_type,
          i.resource_name, i.role, i.status, i.sent_at, i.expires_at, i.resend_count,
          CASE WHEN ob.outbox_id IS NULL THEN NULL
               WHEN ob.delivered_at IS NOT NULL THEN 'sent'
               WHEN ob.claimed_by IS NOT NULL AND ob.available_at > now()
                 THEN 'sending (claimed by ' || ob.claimed_by || ' at ' || ${utc('ob.claimed_at')}
                      || '; held until ' || ${utc('ob.available_at')} || ')'
               WHEN ob.claimed_by IS NOT NULL
                 THEN 'queued again: the delivery by ' || ob.claimed_by || ' claimed it at '
                      || ${utc('ob.claimed_at')} || ' and stopped before sending it'
               WHEN ob.last_error IS NOT NULL
                 THEN 'retrying (' || ob.attempts || ' attempt' || CASE WHEN ob.attempts = 1 THEN '' ELSE 's' END
                      || ', next at ' || ${utc('ob.available_at')} || '): ' || ob.last_error
               ELSE 'queued' END AS delivery
     FROM invitations i JOIN organizations o USING (org_id) JOIN users u USING (user_id)
     -- The latest outbox row of each invitation on the page, by index (outbox_invitation).
     LEFT JOIN LATERAL (
       SELECT ob.outbox_id, ob.delivered_at, ob.claimed_by, ob.claimed_at, ob.available_at,
              ob.last_error, ob.attempts
         FROM outbox ob
        WHERE ob.kind = 'invitation' AND ob.org_id = i.org_id
          AND (ob.payload ->> 'invitationId')::bigint = i.invitation_id
        ORDER BY ob.outbox_id DESC LIMIT 1) ob ON true
    WHERE ($1::text IS NULL OR o.name = $1) AND ($2::text IS NULL OR i.status = $2)
      AND ($3::text IS NULL OR u.email = $3)
      AND ($4::bigint IS NULL OR i.invitation_id < $4)
    ORDER BY i.invitation_id DESC
    LIMIT $5`,
);

/** The most invitations one page holds. */
export const MAX_PAGE = 1000;

/**
 * The audit key of an invitation (`i`, with its organization `o` and user `u`): its person is
 * `user`, as in every record about a person, so that `roster audit --user` finds it.
 */
export const INVITATION_KEY = `jsonb_build_object('kind', 'invitation', 'org', o.name, 'user', u.email,
    'subject', i.subject, 'resource', CASE WHEN i.resource_type IS NULL THEN NULL
                                      ELSE i.resource_type || '/' || i.resource_name END)::text`;

const RESEND_INVITATION = statement(
  'resend-invitation',
  `WITH target AS (
       SELECT DISTINCT ON (i.subject, i.resource_type, i.resource_name) i.org_id, i.invitation_id
         FROM invitations i JOIN organizations o USING (org_id) JOIN users u USING (user_id)
        WHERE o.name = $1 AND u.email = $2 AND i.status IN ('pending', 'expired')
          AND ($3::text IS NULL OR i.resource_type || '/' || i.resource_name = $3)
        ORDER BY i.subject, i.resource_type, i.resource_name, i.invitation_id DESC),
     reset AS (
       UPDATE invitations i SET status = 'pending', expires_at = NULL
         FROM target WHERE i.org_id = target.org_id AND i.invitation_id = target.invitation_id
       RETURNING i.org_id, i.invitation_id),
     dead AS (
       DELETE FROM invitation_tokens t USING reset
        WHERE t.org_id = reset.org_id AND t.invitation_id = reset.invitation_id),
     audited AS (
       INSERT INTO audit_log (org_id, actor, action, record, record_key)
       SELECT i.org_id, $4, 'invitation-resent', 'invitation', ${INVITATION_KEY}
         FROM reset JOIN invitations i USING (org_id, invitation_id)
         JOIN organizations o ON o.org_id = i.org_id JOIN users u ON u.user_id = i.user_id)
     INSERT INTO outbox (org_id, kind, idempotency_key, payload)
     SELECT org_id, 'invitation',
            'invitation:' || org_id || ':' || invitation_id || ':manual:' || gen_random_uuid(),
            jsonb_build_object('orgId', org_id, 'invitationId', invitation_id)
       FROM reset`,
);

const REVOKE_INVITATION = statement(
  'revoke-invitation',
  `WITH revoked AS (
       UPDATE invitations i SET status = 'revoked'
         FROM organizations o, users u
        WHERE o.org_id = i.org_id AND u.user_id = i.user_id AND o.name = $1 AND u.email = $2
          AND i.status = 'pending'
          AND ($3::text IS NULL OR i.resource_type || '/' || i.resource_name = $3)
       RETURNING i.org_id, i.user_id, i.subject, i.resource_type, i.resource_name),
     audited AS (
       INSERT INTO audit_log (org_id, actor, action, record, record_key)
       SELECT i.org_id, $4, 'invitation-revoked', 'invitation', ${INVITATION_KEY}
         FROM revoked i JOIN organizations o ON o.org_id = i.org_id
         JOIN users u ON u.user_id = i.user_id)
   SELECT count(*)::int AS revoked FROM revoked`,
);

/** A page of invitations, and where the next one starts (null after the last). */
export interface InvitationPage {
  readonly invitations: InvitationRow[];
  /** Pass as `after` for the next page; an opaque cursor. */
  readonly next: string | null;
}

/**
 * Lists invitations, newest first, optionally of one organization, status or user, a page at a
 * time (keyset pagination: each page costs the same however deep, and rows added meanwhile never
 * shift a page).
 */
export async function listInvitations(
  pool: pg.Pool,
  filter: { org?: string; status?: string; user?: string } = {},
  page: { limit?: number; after?: string } = {},
): Promise<InvitationPage> {
  const limit = Math.min(MAX_PAGE, Math.max(1, Math.floor(page.limit ?? 100)));
  if (page.after !== undefined && !/^[1-9]\d{0,18}$/.test(page.after)) {
    throw new UsageError(
      `--after ${JSON.stringify(page.after)} is not a cursor "invitations list" printed`,
    );
  }
  const { rows } = await run(pool, LIST_INVITATIONS, [
    filter.org ?? null,
    filter.status ?? null,
    filter.user === undefined ? null : emailIdentity(filter.user),
    page.after ?? null,
    limit + 1,
  ]);
  const more = rows.length > limit;
  const shown = more ? rows.slice(0, limit) : rows;
  return {
    invitations: shown.map((r) => ({
      org: r.org,
      user: r.user,
      subject: r.subject,
      resource: r.resource_type === null ? null : `${r.resource_type}/${r.resource_name}`,
      role: r.role,
      status: r.status,
      sentAt: r.sent_at?.toISOString() ?? null,
      expiresAt: r.expires_at?.toISOString() ?? null,
      resends: r.resend_count,
      delivery: r.delivery ?? 'none',
    })),
    next: more ? (shown[shown.length - 1]?.id ?? null) : null,
  };
}

/**
 * Re-sends the latest pending or expired invitation of a user in an organization (optionally for
 * one resource): a new link, valid for the full expiry again; earlier links stop working.
 * Returns how many invitations were queued.
 */
export async function resendInvitation(
  pool: pg.Pool,
  target: { org: string; user: string; resource?: string },
  actor = 'roster',
): Promise<number> {
  const { rowCount } = await run(pool, RESEND_INVITATION, [
    target.org,
    emailIdentity(target.user),
    target.resource ?? null,
    actor,
  ]);
  return rowCount ?? 0;
}

/** Revokes the pending invitations of a user in an organization; returns how many. */
export async function revokeInvitation(
  pool: pg.Pool,
  target: { org: string; user: string; resource?: string },
  actor = 'roster',
): Promise<number> {
  const { rows } = await run(pool, REVOKE_INVITATION, [
    target.org,
    emailIdentity(target.user),
    target.resource ?? null,
    actor,
  ]);
  return rows[0]?.revoked ?? 0;
}

/** An invitation e-mailed since some instant. */
export interface SentInvitation {
  readonly org: string;
  readonly email: string;
  readonly subject: 'membership' | 'grant';
  /** `type/name` for a grant. */
  readonly resource: string | null;
}

const SENT_SINCE = statement(
  'invitations-sent-since',
  `SELECT o.name AS org, u.email, i.subject,
          CASE WHEN i.resource_type IS NULL THEN NULL ELSE i.resource_type || '/' || i.resource_name END AS resource
     FROM invitations i JOIN organizations o USING (org_id) JOIN users u USING (user_id)
    WHERE i.sent_at >= $1`,
);
/** The invitations e-mailed at or after `since`. */
export async function invitationsSentSince(db: Queryable, since: Date): Promise<SentInvitation[]> {
  return (await run<SentInvitation & Record<string, unknown>>(db, SENT_SINCE, [since])).rows;
}
