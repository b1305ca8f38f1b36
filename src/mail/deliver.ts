/**
 * Drains the outbox: claims due rows with SKIP LOCKED and a lease (a crashed worker's rows come
 * back when the lease ends), makes a fresh token per send (only its hash is stored), sends a few at
 * once over the transport's pooled connections, and records each message as delivered as soon as
 * the server accepted it. A failed send is retried later with exponential backoff and its token is
 * dropped; nothing is lost. Expired invitations are re-sent as the organization's (or its plan's)
 * policy says.
 *
 * Guarantees (tested in test/delivery-faults.test.ts): a crash duplicates at most the messages in
 * flight (sent, or being sent, but not yet recorded: at most `concurrency`, plus those accepted
 * while the previous record was being written); a run that is stopped (deadline, signal) releases
 * the rows it had not started and says how many stay queued.
 */
import { hostname } from 'node:os';
import type pg from 'pg';
import { composeInvitation } from './compose.js';
import { newToken } from '../core/tokens.js';
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
  /** Rows claimed per round (default 100). */
  readonly batchSize?: number;
  /** Sends at once (default: the transport's concurrency). */
  readonly concurrency?: number;
  /** First retry delay; doubles per attempt, capped at an hour. */
  readonly retryBaseMs?: number;
  /** How long a claimed row is held before another worker may take it (default 5 min). */
  readonly leaseMs?: number;
  /** Stop starting sends after this long, abort those in flight, release the rest. */
  readonly deadlineMs?: number;
  /** The same, on demand (a server shutting down). */
  readonly signal?: AbortSignal;
  /** Who claims rows, shown while they are held (default `host pid N`). */
  readonly worker?: string;
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
  /** Whether the run stopped at its deadline or signal with work left. */
  stopped: boolean;
  /** Invitations still waiting in the outbox after the run (due now, retrying later, or held). */
  queued: number;
  /** Of `queued`: held by a run that has not finished or stopped (its lease has not ended). */
  held: number;
}

interface Claimed {
  outbox_id: string;
  idempotency_key: string;
  attempts: number;
  org_id: string;
  invitation_id: string;
}

interface InvitationDetail {
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

interface PreparedSend {
  readonly row: Claimed;
  readonly token: string;
  readonly hash: Buffer;
  readonly detail: InvitationDetail;
  expiresAt: Date;
}

/** Delivers everything due now, in rounds, until the outbox has nothing due or the run is stopped. */
export async function deliverOutbox(
  pool: pg.Pool,
  options: DeliveryOptions,
): Promise<DeliveryReport> {
  const report: DeliveryReport = {
    sent: 0,
    failed: 0,
    skipped: 0,
    expired: 0,
    requeued: 0,
    stopped: false,
    queued: 0,
    held: 0,
  };
  const stop = stopSignal(options);
  const worker = options.worker ?? `${hostname()} pid ${process.pid}`;
  try {
    const { expired, requeued } = await requeueExpired(pool);
    report.expired = expired;
    report.requeued = requeued;
    while (!stop.signal.aborted) {
      const round = await deliverRound(pool, options, worker, stop.signal);
      report.sent += round.sent;
      report.failed += round.failed;
      report.skipped += round.skipped;
      if (round.sent + round.skipped === 0) break;
    }
    report.stopped = stop.signal.aborted;
  } finally {
    stop.dispose();
  }
  Object.assign(report, await countQueued(pool));
  return report;
}

/** One signal for the deadline and the caller's signal. */
function stopSignal(options: DeliveryOptions): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const abort = () => controller.abort();
  const timer =
    options.deadlineMs === undefined ? undefined : setTimeout(abort, options.deadlineMs).unref();
  if (options.signal?.aborted === true) abort();
  options.signal?.addEventListener('abort', abort, { once: true });
  return {
    signal: controller.signal,
    dispose: () => {
      if (timer !== undefined) clearTimeout(timer);
      options.signal?.removeEventListener('abort', abort);
    },
  };
}

