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
import { initCommand, INIT_HELP } from './cli/commands/init.js';
import { completionCommand, COMPLETION_HELP } from './cli/commands/completion.js';
import type { CompletedCommand } from './command/completion.js';
import type { CliIo } from './command/io.js';
import { ROSTER_VERSION } from './version.js';

/** What `roster --help` says around the list of commands. */
const HELP_HEAD = `roster ${ROSTER_VERSION}: access as code

Usage: roster COMMAND [options]

Commands:
`;
const HELP_TAIL = `
DATABASE_URL selects the access database (any PostgreSQL 13+); without it, an embedded
PostgreSQL is kept in .roster/ of the working directory. SMTP_URL selects the mail server;
without it, invitations are written as .eml files under .roster/outbox/.

Run "roster COMMAND --help" for a command's options.
Exit codes: 0 success, 1 error or refusal, 2 changes present (with --detailed-exitcode),
3 access denied (check).
`;

type Command = (args: string[], io: CliIo) => Promise<number>;

interface CommandEntry {
  readonly run: Command;
  readonly help: string;
  /** How the command list of `roster --help` shows it (one line or more). */
  readonly usage: readonly string[];
  /** What it does, in one line (also the shells' completion descriptions). */
  readonly summary: string;
}

const COMMANDS: Record<string, CommandEntry> = {
  init: {
    run: initCommand,
    help: INIT_HELP,
    usage: ['init [DIR]'],
    summary: 'start a repository of manifests: plan, role, organization, test, CI',
  },
  validate: {
    run: validateCommand,
    help: VALIDATE_HELP,
    usage: ['validate -f PATH...'],
    summary: 'check manifests: schema, references, ownership, plan limits',
  },
  test: {
    run: testCommand,
    help: TEST_HELP,
    usage: ['test -f PATH...'],
    summary: 'run the access tests (kind AccessTest) against the declared state',
  },
  plan: {
    run: planCommand,
    help: PLAN_HELP,
    usage: ['plan -f PATH...'],
    summary: 'show what an apply would change (text, markdown, json)',
  },
  apply: {
    run: applyCommand,
    help: APPLY_HELP,
    usage: ['apply -f PATH... --yes', 'apply PLAN.json'],
    summary: 'apply the manifests (or a saved plan) to the access database',
  },
  export: {
    run: exportCommand,
    help: EXPORT_HELP,
    usage: ['export [--org NAME]'],
    summary: 'write the database as manifests',
  },
  deliver: {
    run: deliverCommand,
    help: DELIVER_HELP,
    usage: ['deliver'],
    summary: 'send queued invitation e-mails',
  },
  invitations: {
    run: invitationsCommand,
    help: INVITATIONS_HELP,
    usage: ['invitations list|resend|revoke'],
    summary: 'see and act on invitations',
  },
  members: {
    run: membersCommand,
    help: MEMBERS_HELP,
    usage: ['members --org ORG'],
    summary: "an organization's members: status, joined, invited by, last change",
  },
  orgs: {
    run: orgsCommand,
    help: ORGS_HELP,
    usage: ['orgs --user EMAIL'],
    summary: 'the organizations a person can switch to',
  },
  contacts: {
    run: contactsCommand,
    help: CONTACTS_HELP,
    usage: ['contacts --org ORG'],
    summary: "who receives an organization's mail (of a category)",
  },
  check: {
    run: checkCommand,
    help: CHECK_HELP,
    usage: ['check USER PERMISSION --org ORG'],
    summary: 'may USER do it? the decision and its reason (exit 3 when denied)',
  },
  audit: {
    run: auditCommand,
    help: AUDIT_HELP,
    usage: ['audit'],
    summary: 'who changed what, when, from where (--org, --user, --since, --until)',
  },
  review: {
    run: reviewCommand,
    help: REVIEW_HELP,
    usage: ['review --org ORG'],
    summary: 'an access review: an HTML page and a CSV of who has access, via what',
  },
  serve: {
    run: serveCommand,
    help: SERVE_HELP,
    usage: ['serve [--port N]'],
    summary: 'invitation pages, access API, health and metrics',
  },
  'api-keys': {
    run: apiKeysCommand,
    help: API_KEYS_HELP,
    usage: ['api-keys create|list|revoke'],
    summary: 'keys for the access API',
  },
  operator: {
    run: operatorCommand,
    help: OPERATOR_HELP,
    usage: ['operator'],
    summary: "reconcile Roster's Kubernetes custom resources continuously",
  },
  db: {
    run: dbCommand,
    help: DB_HELP,
    usage: ['db migrate'],
    summary: 'apply pending database migrations',
  },
  completion: {
    run: (args, io) => completionCommand(args, io, completedCommands()),
    help: COMPLETION_HELP,
    usage: ['completion bash|zsh|fish'],
    summary: 'print shell completion for roster',
  },
};

/** The commands as shell completion knows them, `version` and `help` included. */
function completedCommands(): CompletedCommand[] {
  return [
    ...Object.entries(COMMANDS).map(([name, { help, summary }]) => ({ name, help, summary })),
    { name: 'version', help: '', summary: 'print the version' },
    { name: 'help', help: '', summary: "a command's options: roster help COMMAND" },
  ];
}

/** `roster --help`: the command list, each usage with its summary in a column. */
function topHelp(): string {
  const lines: string[] = [];
  for (const { usage, summary } of Object.values(COMMANDS)) {
    const last = usage[usage.length - 1] ?? '';
    for (const line of usage.slice(0, -1)) lines.push(`  ${line}`);
    if (last.length <= 20) lines.push(`  ${last.padEnd(22)}${summary}`);
    else lines.push(`  ${last}`, `${' '.repeat(24)}${summary}`);
  }
  lines.push(`  ${'version'.padEnd(22)}print the version`);
  return `${HELP_HEAD}${lines.join('\n')}\n${HELP_TAIL}`;
}

/** Runs `roster` with `argv` (without the node and script paths); returns the exit code. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...args] = argv;
  try {
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      const topic = name === 'help' ? args[0] : undefined;
      io.stdout.write(topic !== undefined && COMMANDS[topic] ? COMMANDS[topic].help : topHelp());
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
