/**
 * `roster apply`: a dry run unless confirmed with --yes; or the apply of a saved plan, refused if
 * the database changed since it was made.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { RosterError, UsageError } from '../../core/errors.js';
import { PLAN_FORMAT_VERSION, type Plan } from '../../core/plan.js';
import { applyChanges, type ApplyContext, type ApplyInput } from '../../store/apply.js';
import { verifyPlanSignature } from '../../store/plan-signature.js';
import type { CliIo } from '../../command/io.js';
import { completePlan, prepareInput, recorder, type PreparedInput } from '../plan-input.js';
import { parseDuration, parseFormat } from '../../command/options.js';
import { ciContext, cliActor, currentCommit } from '../../command/session.js';
import type pg from 'pg';
import { countQueued } from '../../mail/deliver.js';
import { deliverAndReport, describeQueued } from './deliver.js';
import { localizationFrom, type Localization } from '../../command/localization.js';
import { lazyDatabase, planOfInput, renderPlan } from './plan.js';
import { GUARD_HELP, PLAN_ARG_OPTIONS, planOptionsFrom } from './plan-options.js';

/** Help text of the command. */
export const APPLY_HELP = `Usage: roster apply -f PATH... --yes   (without --yes: a dry run)
       roster apply PLAN.json           (a plan saved by "roster plan -o")

Applies the manifests to the access database in one transaction, serialised with any other
apply by a lock. Invitations for new members are queued in the same transaction.

Options:
  -f, --file PATH                  a file, a directory (recursive) or - for stdin
      --yes                        apply; without it, only show the plan
      --format FORMAT              how to show the plan: text (default), markdown or json
      --detailed-exitcode          exit 2 when a dry run has changes
      --no-deliver                 queue invitations without sending them (see "roster deliver")
      --deliver-timeout DURATION   send queued invitations for at most this long after the
                                   commit (default 10s); the rest stay queued for
                                   "roster deliver" or "roster serve"
      --wait-for-lock DURATION     wait this long for another apply to finish (default: fail at
                                   once, naming the holder)
${GUARD_HELP}

Exit codes: 0 applied or nothing to do, 2 changes pending in a dry run (with
--detailed-exitcode), 1 invalid input, a refused or stale plan, a held lock, or an error.
`;

/** Runs the command; returns the exit code. */
export async function applyCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ...PLAN_ARG_OPTIONS,
      yes: { type: 'boolean', default: false },
      'no-deliver': { type: 'boolean', default: false },
      'deliver-timeout': { type: 'string', default: '10s' },
      'wait-for-lock': { type: 'string' },
    },
  });
  if (values.help === true) {
    io.stdout.write(APPLY_HELP);
    return 0;
  }
  const format = parseFormat(values.format, ['text', 'markdown', 'json'] as const);
  const deliverTimeoutMs = parseDuration(values['deliver-timeout'], '--deliver-timeout');
  const lockWaitMs =
    values['wait-for-lock'] === undefined
      ? undefined
      : parseDuration(values['wait-for-lock'], '--wait-for-lock');
  const files = values.file ?? [];
  // The language and brand of the invitations it will send are checked before anything is
  // applied: a bad catalogue must not leave a committed apply with its mail unsendable.
  const localization =
    values['no-deliver'] !== true && values.yes === true
      ? await localizationFrom(io.env, io.cwd)
      : undefined;
  const database = lazyDatabase(io, 'apply');
  try {
    let input: ApplyInput;
    let prepared: PreparedInput | undefined;
    if (files.length === 0) {
      if (positionals.length !== 1) {
        throw new UsageError('apply needs -f PATH... --yes, or the path of one saved plan');
      }
      const savedPath = positionals[0] ?? '';
      const plan = await readSavedPlan(resolve(io.cwd, savedPath));
      await verifyPlanSignature(
        await database.pool(),
        plan as unknown as Record<string, unknown>,
        savedPath,
      );
      input = { plan };
    } else {
      const now = new Date();
      prepared = await prepareInput(database.pool, {
        paths: [...files, ...positionals],
        io,
        strict: values.strict === true,
        full: values.full === true,
        test: values.test === true,
        ...(values['lint-rules'] !== undefined && { lintRules: values['lint-rules'] }),
        options: (state) => planOptionsFrom(values, state, now),
      });
      if (prepared === undefined) return 1;
      input = { desired: prepared.desired, options: prepared.options };
    }
    const pool = await database.pool();

    if (prepared !== undefined && values.yes !== true) {
      const plan = await planOfInput(pool, prepared, { basis: format === 'json' });
      io.stdout.write(renderPlan(plan, format));
      if (plan.refusals.length > 0) return 1;
      if (plan.changes.length > 0) {
        io.stderr.write('Dry run: nothing was applied. Run again with --yes to apply this plan.\n');
      }
      return plan.changes.length > 0 && values['detailed-exitcode'] === true ? 2 : 0;
    }

    const commit = currentCommit(io);
    const progress = progressLine(io);
    // The person behind a CI run where the CI says, the machine's user otherwise.
    const ci = ciContext(io.env);
    const context: ApplyContext = {
      actor: cliActor(io),
      source: { ...ci.source, ...(commit !== undefined && { commit }) },
      ...(progress !== undefined && { onProgress: progress.update }),
      ...(lockWaitMs !== undefined && { lockWaitMs }),
      ...testPause(io),
    };
    const record = prepared === undefined ? undefined : recorder(prepared);
    let result: Awaited<ReturnType<typeof applyChanges>>;
    try {
      result = await applyChanges(pool, input, {
        ...context,
        ...(record !== undefined && { record }),
      });
    } finally {
      progress?.end();
    }
    const applied =
      prepared === undefined
        ? result.plan
        : await completePlan(pool, result.plan, prepared, { basis: false });
    io.stdout.write(renderPlan(applied, format));
    if (applied.changes.length > 0 && format !== 'json') {
      const { add, change, destroy } = applied.summary;
      io.stdout.write(
        `Apply complete: ${add} added, ${change} changed, ${destroy} destroyed (${result.rowsWritten} rows written); ${applied.invitations.length} invitation${applied.invitations.length === 1 ? '' : 's'} queued.\n`,
      );
    }
    await deliverAfterApply(pool, io, {
      out: format === 'json' ? io.stderr : io.stdout,
      deliver: values['no-deliver'] !== true,
      deadlineMs: deliverTimeoutMs,
      localization,
    });
    return 0;
  } finally {
    await database.close();
  }
}

