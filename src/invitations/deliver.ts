/**
 * Drains the outbox: claims due rows with SKIP LOCKED and a lease (a crashed worker's rows come
 * back when the lease ends), makes a fresh token per send (only its hash is stored), sends, and
 * marks what was sent. A failed send is retried later with exponential backoff; nothing is lost.
 * Expired invitations are re-sent as the organization's (or its plan's) policy says.
 */
import type pg from 'pg';
import { composeInvitation } from './compose.js';
import { newToken } from './tokens.js';
import type { MailTransport } from './transport.js';

/** Defaults of the invitation policy when neither the organization nor its plan sets one. */
export const DEFAULT_INVITATION_EXPIRY_DAYS = 7;
export const DEFAULT_INVITATION_MAX_RESENDS = 2;

/** How delivery runs. */
export interface DeliveryOptions {
  readonly transport: MailTransport;
  /** Base of the accept links, e.g. `https://access.example.com`. */
  readonly publicUrl: string;
  /** The From: header. */
  readonly from: string;
  /** Rows claimed per round. */
  readonly batchSize?: number;
  /** First retry delay; doubles per attempt, capped at an hour. */
  readonly retryBaseMs?: number;
  /** How long a claimed row is held before another worker may take it. */
  readonly leaseMs?: number;
}

/** What a delivery run did. */
export interface DeliveryReport {
  sent: number;
  failed: number;
  skipped: number;
  /** Invitations whose resends ran out and are now expired. */
  expired: number;
  /** Expired invitations queued again. */
  requeued: number;
}

interface Claimed {
  outbox_id: string;
  idempotency_key: string;
  attempts: number;
  org_id: string;
  invitation_id: string;
}

/** Delivers everything due now, in rounds, until the outbox has nothing due. */
export async function deliverOutbox(
  pool: pg.Pool,
  options: DeliveryOptions,
): Promise<DeliveryReport> {
  const report: DeliveryReport = { sent: 0, failed: 0, skipped: 0, expired: 0, requeued: 0 };
  const { expired, requeued } = await requeueExpired(pool);
  report.expired = expired;
  report.requeued = requeued;
  for (;;) {
    const round = await deliverRound(pool, options);
    report.sent += round.sent;
    report.failed += round.failed;
    report.skipped += round.skipped;
    if (round.sent + round.failed + round.skipped === 0 || round.sent + round.skipped === 0) break;
  }
  return report;
}

