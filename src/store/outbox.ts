/**
 * The outbox's statements: claiming due invitation rows under a lease, reading what their e-mails
 * say, storing token hashes, recording deliveries, failures and releases, counting what is
 * queued, and re-queuing expired invitations. `src/mail/deliver.ts` drives them.
 */
import { LOOK_COLUMNS, type LookRow } from './accept-invitation.js';
import { run, statement, type Queryable } from './sql/statement.js';
import { INVITATION_KEY } from './invitations.js';

/** Defaults of the invitation policy when neither the organization nor its plan sets one. */
export const DEFAULT_INVITATION_EXPIRY_DAYS = 7;
export const DEFAULT_INVITATION_MAX_RESENDS = 2;

/** A claimed outbox row. */
export interface Claimed {
  outbox_id: string;
  idempotency_key: string;
  attempts: number;
  org_id: string;
  invitation_id: string;
}

/** What the e-mail of one invitation says. */
interface InvitationDetailRow {
  org_id: string;
  invitation_id: string;
  status: string;
  role: string;
  resource_type: string | null;
  resource_name: string | null;
  email: string;
  org_name: string;
  display_name: string | null;
  expiry_days: number;
  owner: string | null;
}

/** What an invitation's e-mail says and how it looks (its language, time zone and brand). */
export type InvitationDetail = InvitationDetailRow & LookRow;

/** A token about to be sent: its hash and what it is for. */
export interface TokenToStore {
  readonly outboxId: string;
  readonly orgId: string;
  readonly invitationId: string;
  readonly hash: Buffer;
  readonly expiryDays: number;
}

const CLAIM_DUE = statement(
  'claim-due',
  `UPDATE outbox o SET attempts = o.attempts + 1,
            available_at = now() + $2 * interval '1 millisecond',
            claimed_by = $3, claimed_at = now()
      WHERE o.outbox_id IN (
              SELECT outbox_id FROM outbox
               WHERE delivered_at IS NULL AND available_at <= now() AND kind = 'invitation'
               ORDER BY available_at, outbox_id LIMIT $1 FOR UPDATE SKIP LOCKED)
      RETURNING o.outbox_id, o.idempotency_key, o.attempts,
                o.payload->>'orgId' AS org_id, o.payload->>'invitationId' AS invitation_id`,
);
/** Claims up to a batch of due invitation rows for `leaseMs`, recording who claimed them. */
export async function claimDue(
  db: Queryable,
  options: { batchSize?: number; leaseMs?: number },
  worker: string,
) {
  const { rows } = await run<Claimed>(db, CLAIM_DUE, [
    options.batchSize ?? 100,
    options.leaseMs ?? 5 * 60_000,
    worker,
  ]);
  return rows;
}

const READ_DETAILS = statement(
  'read-invitation-details',
  `SELECT i.org_id::text, i.invitation_id::text, i.status, i.role, i.resource_type, i.resource_name,
            u.email, o.name AS org_name, o.display_name, ${LOOK_COLUMNS},
            coalesce(o.invitation_expiry_days, p.invitation_expiry_days, $3::int) AS expiry_days,
            (SELECT ou.email FROM memberships m JOIN users ou USING (user_id)
              WHERE m.org_id = o.org_id AND m.role = 'owner') AS owner
       FROM unnest($1::bigint[], $2::bigint[]) AS x(org_id, invitation_id)
       JOIN invitations i ON i.org_id = x.org_id AND i.invitation_id = x.invitation_id
       JOIN users u ON u.user_id = i.user_id
       JOIN organizations o ON o.org_id = i.org_id
       LEFT JOIN plans p ON p.name = o.plan`,
);
/** What the e-mails of claimed rows say, by `org/invitation`. */
export async function readDetails(
  db: Queryable,
  claimed: readonly Claimed[],
): Promise<Map<string, InvitationDetail>> {
  const { rows } = await run<InvitationDetail>(db, READ_DETAILS, [
    claimed.map((r) => r.org_id),
    claimed.map((r) => r.invitation_id),
    DEFAULT_INVITATION_EXPIRY_DAYS,
  ]);
  return new Map(rows.map((d) => [`${d.org_id}/${d.invitation_id}`, d]));
}