/** Claims a batch and sends it; returns its counts. */
async function deliverRound(
  pool: pg.Pool,
  options: DeliveryOptions,
  worker: string,
  stop: AbortSignal,
): Promise<{ sent: number; failed: number; skipped: number }> {
  const claimed = await claimDue(pool, options, worker);
  if (claimed.length === 0) return { sent: 0, failed: 0, skipped: 0 };
  const details = await readDetails(pool, claimed);

  const sends: PreparedSend[] = [];
  const skipped: Claimed[] = [];
  for (const row of claimed) {
    const detail = details.get(`${row.org_id}/${row.invitation_id}`);
    if (detail === undefined || detail.status !== 'pending') skipped.push(row);
    else sends.push({ row, ...newToken(), detail, expiresAt: new Date() });
  }
  // Tokens are stored (hashed) before sending: a mail never carries a token unknown to the database.
  await storeTokens(pool, sends);

  const marks = new DeliveredMarks(pool);
  marks.add(skipped.map((r) => r.outbox_id));
  const failures: { send: PreparedSend; error: string }[] = [];
  const unsent: PreparedSend[] = [];
  const concurrency = Math.max(1, options.concurrency ?? options.transport.concurrency);
  let next = 0;
  const sendOne = async (send: PreparedSend) => {
    try {
      await options.transport.send(mailOf(send, options), stop);
      marks.add([send.row.outbox_id]);
    } catch (error) {
      // Aborted while in flight: the server may or may not have taken it; it goes out again.
      if (stop.aborted) unsent.push(send);
      else failures.push({ send, error: describeSendError(error) });
    }
  };
  const lane = async () => {
    for (let send = sends[next++]; send !== undefined; send = sends[next++]) {
      if (stop.aborted) unsent.push(send);
      else await sendOne(send);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, sends.length) }, lane));
  await marks.flush();
  await recordFailures(pool, failures, options.retryBaseMs ?? 30_000);
  await releaseUnsent(pool, unsent);
  return {
    sent: sends.length - failures.length - unsent.length,
    failed: failures.length,
    skipped: skipped.length,
  };
}

/** Claims up to a batch of due invitation rows for `leaseMs`, recording who claimed them. */
async function claimDue(pool: pg.Pool, options: DeliveryOptions, worker: string) {
  const { rows } = await pool.query<Claimed>(
    `UPDATE outbox o SET attempts = o.attempts + 1,
            available_at = now() + $2 * interval '1 millisecond',
            claimed_by = $3, claimed_at = now()
      WHERE o.outbox_id IN (
              SELECT outbox_id FROM outbox
               WHERE delivered_at IS NULL AND available_at <= now() AND kind = 'invitation'
               ORDER BY available_at, outbox_id LIMIT $1 FOR UPDATE SKIP LOCKED)
      RETURNING o.outbox_id, o.idempotency_key, o.attempts,
                o.payload->>'orgId' AS org_id, o.payload->>'invitationId' AS invitation_id`,
    [options.batchSize ?? 100, options.leaseMs ?? 5 * 60_000, worker],
  );
  return rows;
}

/** What the e-mails of claimed rows say, by `org/invitation`. */
async function readDetails(
  pool: pg.Pool,
  claimed: readonly Claimed[],
): Promise<Map<string, InvitationDetail>> {
  const { rows } = await pool.query<InvitationDetail>(
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
      claimed.map((r) => r.org_id),
      claimed.map((r) => r.invitation_id),
      DEFAULT_INVITATION_EXPIRY_DAYS,
    ],
  );
  return new Map(rows.map((d) => [`${d.org_id}/${d.invitation_id}`, d]));
}

/**
 * Stores the hashes of the tokens about to be sent and fixes each invitation's expiry. A row sent
 * again after an interrupted delivery drops the tokens of its earlier attempt: those mails were
 * never sent, or were in flight, and the new one replaces them.
 */
async function storeTokens(pool: pg.Pool, sends: PreparedSend[]): Promise<void> {
  if (sends.length === 0) return;
  const { rows } = await pool.query<{ org_id: string; invitation_id: string; expires_at: Date }>(
    `WITH superseded AS (
       DELETE FROM invitation_tokens WHERE outbox_id = ANY($5::bigint[])),
     tokens AS (
       INSERT INTO invitation_tokens (org_id, invitation_id, token_hash, outbox_id)
       SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $5::bigint[]))
     UPDATE invitations i SET expires_at = coalesce(i.expires_at, now() + x.days * interval '1 day')
       FROM unnest($1::bigint[], $2::bigint[], $4::int[]) AS x(org_id, invitation_id, days)
      WHERE i.org_id = x.org_id AND i.invitation_id = x.invitation_id
      RETURNING i.org_id::text, i.invitation_id::text, i.expires_at`,
    [
      sends.map((s) => s.row.org_id),
      sends.map((s) => s.row.invitation_id),
      sends.map((s) => s.hash),
      sends.map((s) => s.detail.expiry_days),
      sends.map((s) => s.row.outbox_id),
    ],
  );
  const expiry = new Map(rows.map((r) => [`${r.org_id}/${r.invitation_id}`, r.expires_at]));
  for (const send of sends) {
    send.expiresAt = expiry.get(`${send.row.org_id}/${send.row.invitation_id}`) ?? send.expiresAt;
  }
}

