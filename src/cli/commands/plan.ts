/** `roster plan`: what an apply would change, for people (text, Markdown) and programs (JSON). */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError } from '../../core/errors.js';
import { type Plan, type PlanOptions } from '../../core/plan.js';
import type { DesiredRecord } from '../../core/records.js';
import { renderPlanMarkdown, renderPlanText } from '../../core/render-plan.js';
import { openAccessDatabase } from '../../store/connect.js';
import { readSnapshot } from '../../store/snapshot.js';
import type pg from 'pg';
import { planWithHistory } from '../../store/plan-history.js';
import { signPlan } from '../../store/plan-signature.js';
import { countQueued } from '../../mail/deliver.js';
import type { CliIo } from '../../command/io.js';
import { completePlan, prepareInput, type PreparedInput } from '../plan-input.js';
import { parseFormat } from '../../command/options.js';
import { whoAmI } from '../../command/session.js';
import { GUARD_HELP, PLAN_ARG_OPTIONS, planOptionsFrom } from './plan-options.js';

/** Help text of the command. */
export const PLAN_HELP = `Usage: roster plan -f PATH... [--format text|markdown|json] [-o plan.json] [--detailed-exitcode]

Compares the manifests with the access database and shows what an apply would change.
Nothing is written to the database.

Options:
  -f, --file PATH                  a file, a directory (recursive) or - for stdin
      --format FORMAT              text (default), markdown (for a pull-request comment) or json
  -o, --out FILE                   also save the plan as JSON, for "roster apply FILE"
      --detailed-exitcode          exit 2 when there are changes
${GUARD_HELP}

Exit codes: 0 no changes (or changes without --detailed-exitcode), 2 changes
(with --detailed-exitcode), 1 invalid input, a refused plan, or an error.
`;

/** Renders a plan in the requested format. */
export function renderPlan(plan: Plan, format: 'text' | 'markdown' | 'json'): string {
  if (format === 'json') return `${JSON.stringify(plan, null, 2)}\n`;
  if (format === 'markdown') return renderPlanMarkdown(plan);
  return renderPlanText(plan);
}

/**
 * The plan of `desired` against the database as it is now: the snapshot of the options' scope,
 * and what only the database knows besides it.
 */
export async function planInDatabase(
  pool: pg.Pool,
  desired: readonly DesiredRecord[],
  options: PlanOptions,
): Promise<Plan> {
  const client = await pool.connect();
  try {
    return await planWithHistory(
      client,
      desired,
      await readSnapshot(client, options.scope),
      options,
    );
  } finally {
    client.release();
  }
}

/**
 * The plan of the prepared input as shown and saved: completed to the whole input (see
 * `completePlan`), with the invitations of its scope still queued noted on it.
 */
export async function planOfInput(
  pool: pg.Pool,
  prepared: PreparedInput,
  options: { readonly basis: boolean },
): Promise<Plan> {
  const planned = await planInDatabase(pool, prepared.desired, prepared.options);
  return noteQueuedInvitations(pool, await completePlan(pool, planned, prepared, options));
}

/**
 * Adds to the plan how many invitations of its scope wait unsent in the outbox (an apply that
 * stopped after its commit leaves them behind; the plan says so instead of "No changes" alone).
 */
async function noteQueuedInvitations(pool: pg.Pool, plan: Plan): Promise<Plan> {
  const scope = plan.options.scope;
  const { queued } = await countQueued(pool, scope === 'all' ? undefined : scope);
  return queued > 0 ? { ...plan, queuedInvitations: queued } : plan;
}

/** Opens the access database on first use, for commands that may not need it (invalid input). */
export function lazyDatabase(io: CliIo, command: string) {
  let opened: Promise<Awaited<ReturnType<typeof openAccessDatabase>>> | undefined;
  return {
    pool: async () =>
      (
        await (opened ??= openAccessDatabase({
          env: io.env,
          cwd: io.cwd,
          applicationName: `roster ${command} (${whoAmI()}, pid ${process.pid})`,
        }))
      ).pool,
    close: async () => {
      if (opened !== undefined) await (await opened).close();
    },
  };
}

/** Runs the command; returns the exit code. */
export async function planCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { ...PLAN_ARG_OPTIONS, out: { type: 'string', short: 'o' } },
  });
  if (values.help === true) {
    io.stdout.write(PLAN_HELP);
    return 0;
  }
  const paths = [...(values.file ?? []), ...positionals];
  if (paths.length === 0) throw new UsageError('plan needs at least one -f PATH');
  const format = parseFormat(values.format, ['text', 'markdown', 'json'] as const);
  const now = new Date();
  const database = lazyDatabase(io, 'plan');
  let plan: Plan;
  let signature: string | undefined;
  try {
    const prepared = await prepareInput(database.pool, {
      paths,
      io,
      strict: values.strict === true,
      full: values.full === true,
      test: values.test === true,
      ...(values['lint-rules'] !== undefined && { lintRules: values['lint-rules'] }),
      options: (state) => planOptionsFrom(values, state, now),
    });
    if (prepared === undefined) return 1;
    const pool = await database.pool();
    plan = await planOfInput(pool, prepared, {
      basis: format === 'json' || values.out !== undefined,
    });
    if (values.out !== undefined && plan.refusals.length === 0) {
      signature = await signPlan(pool, plan);
    }
  } finally {
    await database.close();
  }

  io.stdout.write(renderPlan(plan, format));
  if (plan.refusals.length > 0) {
    io.stderr.write(
      `roster: the plan is refused (${plan.refusals.length} reason${plan.refusals.length === 1 ? '' : 's'} above); nothing can be applied\n`,
    );
    return 1;
  }
  if (values.out !== undefined) {
    const signed = { ...(JSON.parse(JSON.stringify(plan)) as object), signature };
    await writeFile(resolve(io.cwd, values.out), `${JSON.stringify(signed, null, 2)}\n`);
    io.stderr.write(
      `Saved the plan to ${values.out}; apply it with "roster apply ${values.out}".\n`,
    );
  }
  return plan.changes.length > 0 && values['detailed-exitcode'] === true ? 2 : 0;
}
