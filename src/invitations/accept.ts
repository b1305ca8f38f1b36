/**
 * Looking at and accepting an invitation by its token. Accepting is one conditional update: a
 * token works once, only while its invitation is pending and unexpired. The membership (or grant)
 * becomes active in the same transaction, and a NOTIFY tells listeners (the operator) at once.
 */
import type pg from 'pg';
import { hashToken, looksLikeToken } from './tokens.js';

/** The channel on which accepted invitations are announced. */
export const INVITATION_CHANNEL = 'roster_invitations';

/** What an invitation link shows. */
export type InvitationView =
  | {
      readonly state: 'pending';
      readonly org: string;
      readonly orgDisplayName: string | null;
      readonly role: string;
      readonly resource: string | null;
      readonly inviter: string | null;
      readonly email: string;
      readonly expiresAt: Date;
    }
  | { readonly state: 'accepted' | 'revoked' | 'expired' | 'unknown' };

/** What accepting did. */
export type AcceptResult =
  | { readonly accepted: true; readonly org: string; readonly user: string }
  | { readonly accepted: false; readonly state: 'accepted' | 'revoked' | 'expired' | 'unknown' };

/** Reads the invitation behind a token, without changing anything (mail scanners fetch links). */
export async function viewInvitation(pool: pg.Pool, token: string): Promise<InvitationView> {
  if (!looksLikeToken(token)) return { state: 'unknown' };
  const { rows } = await pool.query(
    `SELECT i.status, i.expires_at, i.role, i.resource_type, i.resource_name, u.email,
            o.name, o.display_name,
            (SELECT ou.email FROM memberships m JOIN users ou USING (user_id)
              WHERE m.org_id = o.org_id AND m.role = 'owner') AS owner
       FROM invitation_tokens t
       JOIN invitations i ON i.org_id = t.org_id AND i.invitation_id = t.invitation_id
       JOIN users u ON u.user_id = i.user_id
       JOIN organizations o ON o.org_id = i.org_id
      WHERE t.token_hash = $1`,
    [hashToken(token)],
  );
  const row = rows[0];
  if (row === undefined) return { state: 'unknown' };
  if (row.status === 'accepted' || row.status === 'revoked') return { state: row.status };
  if (row.status === 'expired' || row.expires_at === null || row.expires_at <= new Date()) {
    return { state: 'expired' };
  }
  return {
    state: 'pending',
    org: row.name,
    orgDisplayName: row.display_name,
    role: row.role,
    resource: row.resource_type === null ? null : `${row.resource_type}/${row.resource_name}`,
    inviter: row.owner === row.email ? null : row.owner,
    email: row.email,
    expiresAt: row.expires_at,
  };
}

/** Accepts the invitation behind a token, once. */
export async function acceptInvitation(pool: pg.Pool, token: string): Promise<AcceptResult> {
  if (!looksLikeToken(token)) return { accepted: false, state: 'unknown' };
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query(
      `UPDATE invitations i SET status = 'accepted', accepted_at = now()
         FROM invitation_tokens t
        WHERE t.token_hash = $1 AND i.org_id = t.org_id AND i.invitation_id = t.invitation_id
          AND i.status = 'pending' AND i.expires_at > now()
        RETURNING i.org_id, i.user_id, i.subject, i.resource_type, i.resource_name,
                  (SELECT name FROM organizations WHERE org_id = i.org_id) AS org,
                  (SELECT email FROM users WHERE user_id = i.user_id) AS email`,
      [hashToken(token)],
    );
    const accepted = rows[0];
    if (accepted === undefined) {
      await client.query('ROLLBACK');
      const view = await viewInvitation(pool, token);
      return { accepted: false, state: view.state === 'pending' ? 'expired' : view.state };
    }
    if (accepted.subject === 'membership') {
      await client.query(
        `UPDATE memberships SET status = CASE WHEN status = 'suspended' THEN status ELSE 'active' END,
                joined_at = coalesce(joined_at, now()), updated_at = now()
          WHERE org_id = $1 AND user_id = $2`,
        [accepted.org_id, accepted.user_id],
      );
    } else {
      await client.query(
        `UPDATE grants SET status = 'active', joined_at = coalesce(joined_at, now()), updated_at = now()
          WHERE org_id = $1 AND user_id = $2 AND resource_type = $3 AND resource_name = $4`,
        [accepted.org_id, accepted.user_id, accepted.resource_type, accepted.resource_name],
      );
    }
    await client.query(`SELECT pg_notify($1, $2)`, [
      INVITATION_CHANNEL,
      JSON.stringify({
        event: 'accepted',
        org: accepted.org,
        user: accepted.email,
        subject: accepted.subject,
        resource:
          accepted.resource_type === null
            ? null
            : `${accepted.resource_type}/${accepted.resource_name}`,
      }),
    ]);
    await client.query('COMMIT');
    return { accepted: true, org: accepted.org, user: accepted.email };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