async function deliverRound(pool: pg.Pool, options: DeliveryOptions) {
  const batchSize = options.batchSize ?? 100;
  const leaseMs = options.leaseMs ?? 5 * 60_000;
  const claimed = await pool.query<Claimed>(
    `UPDATE outbox o SET attempts = o.attempts + 1, available_at = now() + $2 * interval '1 millisecond'
      WHERE o.outbox_id IN (
              SELECT outbox_id FROM outbox
               WHERE delivered_at IS NULL AND available_at <= now() AND kind = 'invitation'
               ORDER BY available_at, outbox_id LIMIT $1 FOR UPDATE SKIP LOCKED)
      RETURNING o.outbox_id, o.idempotency_key, o.attempts,
                o.payload->>'orgId' AS org_id, o.payload->>'invitationId' AS invitation_id`,
    [batchSize, leaseMs],
  );
  if (claimed.rowCount === 0) return { sent: 0, failed: 0, skipped: 0 };

  const details = await pool.query(
    `SELECT i.org_id::text, i.invitation_id::text, i.status, i.role, i.resource_type, i.resource_name,
            u.email, o.name AS org_name, o.display_name,
            coalesce(o.invitation_expiry_days, p.invitation_expiry_days, $3::int) AS expiry_days,
            (SELECT ou.email FROM memberships m JOIN users ou USING (user_id)
              WHERE m.org_id = o.org_id AND m.role = 'owner') AS owner
       FROM unnest($1::bigint[], $2::bigint[]) AS x(org_id, invitation_id)
       JOIN invitations i ON i.org_id = x.org_id AND i.invitation_id = x.invitation_id
       JOIN users u ON u.user_id = i.user_id
       JOIN organizations o ON o.org_id = i.org_id
       LEFT JOIN plans p ON p.name = o.plan`,
    [
      claimed.rows.map((r) => r.org_id),
      claimed.rows.map((r) => r.invitation_id),
      DEFAULT_INVITATION_EXPIRY_DAYS,
    ],
  );
  const byInvitation = new Map(details.rows.map((d) => [`${d.org_id}/${d.invitation_id}`, d]));

  // Tokens are made and stored (hashed) before sending: a mail never carries a token unknown to the database.
  const sends: {
    row: Claimed;
    token: string;
    hash: Buffer;
    detail: (typeof details.rows)[number];
  }[] = [];
  const skipped: Claimed[] = [];
  for (const row of claimed.rows) {
    const detail = byInvitation.get(`${row.org_id}/${row.invitation_id}`);
    if (detail === undefined || detail.status !== 'pending') skipped.push(row);
    else sends.push({ row, ...newToken(), detail });
  }
  const timing = new Map<string, Date>();
  if (sends.length > 0) {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO invitation_tokens (org_id, invitation_id, token_hash)
         SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[])`,
        [
          sends.map((s) => s.row.org_id),
          sends.map((s) => s.row.invitation_id),
          sends.map((s) => s.hash),
        ],
      );
      const updated = await client.query<{
        org_id: string;
        invitation_id: string;
        expires_at: Date;
      }>(
        `UPDATE invitations i SET sent_at = now(),
                expires_at = coalesce(i.expires_at, now() + x.days * interval '1 day')
           FROM unnest($1::bigint[], $2::bigint[], $3::int[]) AS x(org_id, invitation_id, days)
          WHERE i.org_id = x.org_id AND i.invitation_id = x.invitation_id
          RETURNING i.org_id::text, i.invitation_id::text, i.expires_at`,
        [
          sends.map((s) => s.row.org_id),
          sends.map((s) => s.row.invitation_id),
          sends.map((s) => s.detail.expiry_days),
        ],
      );
      for (const u of updated.rows) timing.set(`${u.org_id}/${u.invitation_id}`, u.expires_at);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  const delivered: Claimed[] = [...skipped];
  const failures: { row: Claimed; error: string }[] = [];
  for (const send of sends) {
    const d = send.detail;
    const mail = composeInvitation({
      to: d.email,
      orgName: d.org_name,
      orgDisplayName: d.display_name,
      role: d.role,
      resource: d.resource_type === null ? null : `${d.resource_type}/${d.resource_name}`,
      inviter: d.owner === d.email ? null : d.owner,
      link: `${options.publicUrl.replace(/\/+$/, '')}/invitations/${send.token}`,
      expiresAt: timing.get(`${send.row.org_id}/${send.row.invitation_id}`) ?? new Date(),
    });
    try {
      await options.transport.send({
        from: options.from,
        to: d.email,
        ...mail,
        idempotencyKey: send.row.idempotency_key,
      });
      delivered.push(send.row);
    } catch (error) {
      failures.push({ row: send.row, error: describeSendError(error) });
    }
  }

  if (delivered.length > 0) {
    await pool.query(
      `UPDATE outbox SET delivered_at = now(), last_error = NULL WHERE outbox_id = ANY($1::bigint[])`,
      [delivered.map((r) => r.outbox_id)],
    );
  }
  if (failures.length > 0) {
    const base = options.retryBaseMs ?? 30_000;
    await pool.query(
      `UPDATE outbox o SET available_at = now() + x.delay * interval '1 millisecond', last_error = x.error
         FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS x(outbox_id, delay, error)
        WHERE o.outbox_id = x.outbox_id`,
      [
        failures.map((f) => f.row.outbox_id),
        failures.map((f) => Math.min(3_600_000, base * 2 ** Math.min(20, f.row.attempts - 1))),
        failures.map((f) => f.error),
      ],
    );
  }
  return {
    sent: delivered.length - skipped.length,
    failed: failures.length,
    skipped: skipped.length,
  };
}

/** An error message safe to store and show: no credentials, one line. */
function describeSendError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message
    .replace(/\/\/[^@/\s]*@/g, '//***@')
    .replace(/\s+/g, ' ')
    .slice(0, 500);
}

/**
 * Pending invitations past their expiry: re-queued while resends remain (their old links stay
 * dead), otherwise marked expired.
 */
export async function requeueExpired(
  pool: pg.Pool,
): Promise<{ expired: number; requeued: number }> {
  const policy = 'coalesce(o.invitation_max_resends, p.invitation_max_resends, $1::int)';
  const expired = await pool.query(
    `UPDATE invitations i SET status = 'expired'
       FROM organizations o LEFT JOIN plans p ON p.name = o.plan
      WHERE o.org_id = i.org_id AND i.status = 'pending' AND i.expires_at <= now()
        AND i.resend_count >= ${policy}`,
    [DEFAULT_INVITATION_MAX_RESENDS],
  );
  const requeued = await pool.query(
    `WITH due AS (
       UPDATE invitations i SET resend_count = i.resend_count + 1, expires_at = NULL
         FROM organizations o LEFT JOIN plans p ON p.name = o.plan
        WHERE o.org_id = i.org_id AND i.status = 'pending' AND i.expires_at <= now()
          AND i.resend_count < ${policy}
        RETURNING i.org_id, i.invitation_id, i.resend_count),
     dead AS (
       DELETE FROM invitation_tokens t USING due
        WHERE t.org_id = due.org_id AND t.invitation_id = due.invitation_id)
     INSERT INTO outbox (org_id, kind, idempotency_key, payload)
     SELECT org_id, 'invitation', 'invitation:' || org_id || ':' || invitation_id || ':resend:' || resend_count,
            jsonb_build_object('orgId', org_id, 'invitationId', invitation_id)
       FROM due`,
    [DEFAULT_INVITATION_MAX_RESENDS],
  );
  return { expired: expired.rowCount ?? 0, requeued: requeued.rowCount ?? 0 };
}
