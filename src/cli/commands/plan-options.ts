/** Options shared by `plan` and `apply`: inputs, output, and the guards of a plan. */
import { UsageError } from '../../core/errors.js';
import { LINT_RULES_HELP } from '../../command/lint-rules.js';
import { CLI_MANAGER, DEFAULT_MAX_ORG_REMOVAL_RATIO, type PlanOptions } from '../../core/plan.js';
import type { DesiredState } from '../../core/model.js';

/** The `parseArgs` options both commands take. */
export const PLAN_ARG_OPTIONS = {
  file: { type: 'string', short: 'f', multiple: true },
  format: { type: 'string', default: 'text' },
  prune: { type: 'boolean', default: false },
  'prune-all': { type: 'boolean', default: false },
  'max-removals': { type: 'string' },
  'max-org-removal-ratio': { type: 'string' },
  'detailed-exitcode': { type: 'boolean', default: false },
  strict: { type: 'boolean', default: false },
  full: { type: 'boolean', default: false },
  test: { type: 'boolean', default: false },
  'lint-rules': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Help text for the guard options. */
export const GUARD_HELP = `      --prune                      also delete, in the input's organizations, what it does not
                                   declare: access made outside Roster, a former owner
      --prune-all                  --prune, and also delete organizations, plans, roles and users
                                   absent from the input
      --max-removals N             refuse a plan that deletes more than N records
      --max-org-removal-ratio R    refuse a plan that removes more than this share of an
                                   organization's members (default ${DEFAULT_MAX_ORG_REMOVAL_RATIO})
      --strict                     warnings in the input fail the command too
      --full                       read every file and plan every organization (by default,
                                   only what changed since the last apply is read and planned)
      --test                       also run the access tests among the input (kind AccessTest)
                                   against the state the plan leaves; a failure stops it (reads
                                   the whole input, as --full)
${LINT_RULES_HELP}`;

/** Builds the planner's options from the flags and the input. */
export function planOptionsFrom(
  values: {
    prune?: boolean;
    'prune-all'?: boolean;
    'max-removals'?: string;
    'max-org-removal-ratio'?: string;
  },
  state: DesiredState,
  now: Date,
): PlanOptions {
  const maxRemovals =
    values['max-removals'] === undefined ? undefined : Number(values['max-removals']);
  if (maxRemovals !== undefined && (!Number.isInteger(maxRemovals) || maxRemovals < 0)) {
    throw new UsageError(`--max-removals must be a whole number, not "${values['max-removals']}"`);
  }
  const ratio =
    values['max-org-removal-ratio'] === undefined
      ? DEFAULT_MAX_ORG_REMOVAL_RATIO
      : Number(values['max-org-removal-ratio']);
  if (!(ratio >= 0 && ratio <= 1)) {
    throw new UsageError(
      `--max-org-removal-ratio must be between 0 and 1, not "${values['max-org-removal-ratio']}"`,
    );
  }
  const pruneAbsent = values['prune-all'] === true;
  const prune = values.prune === true || pruneAbsent;
  return {
    manager: CLI_MANAGER,
    prune,
    pruneAbsent,
    ...(maxRemovals !== undefined && { maxRemovals }),
    maxOrgRemovalRatio: ratio,
    now,
    scope: pruneAbsent ? 'all' : [...state.organizations.keys()].sort(),
  };
}