/** The e-mail of one send. */
function mailOf(send: PreparedSend, options: DeliveryOptions) {
  const d = send.detail;
  const mail = composeInvitation({
    to: d.email,
    orgName: d.org_name,
    orgDisplayName: d.display_name,
    role: d.role,
    resource: d.resource_type === null ? null : `${d.resource_type}/${d.resource_name}`,
    inviter: d.owner === d.email ? null : d.owner,
    link: `${options.publicUrl.replace(/\/+$/, '')}/invitations/${send.token}`,
    expiresAt: send.expiresAt,
  });
  return { from: options.from, to: d.email, ...mail, idempotencyKey: send.row.idempotency_key };
}

/**
 * Records delivered rows as soon as possible without a round trip per message: ids accepted while
 * a write is under way go in the next write (group commit). A crash loses at most the marks of
 * one write in progress.
 */
class DeliveredMarks {
  private pending: string[] = [];
  private writing: Promise<void> = Promise.resolve();
  private failure: unknown;

  constructor(private readonly pool: pg.Pool) {}

  add(ids: readonly string[]): void {
    if (ids.length === 0) return;
    const idle = this.pending.length === 0;
    this.pending.push(...ids);
    if (idle) this.writing = this.writing.then(() => this.write());
  }

  private async write(): Promise<void> {
    const ids = this.pending;
    this.pending = [];
    if (ids.length === 0) return;
    try {
      await this.pool.query(
        `WITH delivered AS (
           UPDATE outbox SET delivered_at = now(), last_error = NULL, claimed_by = NULL
            WHERE outbox_id = ANY($1::bigint[])
            RETURNING org_id, (payload->>'invitationId')::bigint AS invitation_id)
         UPDATE invitations i SET sent_at = now()
           FROM delivered d
          WHERE i.org_id = d.org_id AND i.invitation_id = d.invitation_id AND i.status = 'pending'`,
        [ids],
      );
    } catch (error) {
      this.failure ??= error;
    }
  }

  /** Waits for every mark; throws the first write failure (those messages go out again later). */
  async flush(): Promise<void> {
    await this.writing;
    if (this.pending.length > 0) await this.write();
    if (this.failure !== undefined) throw this.failure;
  }
}

/** Failed sends: retried later with backoff; their tokens are dropped. */
async function recordFailures(
  pool: pg.Pool,
  failures: readonly { send: PreparedSend; error: string }[],
  retryBaseMs: number,
): Promise<void> {
  if (failures.length === 0) return;
  await pool.query(
    `WITH dropped AS (DELETE FROM invitation_tokens WHERE token_hash = ANY($4::bytea[]))
     UPDATE outbox o SET available_at = now() + x.delay * interval '1 millisecond',
            last_error = x.error, claimed_by = NULL
       FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS x(outbox_id, delay, error)
      WHERE o.outbox_id = x.outbox_id`,
    [
      failures.map((f) => f.send.row.outbox_id),
      failures.map((f) =>
        Math.min(3_600_000, retryBaseMs * 2 ** Math.min(20, f.send.row.attempts - 1)),
      ),
      failures.map((f) => f.error),
      failures.map((f) => f.send.hash),
    ],
  );
}

/** Rows a stopped run did not send: due again now, the attempt not counted, tokens dropped. */
async function releaseUnsent(pool: pg.Pool, unsent: readonly PreparedSend[]): Promise<void> {
  if (unsent.length === 0) return;
  await pool.query(
    `WITH dropped AS (DELETE FROM invitation_tokens WHERE token_hash = ANY($2::bytea[]))
     UPDATE outbox SET available_at = now(), attempts = greatest(attempts - 1, 0),
            claimed_by = NULL, claimed_at = NULL
      WHERE outbox_id = ANY($1::bigint[])`,
    [unsent.map((s) => s.row.outbox_id), unsent.map((s) => s.hash)],
  );
}

/** Invitation rows not delivered yet, and how many of them a lease holds. */
export async function countQueued(
  pool: pg.Pool,
  orgs?: readonly string[],
): Promise<{ queued: number; held: number }> {
  const { rows } = await pool.query<{ queued: number; held: number }>(
    `SELECT count(*)::int AS queued,
            count(*) FILTER (WHERE o.claimed_by IS NOT NULL AND o.available_at > now())::int AS held
       FROM outbox o
      WHERE o.delivered_at IS NULL AND o.kind = 'invitation'
        AND ($1::text[] IS NULL
             OR o.org_id IN (SELECT org_id FROM organizations WHERE name = ANY($1::text[])))`,
    [orgs === undefined ? null : [...orgs]],
  );
  return rows[0] ?? { queued: 0, held: 0 };
}

/** An error message safe to store and show: no credentials, one line. */
function describeSendError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (
    message
      .replace(/\/\/[^@/\s]*@/g, '//***@')
      .replace(/\s+/g, ' ')
      .slice(0, 500) || 'the mail server gave no reason'
  );
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
