/** `roster invitations list|resend|revoke`: act on invitations by hand. */
import { parseArgs } from 'node:util';
import { UsageError } from '../../core/errors.js';
import { openAccessDatabase } from '../../store/connect.js';
import {
  listInvitations,
  MAX_PAGE,
  resendInvitation,
  revokeInvitation,
} from '../../store/invitations.js';
import type { CliIo } from '../../command/io.js';
import { parseFormat } from '../../command/options.js';
import { renderTable } from '../../command/table.js';
import { cliActor, whoAmI } from '../../command/session.js';
import { deliverAndReport } from './deliver.js';

/** Help text of the command. */
export const INVITATIONS_HELP = `Usage: roster invitations list   [--org NAME] [--status pending|accepted|revoked|expired] [--user EMAIL]
                                 [--limit N] [--after CURSOR] [--format text|json]
       roster invitations resend --org NAME --user EMAIL [--resource TYPE/NAME]
       roster invitations revoke --org NAME --user EMAIL [--resource TYPE/NAME]

list shows each invitation with its delivery state, newest first, --limit (default 100, at
most 1000) at a time; the next page is --after the cursor it prints (JSON: "next"). resend
sends a new link (earlier links stop working) and delivers it at once. revoke withdraws a
pending invitation.
`;

/** Runs the command; returns the exit code. */
export async function invitationsCommand(args: string[], io: CliIo): Promise<number> {
  const [action, ...rest] = args;
  if (action === undefined || action === '--help' || action === '-h') {
    io.stdout.write(INVITATIONS_HELP);
    return 0;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      org: { type: 'string' },
      user: { type: 'string' },
      resource: { type: 'string' },
      status: { type: 'string' },
      limit: { type: 'string' },
      after: { type: 'string' },
      format: { type: 'string', default: 'text' },
    },
  });
  if (!['list', 'resend', 'revoke'].includes(action)) {
    throw new UsageError(`unknown action "${action}": list, resend or revoke`);
  }
  const format = parseFormat(values.format, ['text', 'json'] as const);
  const database = await openAccessDatabase({
    env: io.env,
    cwd: io.cwd,
    applicationName: `roster invitations (${whoAmI()})`,
  });
  try {
    if (action === 'list') {
      const page = await listInvitations(
        database.pool,
        {
          ...(values.org !== undefined && { org: values.org }),
          ...(values.status !== undefined && { status: values.status }),
          ...(values.user !== undefined && { user: values.user }),
        },
        {
          ...(values.limit !== undefined && { limit: pageSize(values.limit) }),
          ...(values.after !== undefined && { after: values.after }),
        },
      );
      const rows = page.invitations;
      if (format === 'json') {
        io.stdout.write(`${JSON.stringify(page, null, 2)}\n`);
      } else if (rows.length === 0) {
        io.stdout.write('No invitations.\n');
      } else {
        const table = [['ORG', 'USER', 'ROLE', 'RESOURCE', 'STATUS', 'EXPIRES', 'DELIVERY']].concat(
          rows.map((r) => [
            r.org,
            r.user,
            r.role,
            r.resource ?? '-',
            r.status,
            r.expiresAt ?? '-',
            r.delivery,
          ]),
        );
        io.stdout.write(renderTable(table));
        if (page.next !== null) {
          io.stdout.write(`More: the same command with --after ${page.next}\n`);
        }
      }
      return 0;
    }
    if (values.org === undefined || values.user === undefined) {
      throw new UsageError(`invitations ${action} needs --org NAME and --user EMAIL`);
    }
    const target = {
      org: values.org,
      user: values.user,
      ...(values.resource !== undefined && { resource: values.resource }),
    };
    if (action === 'revoke') {
      const revoked = await revokeInvitation(database.pool, target, cliActor(io));
      io.stdout.write(
        revoked === 0
          ? `No pending invitation of ${values.user} in ${values.org}.\n`
          : `Revoked ${revoked} invitation${revoked === 1 ? '' : 's'}.\n`,
      );
      return revoked === 0 ? 1 : 0;
    }
    const queued = await resendInvitation(database.pool, target, cliActor(io));
    if (queued === 0) {
      io.stdout.write(
        `No pending or expired invitation of ${values.user} in ${values.org} to re-send.\n`,
      );
      return 1;
    }
    const report = await deliverAndReport(database.pool, io);
    return report.failed > 0 ? 1 : 0;
  } finally {
    await database.close();
  }
}

/** `--limit N`: a whole number of rows per page, 1 to MAX_PAGE. */
function pageSize(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > MAX_PAGE) {
    throw new UsageError(`--limit must be a whole number from 1 to ${MAX_PAGE}, not "${text}"`);
  }
  return n;
}
