/** `--lint-rules FILE` (or `ROSTER_LINT_RULES`): the least-privilege rules a command checks with. */
import type { CliIo } from './io.js';
import type { Finding } from '../core/findings.js';
import type { LeastPrivilegePolicy } from '../core/least-privilege.js';
import { renderFindingsText } from '../core/render-findings.js';
import { readLintRules } from '../files/lint-rules.js';

/** Help text of the option. */
export const LINT_RULES_HELP = `      --lint-rules FILE            least-privilege rules to check roles with (docs/format.md);
                                   default: ROSTER_LINT_RULES, else Roster's own rules`;

/** The rules file the flag or the environment names, read and checked. */
export async function resolveLintRules(
  flag: string | undefined,
  io: CliIo,
): Promise<{ path?: string; policy?: LeastPrivilegePolicy; findings: readonly Finding[] }> {
  const path = flag ?? (io.env.ROSTER_LINT_RULES || undefined);
  if (path === undefined) return { findings: [] };
  return { path, ...(await readLintRules(path, io.cwd)) };
}

/** What a command says when its rules file is invalid, after the findings. */
export const invalidRulesMessage = (path: string) =>
  `roster: the lint rules in ${path} are invalid; nothing was checked\n`;

/**
 * The policy the flag or the environment names (`undefined`: Roster's own rules), or `null` when
 * the rules file is invalid: its findings are printed, and the command stops.
 */
export async function leastPrivilegeOption(
  flag: string | undefined,
  io: CliIo,
): Promise<LeastPrivilegePolicy | undefined | null> {
  const { path, policy, findings } = await resolveLintRules(flag, io);
  if (path === undefined || policy !== undefined) return policy;
  io.stderr.write(renderFindingsText(findings));
  io.stderr.write(invalidRulesMessage(path));
  return null;
}
