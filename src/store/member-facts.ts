/**
 * What the database knows about the members of an organization that no manifest declares: their
 * status, when they joined, and the state of their latest invitation. One statement serves the
 * operator's status and the Pulumi provider's outputs.
 */
import { run, statement, type Queryable } from './sql/statement.js';

/** The facts of one membership or grant. */
export interface MemberFactsRow {
  readonly subject: 'membership' | 'grant';
  readonly email: string;
  /** `type/name` for a grant; null for a membership. */
  readonly resource: string | null;
  readonly status: 'invited' | 'active' | 'suspended';
  readonly joinedAt: Date | null;
  /** The latest invitation's state, or null when none was needed. */
  readonly invitation: 'Pending' | 'Accepted' | 'Expired' | 'Revoked' | null;
  readonly sentAt: Date | null;
  readonly expiresAt: Date | null;
}

const MEMBER_FACTS = statement(
  'member-facts',
  `WITH who AS (SELECT coalesce((SELECT a.user_id FROM user_aliases a WHERE a.alias = $2),
                               (SELECT w.user_id FROM users w WHERE w.email = $2)) AS user_id),
   m AS (
     SELECT 'membership' AS subject, m.org_id, m.user_id, NULL::text AS rtype, NULL::text AS rname,
            m.status, m.joined_at
       FROM memberships m JOIN organizations o USING (org_id)
      WHERE o.name = $1 AND ($2::text IS NULL OR m.user_id IN (SELECT user_id FROM who))
     UNION ALL
     SELECT 'grant', g.org_id, g.user_id, g.resource_type, g.resource_name, g.status, g.joined_at
       FROM grants g JOIN organizations o USING (org_id)
      WHERE o.name = $1 AND ($2::text IS NULL OR g.user_id IN (SELECT user_id FROM who)))
   SELECT m.subject, u.email,
          CASE WHEN m.rtype IS NULL THEN NULL ELSE m.rtype || '/' || m.rname END AS resource,
          m.status, m.joined_at,
          CASE i.status WHEN 'pending' THEN 'Pending' WHEN 'accepted' THEN 'Accepted'
                        WHEN 'expired' THEN 'Expired' WHEN 'revoked' THEN 'Revoked' END AS invitation,
          i.sent_at, i.expires_at
     FROM m JOIN users u USING (user_id)
     LEFT JOIN LATERAL (
       SELECT i.status, i.sent_at, i.expires_at FROM invitations i
        WHERE i.org_id = m.org_id AND i.user_id = m.user_id AND i.subject = m.subject
          AND i.resource_type IS NOT DISTINCT FROM m.rtype AND i.resource_name IS NOT DISTINCT FROM m.rname
        ORDER BY i.invitation_id DESC LIMIT 1) i ON true`,
);

/** The facts of every member of `org`, or only of `user` (an e-mail identity) when given. */
export async function memberFacts(
  db: Queryable,
  org: string,
  user?: string,
): Promise<MemberFactsRow[]> {
  const { rows } = await run<{
    subject: MemberFactsRow['subject'];
    email: string;
    resource: string | null;
    status: MemberFactsRow['status'];
    joined_at: Date | null;
    invitation: MemberFactsRow['invitation'];
    sent_at: Date | null;
    expires_at: Date | null;
  }>(db, MEMBER_FACTS, [org, user ?? null]);
  return rows.map((r) => ({
    subject: r.subject,
    email: r.email,
    resource: r.resource,
    status: r.status,
    joinedAt: r.joined_at,
    invitation: r.invitation,
    sentAt: r.sent_at,
    expiresAt: r.expires_at,
  }));
}
