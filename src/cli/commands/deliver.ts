/** `roster deliver`: sends the queued invitations once, and re-queues expired ones by policy. */
import { deliverOutbox, type DeliveryReport } from '../../mail/deliver.js';
import type pg from 'pg';
import { openAccessDatabase } from '../../store/connect.js';
import type { CliIo } from '../../command/io.js';
import { deliveryOptionsFrom } from '../../command/delivery-config.js';
import type { Localization } from '../../command/localization.js';
import { whoAmI } from '../../command/session.js';
import { UsageError } from '../../core/errors.js';

/** Help text of the command. */
export const DELIVER_HELP = `Usage: roster deliver

Sends the invitation e-mails waiting in the outbox, once, then exits. "roster apply" does
this after each apply, and "roster serve" does it continuously.

Environment: SMTP_URL (without it, .eml files under .roster/outbox/), ROSTER_PUBLIC_URL
(base of the links, default http://localhost:8080), ROSTER_MAIL_FROM.

Exit codes: 0 everything due was sent, 1 some sends failed (they stay queued and are retried).
`;

/** What to do about invitations that stay in the outbox. */
const QUEUED_HINT = 'run "roster deliver", or keep "roster serve" running';

/** A line about invitations waiting in the outbox (`held` of them leased by a run in progress). */
export function describeQueued(queued: number, held: number): string {
  const parts = [
    `${queued} invitation${queued === 1 ? ' is' : 's are'} queued and not sent yet: ${QUEUED_HINT}`,
  ];
  if (held > 0) parts.push(describeHeld(held));
  return `${parts.join('; ')}.`;
}

const describeHeld = (held: number) =>
  `${held} ${held === 1 ? 'is' : 'are'} held by a delivery that is still running or stopped before finishing (they are sent again when its lease ends; see "roster invitations list")`;

/** A one-line account of a delivery run. */
export function describeDelivery(
  report: DeliveryReport,
  where: string,
  deadlineMs?: number,
): string {
  const parts = [`${report.sent} invitation${report.sent === 1 ? '' : 's'} sent to ${where}`];
  if (report.failed > 0) {
    parts.push(`${report.failed} failed and will be retried (roster invitations list)`);
  }
  if (report.requeued > 0) parts.push(`${report.requeued} expired re-sent`);
  if (report.expired > 0) parts.push(`${report.expired} expired for good`);
  if (report.queued > 0) {
    const why =
      report.stopped && deadlineMs !== undefined
        ? ` (delivery stopped after ${formatSeconds(deadlineMs)})`
        : '';
    parts.push(
      `${report.queued} stay${report.queued === 1 ? 's' : ''} queued${why}: ${QUEUED_HINT}`,
    );
  }
  if (report.held > 0) parts.push(describeHeld(report.held));
  return `${parts.join('; ')}.`;
}

const formatSeconds = (ms: number) => `${Number((ms / 1000).toFixed(1))} s`;

/**
 * One delivery pass with the environment's settings, reported in one line on `out`; returns the
 * report.
 */
export async function deliverAndReport(
  pool: pg.Pool,
  io: CliIo,
  out: NodeJS.WritableStream = io.stdout,
  limits: { deadlineMs?: number; signal?: AbortSignal } = {},
  localization?: Localization,
): Promise<DeliveryReport> {
  const options = await deliveryOptionsFrom(io, localization);
  // On a terminal, a line that counts what was sent so far; erased before the summary.
  let shown = false;
  const onProgress =
    io.stderr.isTTY === true
      ? (sent: number, failed: number) => {
          shown = true;
          io.stderr.write(
            `\rDelivering: ${sent} sent${failed > 0 ? `, ${failed} failed` : ''}\u001b[K`,
          );
        }
      : undefined;
  try {
    const report = await deliverOutbox(pool, {
      ...options,
      ...limits,
      ...(onProgress !== undefined && { onProgress }),
    });
    if (shown) io.stderr.write('\r\u001b[K');
    out.write(`${describeDelivery(report, options.transport.description, limits.deadlineMs)}\n`);
    return report;
  } catch (error) {
    if (shown) io.stderr.write('\n');
    throw error;
  } finally {
    options.transport.close();
  }
}

/** Runs the command; returns the exit code. */
export async function deliverCommand(args: string[], io: CliIo): Promise<number> {
  if (args[0] === '--help' || args[0] === '-h') {
    io.stdout.write(DELIVER_HELP);
    return 0;
  }
  if (args.length > 0) throw new UsageError('deliver takes no arguments');
  const database = await openAccessDatabase({
    env: io.env,
    cwd: io.cwd,
    applicationName: `roster deliver (${whoAmI()})`,
  });
  try {
    const report = await deliverAndReport(database.pool, io);
    return report.failed > 0 ? 1 : 0;
  } finally {
    await database.close();
  }
}
