/**
 * The `roster` command line: dispatches to a command and turns every failure into a message and
 * an exit code. No stack trace reaches a user unless ROSTER_DEBUG is set.
 */
import { RosterError, UsageError } from './core/errors.js';
import { apiKeysCommand, API_KEYS_HELP } from './cli/commands/api-keys.js';
import { applyCommand, APPLY_HELP } from './cli/commands/apply.js';
import { deliverCommand, DELIVER_HELP } from './cli/commands/deliver.js';
import { invitationsCommand, INVITATIONS_HELP } from './cli/commands/invitations.js';
import {
  auditCommand,
  AUDIT_HELP,
  checkCommand,
  CHECK_HELP,
  contactsCommand,
  CONTACTS_HELP,
  membersCommand,
  MEMBERS_HELP,
  orgsCommand,
  ORGS_HELP,
  reviewCommand,
  REVIEW_HELP,
} from './cli/commands/views.js';
import { operatorCommand, OPERATOR_HELP } from './operator/command.js';
import { serveCommand, SERVE_HELP } from './server/command.js';
import { dbCommand, DB_HELP } from './cli/commands/db.js';
import { exportCommand, EXPORT_HELP } from './cli/commands/export.js';
import { planCommand, PLAN_HELP } from './cli/commands/plan.js';
import { testCommand, TEST_HELP } from './cli/commands/test.js';
import { validateCommand, VALIDATE_HELP } from './cli/commands/validate.js';
import type { CliIo } from './command/io.js';
import { ROSTER_VERSION } from './version.js';

const HELP = `roster ${ROSTER_VERSION}: access as code

Usage: roster COMMAND [options]

Commands:
  validate -f PATH...   check manifests: schema, references, ownership, plan limits
  test -f PATH...       run the access tests (kind AccessTest) against the declared state
  plan -f PATH...       show what an apply would change (text, markdown, json)
  apply -f PATH... --yes
                        apply the manifests to the access database (dry run without --yes)
  apply PLAN.json       apply a plan saved by "plan -o"
  export [--org NAME]   write the database as manifests
  deliver               send queued invitation e-mails
  invitations list|resend|revoke
                        see and act on invitations
  members --org ORG     an organization's members: status, joined, invited by, last change
  orgs --user EMAIL     the organizations a person can switch to
  contacts --org ORG    who receives an organization's mail (of a category)
  check USER PERMISSION --org ORG
                        may USER do it? the decision and its reason (exit 3 when denied)
  audit                 who changed what, when, from where (--org, --user, --since, --until)
  review --org ORG      an access review: an HTML page and a CSV of who has access, via what
  serve [--port N]      invitation pages, access API, health and metrics
  api-keys create|list|revoke
                        keys for the access API
  operator              reconcile Roster's Kubernetes custom resources continuously
  db migrate            apply pending database migrations
  version               print the version

DATABASE_URL selects the access database (any PostgreSQL 13+); without it, an embedded
PostgreSQL is kept in .roster/ of the working directory. SMTP_URL selects the mail server;
without it, invitations are written as .eml files under .roster/outbox/.

Run "roster COMMAND --help" for a command's options.
Exit codes: 0 success, 1 error or refusal, 2 changes present (with --detailed-exitcode),
3 access denied (check).
`;

type Command = (args: string[], io: CliIo) => Promise<number>;

const COMMANDS: Record<string, { run: Command; help: string }> = {
  validate: { run: validateCommand, help: VALIDATE_HELP },
  test: { run: testCommand, help: TEST_HELP },
  plan: { run: planCommand, help: PLAN_HELP },
  apply: { run: applyCommand, help: APPLY_HELP },
  export: { run: exportCommand, help: EXPORT_HELP },
  db: { run: dbCommand, help: DB_HELP },
  deliver: { run: deliverCommand, help: DELIVER_HELP },
  invitations: { run: invitationsCommand, help: INVITATIONS_HELP },
  members: { run: membersCommand, help: MEMBERS_HELP },
  orgs: { run: orgsCommand, help: ORGS_HELP },
  contacts: { run: contactsCommand, help: CONTACTS_HELP },
  check: { run: checkCommand, help: CHECK_HELP },
  audit: { run: auditCommand, help: AUDIT_HELP },
  review: { run: reviewCommand, help: REVIEW_HELP },
  serve: { run: serveCommand, help: SERVE_HELP },
  'api-keys': { run: apiKeysCommand, help: API_KEYS_HELP },
  operator: { run: operatorCommand, help: OPERATOR_HELP },
};

/** Runs `roster` with `argv` (without the node and script paths); returns the exit code. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...args] = argv;
  try {
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      const topic = name === 'help' ? args[0] : undefined;
      io.stdout.write(topic !== undefined && COMMANDS[topic] ? COMMANDS[topic].help : HELP);
      return 0;
    }
    if (name === 'version' || name === '--version') {
      io.stdout.write(`${ROSTER_VERSION}\n`);
      return 0;
    }
    const command = COMMANDS[name];
    if (command === undefined) {
      throw new UsageError(`unknown command "${name}"; run "roster --help" for the list`);
    }
    return await command.run(args, io);
  } catch (error) {
    return reportFailure(error, io);
  }
}

function reportFailure(error: unknown, io: CliIo): number {
  const debug = io.env.ROSTER_DEBUG !== undefined && io.env.ROSTER_DEBUG !== '';
  if (error instanceof RosterError) {
    io.stderr.write(`roster: ${error.message}\n`);
    if (error instanceof UsageError) io.stderr.write('Run "roster --help" for usage.\n');
  } else if (isParseArgsError(error)) {
    io.stderr.write(`roster: ${error.message}\nRun "roster --help" for usage.\n`);
  } else {
    const message = error instanceof Error ? error.message : String(error);
    io.stderr.write(
      `roster: internal error: ${message}\n` +
        (debug ? '' : 'This is a bug in Roster; set ROSTER_DEBUG=1 to see where it happened.\n'),
    );
  }
  if (debug && error instanceof Error && error.stack !== undefined) {
    io.stderr.write(`${error.stack}\n`);
  }
  return 1;
}

function isParseArgsError(error: unknown): error is Error {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}
