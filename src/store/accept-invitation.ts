/**
 * Looking at and accepting an invitation by its token. Accepting is one conditional update: a
 * token works once, only while its invitation is pending and unexpired. The membership (or grant)
 * becomes active in the same transaction, and a NOTIFY tells listeners (the operator) at once.
 */
import type pg from 'pg';
import type { Branding } from '../core/branding.js';
import { hashToken, looksLikeToken } from '../core/tokens.js';
import { run, statement } from './sql/statement.js';
import { INVITATION_KEY } from './invitations.js';

/** The channel on which accepted invitations are announced. */
export const INVITATION_CHANNEL = 'roster_invitations';

/** How an invitation's e-mail and pages look: the language, time zone and brand declared. */
export interface InvitationLook {
  /** The person's locale (User.spec.locale), then the organization's; nulls when undeclared. */
  readonly locales: readonly (string | null)[];
  readonly timeZone: string | null;
  readonly branding: Branding;
}

/** The SQL of an invitation's look, from `o` (organizations) and `u` (users). */
export const LOOK_COLUMNS = `(SELECT r.locale FROM user_records r WHERE r.user_id = u.user_id) AS user_locale,
            o.locale AS org_locale, o.time_zone, o.product_name, o.sender_name, o.logo_url, o.accent_color`;

/** The columns LOOK_COLUMNS selects. */
export interface LookRow {
  user_locale: string | null;
  org_locale: string | null;
  time_zone: string | null;
  product_name: string | null;
  sender_name: string | null;
  logo_url: string | null;
  accent_color: string | null;
}

/** The look of a row selected with LOOK_COLUMNS. */
export function lookOf(row: LookRow): InvitationLook {
  return {
    locales: [row.user_locale, row.org_locale],
    timeZone: row.time_zone,
    branding: {
      ...(row.product_name !== null && { productName: row.product_name }),
      ...(row.sender_name !== null && { senderName: row.sender_name }),
      ...(row.logo_url !== null && { logoUrl: row.logo_url }),
      ...(row.accent_color !== null && { accentColor: row.accent_color }),
    },
  };
}

/** What an invitation link shows. */
export type InvitationView =
  | {
      readonly state: 'pending';
      readonly look: InvitationLook;
      readonly org: string;
      readonly orgDisplayName: string | null;
      readonly role: string;
      readonly resource: string | null;
      readonly inviter: string | null;
      readonly email: string;
      readonly expiresAt: Date;
    }
  | {
      readonly state: 'accepted';
      readonly org: string;
      readonly orgDisplayName: string | null;
      readonly look: InvitationLook;
    }
  | { readonly state: 'revoked' | 'expired'; readonly look: InvitationLook }
  | { readonly state: 'unknown' };

/** What accepting did. */
export type AcceptResult =
  | {
      readonly accepted: true;
      readonly org: string;
      readonly orgDisplayName: string | null;
      readonly user: string;
    }
  | { readonly accepted: false; readonly view: Exclude<InvitationView, { state: 'pending' }> };

const VIEW_INVITATION = statement(
  'view-invitation',
  `SELECT i.status, i.expires_at, i.role, i.resource_type, i.resource_name, u.email,
            o.name, o.display_name, ${LOOK_COLUMNS},
            (SELECT ou.email FROM memberships m JOIN users ou USING (user_id)
              WHERE m.org_id = o.org_id AND m.role = 'owner') AS owner
       FROM invitation_tokens t
       JOIN invitations i ON i.org_id = t.org_id AND i.invitation_id = t.invitation_id
       JOIN users u ON u.user_id = i.user_id
       JOIN organizations o ON o.org_id = i.org_id
      WHERE t.token_hash = $1`,
  { prepare: true },
);