/**
 * After the commit: sends what the outbox holds (this apply's invitations, and any an earlier run
 * left queued) for at most `deadlineMs`, and says what stays queued. Never fails the apply: it is
 * committed, and what was not sent is still in the outbox.
 */
async function deliverAfterApply(
  pool: pg.Pool,
  io: CliIo,
  options: {
    out: NodeJS.WritableStream;
    deliver: boolean;
    deadlineMs: number;
    localization: Localization | undefined;
  },
): Promise<void> {
  try {
    const { queued, held } = await countQueued(pool);
    if (queued === 0) return;
    if (!options.deliver) {
      options.out.write(`${describeQueued(queued, held)}\n`);
      return;
    }
    await deliverAndReport(
      pool,
      io,
      options.out,
      { deadlineMs: options.deadlineMs },
      options.localization,
    );
  } catch (error) {
    io.stderr.write(
      `roster: the apply is committed, but delivering invitations failed: ${(error as Error).message}. They stay queued: run "roster deliver".\n`,
    );
  }
}

/**
 * A progress line on a terminal (`Applying: 3/9 memberships`), ended with a newline once done or
 * when the apply fails, so that an error never starts in the middle of it.
 */
function progressLine(
  io: CliIo,
): { update: (done: number, total: number, what: string) => void; end: () => void } | undefined {
  if (io.stderr.isTTY !== true) return undefined;
  let open = false;
  return {
    update: (done, total, what) => {
      open = done !== total;
      io.stderr.write(`\rApplying: ${done}/${total} ${what}\u001b[K${open ? '' : '\n'}`);
    },
    end: () => {
      if (open) io.stderr.write('\n');
      open = false;
    },
  };
}

/** Reads a plan saved by `roster plan -o`, checking it is one. */
async function readSavedPlan(path: string): Promise<Plan> {
  let plan: Partial<Plan>;
  try {
    plan = JSON.parse(await readFile(path, 'utf8')) as Partial<Plan>;
  } catch (error) {
    throw new RosterError(
      'saved-plan',
      `cannot read the saved plan ${path}: ${(error as Error).message}`,
    );
  }
  if (
    plan?.formatVersion !== PLAN_FORMAT_VERSION ||
    typeof plan.basis !== 'string' ||
    !Array.isArray(plan.changes) ||
    typeof plan.options !== 'object'
  ) {
    throw new RosterError(
      'saved-plan',
      `${path} is not a plan saved by "roster plan -o" (format version ${PLAN_FORMAT_VERSION})`,
    );
  }
  return plan as Plan;
}

/**
 * Fault injection for the test suite only: ROSTER_TEST_PAUSE_BEFORE_COMMIT_MS holds the apply
 * transaction open just before COMMIT, so a test can kill the process or race a second apply.
 */
function testPause(io: CliIo): Pick<ApplyContext, 'beforeCommit'> {
  const ms = Number(io.env.ROSTER_TEST_PAUSE_BEFORE_COMMIT_MS ?? '');
  if (!(ms > 0)) return {};
  return {
    beforeCommit: async () => {
      io.stderr.write('roster: paused before commit\n');
      await sleep(ms);
    },
  };
}
