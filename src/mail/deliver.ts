/**
 * Drains the outbox: claims due rows with SKIP LOCKED and a lease (a crashed worker's rows come
 * back when the lease ends), makes a fresh token per send (only its hash is stored), sends a few at
 * once over the transport's pooled connections, and records each message as delivered as soon as
 * the server accepted it. The next batch is claimed and prepared while one is sent. A failed send is retried later with exponential backoff and its token is
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
import { effectiveBranding, fromWithSender, type Branding } from '../core/branding.js';
import { Messages } from '../core/messages.js';
import { lookOf } from '../store/accept-invitation.js';

/** Built-in catalogues, English, UTC: when no options say otherwise. */
const PLATFORM_DEFAULTS = new Messages();
import { newToken } from '../core/tokens.js';
import type { MailTransport } from './transport.js';
import {
  claimDue,
  countQueued,
  DEFAULT_INVITATION_EXPIRY_DAYS,
  DEFAULT_INVITATION_MAX_RESENDS,
  expireInvitations,
  markDelivered,
  readDetails,
  recordFailures,
  releaseUnsent,
  requeueExpiredInvitations,
  storeTokens,
  type Claimed,
  type InvitationDetail,
} from '../store/outbox.js';

export { DEFAULT_INVITATION_EXPIRY_DAYS, DEFAULT_INVITATION_MAX_RESENDS, countQueued };

/** How delivery runs. */
export interface DeliveryOptions {
  readonly transport: MailTransport;
  /** Base of the accept links, e.g. `https://access.example.com`. */
  readonly publicUrl: string;
  /** The From: header (its name replaced by a brand's sender name). */
  readonly from: string;
  /** The e-mails' languages and the platform's default language and time zone. */
  readonly messages?: Messages;
  /** The platform's brand, under each organization's. */
  readonly branding?: Branding;
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
  /** Told after each batch how many were sent and failed so far (a progress line). */
  readonly onProgress?: (sent: number, failed: number) => void;
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
    // The next batch is claimed and prepared while this one is sent: the database's round trips
    // overlap the mail's. A prepared batch holds claims and stored tokens, not sends, so the
    // number of messages in flight (what a crash may duplicate) stays the transport's concurrency.
    // A failure of the prefetch surfaces where it is awaited, not as an unhandled rejection.
    const prefetch = () => {
      const prepared = prepareRound(pool, options, worker);
      prepared.catch(() => undefined);
      return prepared;
    };
    let upcoming = prefetch();
    for (;;) {
      const round = await upcoming;
      if (round.claimed === 0) break;
      upcoming = stop.signal.aborted
        ? Promise.resolve(NOTHING)
        : prepareRound(pool, options, worker);
      const done = await sendRound(pool, options, round, stop.signal);
      report.sent += done.sent;
      report.failed += done.failed;
      report.skipped += done.skipped;
      options.onProgress?.(report.sent, report.failed);
      if (stop.signal.aborted || done.sent + done.skipped === 0) {
        await releaseRound(pool, await upcoming);
        break;
      }
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

/** A claimed batch, ready to send: its tokens stored, its expiries fixed. */
interface PreparedRound {
  readonly claimed: number;
  readonly sends: PreparedSend[];
  /** Rows whose invitation is no longer pending: recorded as done without a mail. */
  readonly skipped: Claimed[];
}

const NOTHING: PreparedRound = { claimed: 0, sends: [], skipped: [] };

/** Claims a batch, reads what its mails say, and stores their tokens (hashed). */
async function prepareRound(
  pool: pg.Pool,
  options: DeliveryOptions,
  worker: string,
): Promise<PreparedRound> {
  const claimed = await claimDue(pool, options, worker);
  if (claimed.length === 0) return NOTHING;
  const details = await readDetails(pool, claimed);

  const sends: PreparedSend[] = [];
  const skipped: Claimed[] = [];
  for (const row of claimed) {
    const detail = details.get(`${row.org_id}/${row.invitation_id}`);
    if (detail === undefined || detail.status !== 'pending') skipped.push(row);
    else sends.push({ row, ...newToken(), detail, expiresAt: new Date() });
  }
  // Tokens are stored (hashed) before sending: a mail never carries a token unknown to the database.
  const expiry = await storeTokens(
    pool,
    sends.map((s) => ({
      outboxId: s.row.outbox_id,
      orgId: s.row.org_id,
      invitationId: s.row.invitation_id,
      hash: s.hash,
      expiryDays: s.detail.expiry_days,
    })),
  );
  for (const send of sends) {
    send.expiresAt = expiry.get(`${send.row.org_id}/${send.row.invitation_id}`) ?? send.expiresAt;
  }
  return { claimed: claimed.length, sends, skipped };
}

/** A prepared batch that will not be sent (the run stopped): due again now, tokens dropped. */
async function releaseRound(pool: pg.Pool, round: PreparedRound): Promise<void> {
  if (round.claimed === 0) return;
  await markDelivered(
    pool,
    round.skipped.map((r) => r.outbox_id),
  );
  await releaseUnsent(
    pool,
    round.sends.map((s) => ({ outboxId: s.row.outbox_id, hash: s.hash })),
  );
}

/** Sends a prepared batch and records the outcome of each message; returns its counts. */
async function sendRound(
  pool: pg.Pool,
  options: DeliveryOptions,
  round: PreparedRound,
  stop: AbortSignal,
): Promise<{ sent: number; failed: number; skipped: number }> {
  const { sends, skipped } = round;
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
  const retryBaseMs = options.retryBaseMs ?? 30_000;
  await recordFailures(
    pool,
    failures.map(({ send, error }) => ({
      outboxId: send.row.outbox_id,
      hash: send.hash,
      retryInMs: Math.min(3_600_000, retryBaseMs * 2 ** Math.min(20, send.row.attempts - 1)),
      error,
    })),
  );
  await releaseUnsent(
    pool,
    unsent.map((s) => ({ outboxId: s.row.outbox_id, hash: s.hash })),
  );
  return {
    sent: sends.length - failures.length - unsent.length,
    failed: failures.length,
    skipped: skipped.length,
  };
}

/** The e-mail of one send. */
function mailOf(send: PreparedSend, options: DeliveryOptions) {
  const d = send.detail;
  const look = lookOf(d);
  const brand = effectiveBranding(look.branding, options.branding ?? {});
  const t = (options.messages ?? PLATFORM_DEFAULTS).for(look.locales, look.timeZone);
  const mail = composeInvitation(
    {
      to: d.email,
      orgName: d.org_name,
      orgDisplayName: d.display_name,
      role: d.role,
      resource: d.resource_type === null ? null : `${d.resource_type}/${d.resource_name}`,
      inviter: d.owner === d.email ? null : d.owner,
      link: `${options.publicUrl.replace(/\/+$/, '')}/invitations/${send.token}`,
      expiresAt: send.expiresAt,
    },
    t,
    brand,
  );
  return {
    from: fromWithSender(options.from, brand.senderName),
    to: d.email,
    ...mail,
    idempotencyKey: send.row.idempotency_key,
  };
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
      await markDelivered(this.pool, ids);
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
  const expired = await expireInvitations(pool);
  const requeued = await requeueExpiredInvitations(pool);
  return { expired, requeued };
}