const ACCEPT_INVITATION = statement(
  'accept-invitation',
  `WITH accepted AS (
       UPDATE invitations i SET status = 'accepted', accepted_at = now()
         FROM invitation_tokens t
        WHERE t.token_hash = $1 AND i.org_id = t.org_id AND i.invitation_id = t.invitation_id
          AND i.status = 'pending' AND i.expires_at > now()
        RETURNING i.org_id, i.user_id, i.subject, i.resource_type, i.resource_name),
     joined AS (
       UPDATE memberships m SET status = CASE WHEN m.status = 'suspended' THEN m.status ELSE 'active' END,
              joined_at = coalesce(m.joined_at, now()), updated_at = now()
         FROM accepted a
        WHERE a.subject = 'membership' AND m.org_id = a.org_id AND m.user_id = a.user_id
        RETURNING m.org_id),
     granted AS (
       UPDATE grants g SET status = 'active', joined_at = coalesce(g.joined_at, now()), updated_at = now()
         FROM accepted a
        WHERE a.subject = 'grant' AND g.org_id = a.org_id AND g.user_id = a.user_id
          AND g.resource_type = a.resource_type AND g.resource_name = a.resource_name
        RETURNING g.org_id),
     -- Whoever joins the organization (as a member, or through a group) is active in its groups.
     grouped AS (
       UPDATE group_members gm SET status = 'active', joined_at = coalesce(gm.joined_at, now())
         FROM accepted a
        WHERE a.subject IN ('membership', 'group') AND gm.org_id = a.org_id
          AND gm.user_id = a.user_id AND gm.status = 'invited'
        RETURNING gm.org_id),
     -- The person accepting is the actor: a token stands for them.
     audited AS (
       INSERT INTO audit_log (org_id, actor, action, record, record_key)
       SELECT i.org_id, u.email, 'invitation-accepted', 'invitation', ${INVITATION_KEY}
         FROM accepted i JOIN organizations o ON o.org_id = i.org_id
         JOIN users u ON u.user_id = i.user_id)
     SELECT o.name AS org, o.display_name, u.email,
            pg_notify($2, json_build_object(
              'event', 'accepted', 'org', o.name, 'user', u.email, 'subject', a.subject,
              'resource', CASE WHEN a.resource_type IS NULL THEN NULL
                               ELSE a.resource_type || '/' || a.resource_name END)::text)
       FROM accepted a
       JOIN organizations o ON o.org_id = a.org_id
       JOIN users u ON u.user_id = a.user_id`,
);

/** Reads the invitation behind a token, without changing anything (mail scanners fetch links). */
export async function viewInvitation(pool: pg.Pool, token: string): Promise<InvitationView> {
  if (!looksLikeToken(token)) return { state: 'unknown' };
  const { rows } = await run(pool, VIEW_INVITATION, [hashToken(token)]);
  const row = rows[0];
  if (row === undefined) return { state: 'unknown' };
  const look = lookOf(row as LookRow);
  if (row.status === 'accepted') {
    return { state: 'accepted', org: row.name, orgDisplayName: row.display_name, look };
  }
  if (row.status === 'revoked') return { state: 'revoked', look };
  if (row.status === 'expired' || row.expires_at === null || row.expires_at <= new Date()) {
    return { state: 'expired', look };
  }
  return {
    state: 'pending',
    look,
    org: row.name,
    orgDisplayName: row.display_name,
    role: row.role,
    resource: row.resource_type === null ? null : `${row.resource_type}/${row.resource_name}`,
    inviter: row.owner === row.email ? null : row.owner,
    email: row.email,
    expiresAt: row.expires_at,
  };
}

/**
 * Accepts the invitation behind a token, once: one statement, so no pooled connection is held
 * while another is asked for (holding one while waiting for a second deadlocks a small pool under
 * concurrent accepts). The invitation's conditional update takes a row lock, so of concurrent
 * accepts of one token exactly one finds it pending; the membership or grant becomes active and
 * listeners are notified in the same statement.
 */
export async function acceptInvitation(pool: pg.Pool, token: string): Promise<AcceptResult> {
  if (!looksLikeToken(token)) return { accepted: false, view: { state: 'unknown' } };
  const { rows } = await run<{
    org: string;
    display_name: string | null;
    email: string;
  }>(pool, ACCEPT_INVITATION, [hashToken(token), INVITATION_CHANNEL]);
  const accepted = rows[0];
  if (accepted === undefined) {
    const view = await viewInvitation(pool, token);
    // Pending but not accepted: it expired between the two reads.
    return {
      accepted: false,
      view: view.state === 'pending' ? { state: 'expired', look: view.look } : view,
    };
  }
  return {
    accepted: true,
    org: accepted.org,
    orgDisplayName: accepted.display_name,
    user: accepted.email,
  };
}