const STORE_TOKENS = statement(
  'store-tokens',
  `WITH superseded AS (
       DELETE FROM invitation_tokens WHERE outbox_id = ANY($5::bigint[])),
     tokens AS (
       INSERT INTO invitation_tokens (org_id, invitation_id, token_hash, outbox_id)
       SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $5::bigint[]))
     UPDATE invitations i SET expires_at = coalesce(i.expires_at, now() + x.days * interval '1 day')
       FROM unnest($1::bigint[], $2::bigint[], $4::int[]) AS x(org_id, invitation_id, days)
      WHERE i.org_id = x.org_id AND i.invitation_id = x.invitation_id
      RETURNING i.org_id::text, i.invitation_id::text, i.expires_at`,
);
/**
 * Stores the hashes of the tokens about to be sent and fixes each invitation's expiry. A row sent
 * again after an interrupted delivery drops the tokens of its earlier attempt: those mails were
 * never sent, or were in flight, and the new one replaces them. Returns each invitation's expiry,
 * by `org/invitation`.
 */
export async function storeTokens(
  db: Queryable,
  sends: readonly TokenToStore[],
): Promise<Map<string, Date>> {
  if (sends.length === 0) return new Map();
  const { rows } = await run<{ org_id: string; invitation_id: string; expires_at: Date }>(
    db,
    STORE_TOKENS,
    [
      sends.map((s) => s.orgId),
      sends.map((s) => s.invitationId),
      sends.map((s) => s.hash),
      sends.map((s) => s.expiryDays),
      sends.map((s) => s.outboxId),
    ],
  );
  return new Map(rows.map((r) => [`${r.org_id}/${r.invitation_id}`, r.expires_at]));
}

/** The actor of what delivery does by itself: e-mail, re-send an expired link, expire. */
const DELIVERY_ACTOR = 'roster delivery';

const MARK_DELIVERED = statement(
  'mark-delivered',
  `WITH delivered AS (
           UPDATE outbox SET delivered_at = now(), last_error = NULL, claimed_by = NULL
            WHERE outbox_id = ANY($1::bigint[])
            RETURNING org_id, (payload->>'invitationId')::bigint AS invitation_id),
        sent AS (
         UPDATE invitations i SET sent_at = now()
           FROM delivered d
          WHERE i.org_id = d.org_id AND i.invitation_id = d.invitation_id AND i.status = 'pending'
         RETURNING i.org_id, i.user_id, i.subject, i.resource_type, i.resource_name)
   INSERT INTO audit_log (org_id, actor, action, record, record_key)
   SELECT i.org_id, '${DELIVERY_ACTOR}', 'invitation-sent', 'invitation', ${INVITATION_KEY}
     FROM sent i JOIN organizations o ON o.org_id = i.org_id JOIN users u ON u.user_id = i.user_id`,
);
/** Records these outbox rows as delivered, and their invitations as sent. */
export async function markDelivered(db: Queryable, ids: readonly string[]): Promise<void> {
  await run(db, MARK_DELIVERED, [ids]);
}

const RECORD_FAILURES = statement(
  'record-send-failures',
  `WITH dropped AS (DELETE FROM invitation_tokens WHERE token_hash = ANY($4::bytea[]))
     UPDATE outbox o SET available_at = now() + x.delay * interval '1 millisecond',
            last_error = x.error, claimed_by = NULL
       FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS x(outbox_id, delay, error)
      WHERE o.outbox_id = x.outbox_id`,
);
/** Failed sends: retried later with backoff; their tokens are dropped. */
export async function recordFailures(
  db: Queryable,
  failures: readonly { outboxId: string; hash: Buffer; retryInMs: number; error: string }[],
): Promise<void> {
  if (failures.length === 0) return;
  await run(db, RECORD_FAILURES, [
    failures.map((f) => f.outboxId),
    failures.map((f) => f.retryInMs),
    failures.map((f) => f.error),
    failures.map((f) => f.hash),
  ]);
}

