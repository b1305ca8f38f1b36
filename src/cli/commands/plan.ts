/** `roster plan`: what an apply would change, for people (text, Markdown) and programs (JSON). */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError } from '../../core/errors.js';
import { type Plan, type PlanOptions } from '../../core/plan.js';
import { desiredRecords, type DesiredRecord } from '../../core/records.js';
import { renderPlanMarkdown, renderPlanText } from '../../core/render-plan.js';
import { openAccessDatabase } from '../../store/connect.js';
import { readSnapshot } from '../../store/snapshot.js';
import type pg from 'pg';
import { planWithHistory } from '../../store/plan-history.js';
import { signPlan } from '../../store/plan-signature.js';
import { countQueued } from '../../mail/deliver.js';
import type { CliIo } from '../../command/io.js';
import { loadDesiredState } from '../manifests.js';
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
 * The plan of `desired` against the database as it is now (the snapshot of the options' scope,
 * and what only the database knows besides it), with the invitations still queued noted on it.
 */
export async function planInDatabase(
  pool: pg.Pool,
  desired: readonly DesiredRecord[],
  options: PlanOptions,
): Promise<Plan> {
  const client = await pool.connect();
  let plan: Plan;
  try {
    plan = await planWithHistory(
      client,
      desired,
      await readSnapshot(client, options.scope),
      options,
    );
  } finally {
    client.release();
  }
  await noteQueuedInvitations(pool, plan);
  return plan;
}

/**
 * Adds to the plan how many invitations of its scope wait unsent in the outbox (an apply that
 * stopped after its commit leaves them behind; the plan says so instead of "No changes" alone).
 */
async function noteQueuedInvitations(pool: pg.Pool, plan: Plan): Promise<void> {
  const scope = plan.options.scope;
  const { queued } = await countQueued(pool, scope === 'all' ? undefined : scope);
  // Assigned, not spread: spreading would compute the plan's lazy basis fingerprint.
  if (queued > 0) Object.assign(plan, { queuedInvitations: queued });
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
  const state = await loadDesiredState(paths, io, values.strict === true);
  if (state === undefined) return 1;
  const options = planOptionsFrom(values, state, new Date());

  const database = await openAccessDatabase({
    env: io.env,
    cwd: io.cwd,
    applicationName: `roster plan (${whoAmI()}, pid ${process.pid})`,
  });
  let plan: Plan;
  let signature: string | undefined;
  try {
    plan = await planInDatabase(database.pool, desiredRecords(state), options);
    if (values.out !== undefined && plan.refusals.length === 0) {
      signature = await signPlan(database.pool, plan);
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
