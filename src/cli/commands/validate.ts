/** `roster validate -f PATH... [--format text|json] [--strict]`. */
import { parseArgs } from 'node:util';
import { UsageError } from '../../core/errors.js';
import { DEFAULT_LIMITS } from '../../core/limits.js';
import { loadSourcesInThreads } from '../../files/parse-threads.js';
import {
  findingsReport,
  renderFindingsText,
  summarizeFindings,
} from '../../core/render-findings.js';
import { readSources } from '../../files/read-sources.js';
import type { CliIo } from '../../command/io.js';
import { invalidRulesMessage, resolveLintRules } from '../../command/lint-rules.js';
import { parseFormat, parseSize } from '../../command/options.js';

/** Help text of the command. */
export const VALIDATE_HELP = `Usage: roster validate -f PATH... [--format text|json] [--strict] [--lint-rules FILE]

Checks manifests without touching any database: schema, references, ownership,
plan seats and features, expiry, e-mail addresses.

Options:
  -f, --file PATH        a file, a directory (recursive, *.yaml and *.yml) or - for stdin;
                         repeat it, or list more paths after it
      --format FORMAT    text (default) or json
      --strict           warnings fail the run too
      --max-file-size N  largest file accepted, e.g. 8MiB (default ${DEFAULT_LIMITS.maxFileBytes / 1024 / 1024}MiB)
      --lint-rules FILE  least-privilege rules to check roles with (docs/format.md);
                         default: ROSTER_LINT_RULES, else Roster's own rules

Exit codes: 0 valid, 1 errors (or warnings with --strict).
`;

/** Runs the command; returns the exit code. */
export async function validateCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      file: { type: 'string', short: 'f', multiple: true },
      format: { type: 'string', default: 'text' },
      strict: { type: 'boolean', default: false },
      'max-file-size': { type: 'string' },
      'lint-rules': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    io.stdout.write(VALIDATE_HELP);
    return 0;
  }
  const paths = [...(values.file ?? []), ...positionals];
  if (paths.length === 0) throw new UsageError('validate needs at least one -f PATH');
  const format = parseFormat(values.format, ['text', 'json'] as const);
  const limits = {
    ...DEFAULT_LIMITS,
    ...(values['max-file-size'] !== undefined && {
      maxFileBytes: parseSize(values['max-file-size'], '--max-file-size'),
    }),
  };

  const rules = await resolveLintRules(values['lint-rules'], io);
  if (rules.path !== undefined && rules.policy === undefined) {
    // An invalid rules file: its findings, in the format asked for; nothing else is checked.
    if (format === 'json') {
      const report = findingsReport(rules.findings, 0, values.strict === true);
      io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    } else {
      io.stderr.write(renderFindingsText(rules.findings));
      io.stderr.write(invalidRulesMessage(rules.path));
    }
    return 1;
  }
  const leastPrivilege = rules.policy;
  const read = await readSources(paths, {
    cwd: io.cwd,
    maxFileBytes: limits.maxFileBytes,
    stdin: io.stdin,
  });
  const loaded = await loadSourcesInThreads(read.sources, {
    limits,
    ...(leastPrivilege !== undefined && { leastPrivilege }),
  });
  const findings = [...read.findings, ...loaded.findings];
  const report = findingsReport(findings, loaded.documents, values.strict === true);

  if (format === 'json') {
    io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    io.stderr.write(renderFindingsText(findings));
    const files = read.sources.length;
    const outcome = report.valid ? 'valid' : 'invalid';
    io.stdout.write(
      `${outcome}: ${loaded.documents} document${loaded.documents === 1 ? '' : 's'} in ${files} file${files === 1 ? '' : 's'}, ${summarizeFindings(findings)}\n`,
    );
  }
  return report.valid ? 0 : 1;
}