const RELEASE_UNSENT = statement(
  'release-unsent',
  `WITH dropped AS (DELETE FROM invitation_tokens WHERE token_hash = ANY($2::bytea[]))
     UPDATE outbox SET available_at = now(), attempts = greatest(attempts - 1, 0),
            claimed_by = NULL, claimed_at = NULL
      WHERE outbox_id = ANY($1::bigint[])`,
);
/** Rows a stopped run did not send: due again now, the attempt not counted, tokens dropped. */
export async function releaseUnsent(
  db: Queryable,
  unsent: readonly { outboxId: string; hash: Buffer }[],
): Promise<void> {
  if (unsent.length === 0) return;
  await run(db, RELEASE_UNSENT, [unsent.map((s) => s.outboxId), unsent.map((s) => s.hash)]);
}

const COUNT_QUEUED = statement(
  'count-queued',
  `SELECT count(*)::int AS queued,
            count(*) FILTER (WHERE o.claimed_by IS NOT NULL AND o.available_at > now())::int AS held
       FROM outbox o
      WHERE o.delivered_at IS NULL AND o.kind = 'invitation'
        AND ($1::text[] IS NULL
             OR o.org_id IN (SELECT org_id FROM organizations WHERE name = ANY($1::text[])))`,
);
/** Invitation rows not delivered yet, and how many of them a lease holds. */
export async function countQueued(
  db: Queryable,
  orgs?: readonly string[],
): Promise<{ queued: number; held: number }> {
  const { rows } = await run<{ queued: number; held: number }>(db, COUNT_QUEUED, [
    orgs === undefined ? null : [...orgs],
  ]);
  return rows[0] ?? { queued: 0, held: 0 };
}

const POLICY = 'coalesce(o.invitation_max_resends, p.invitation_max_resends, $1::int)';

const EXPIRE_INVITATIONS = statement(
  'expire-invitations',
  `WITH expired AS (
     UPDATE invitations i SET status = 'expired'
       FROM organizations o LEFT JOIN plans p ON p.name = o.plan
      WHERE o.org_id = i.org_id AND i.status = 'pending' AND i.expires_at <= now()
        AND i.resend_count >= ${POLICY}
      RETURNING i.org_id, i.user_id, i.subject, i.resource_type, i.resource_name)
   INSERT INTO audit_log (org_id, actor, action, record, record_key)
   SELECT i.org_id, '${DELIVERY_ACTOR}', 'invitation-expired', 'invitation', ${INVITATION_KEY}
     FROM expired i JOIN organizations o ON o.org_id = i.org_id JOIN users u ON u.user_id = i.user_id`,
);
/** Pending invitations past their expiry with no resend left: marked expired. */
export async function expireInvitations(db: Queryable): Promise<number> {
  return (await run(db, EXPIRE_INVITATIONS, [DEFAULT_INVITATION_MAX_RESENDS])).rowCount ?? 0;
}

const REQUEUE_EXPIRED = statement(
  'requeue-expired',
  `WITH due AS (
     UPDATE invitations i SET resend_count = i.resend_count + 1, expires_at = NULL
       FROM organizations o LEFT JOIN plans p ON p.name = o.plan
      WHERE o.org_id = i.org_id AND i.status = 'pending' AND i.expires_at <= now()
        AND i.resend_count < ${POLICY}
      RETURNING i.org_id, i.invitation_id, i.resend_count, i.user_id, i.subject, i.resource_type,
                i.resource_name),
   dead AS (
     DELETE FROM invitation_tokens t USING due
      WHERE t.org_id = due.org_id AND t.invitation_id = due.invitation_id),
   audited AS (
     INSERT INTO audit_log (org_id, actor, action, record, record_key)
     SELECT i.org_id, '${DELIVERY_ACTOR}', 'invitation-resent', 'invitation', ${INVITATION_KEY}
       FROM due i JOIN organizations o ON o.org_id = i.org_id JOIN users u ON u.user_id = i.user_id)
   INSERT INTO outbox (org_id, kind, idempotency_key, payload)
   SELECT org_id, 'invitation', 'invitation:' || org_id || ':' || invitation_id || ':resend:' || resend_count,
          jsonb_build_object('orgId', org_id, 'invitationId', invitation_id)
     FROM due`,
);
/** Pending invitations past their expiry with resends left: queued again (their old links stay dead). */
export async function requeueExpiredInvitations(db: Queryable): Promise<number> {
  return (await run(db, REQUEUE_EXPIRED, [DEFAULT_INVITATION_MAX_RESENDS])).rowCount ?? 0;
}
