/** `roster test -f PATH...`: access tests (kind AccessTest) against the declared state. */
import { parseArgs } from 'node:util';
import { runAccessTests } from '../../core/access-test.js';
import { UsageError } from '../../core/errors.js';
import { DEFAULT_LIMITS } from '../../core/limits.js';
import {
  findingsReport,
  renderFindingsText,
  summarizeFindings,
} from '../../core/render-findings.js';
import { loadSourcesInThreads } from '../../files/parse-threads.js';
import { readSources } from '../../files/read-sources.js';
import type { CliIo } from '../../command/io.js';
import { parseFormat } from '../../command/options.js';

/** Help text of the command. */
export const TEST_HELP = `Usage: roster test -f PATH... [--format text|json]

Runs the access tests among the manifests: AccessTest documents list what people may and may
not do, and each is decided against the declared state (every member taken as having accepted,
the dates as of now) by the same rules as the access API, without a database:

  apiVersion: roster.dev/v1alpha1
  kind: AccessTest
  metadata: { name: acme-access }
  spec:
    expect:
      - { user: alice@acme.io, can: billing.manage, in: acme }
      - { user: bob@acme.io, cannot: members.manage, in: acme, reason: permission-not-granted }
      - { user: dave@x.io, can: resource.deploy, in: acme, resource: site/shop }
      - { user: hugo@acme.io, can: resources.view, in: acme, actingAs: bob@acme.io }

A failing expectation is reported at its file:line:column. Exit codes: 0 every expectation
holds, 1 a failure, invalid manifests, or no expectation at all.
`;

/** Runs the command; returns the exit code. */
export async function testCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      file: { type: 'string', short: 'f', multiple: true },
      format: { type: 'string', default: 'text' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    io.stdout.write(TEST_HELP);
    return 0;
  }
  const paths = [...(values.file ?? []), ...positionals];
  if (paths.length === 0) throw new UsageError('test needs at least one -f PATH');
  const format = parseFormat(values.format, ['text', 'json'] as const);
  const read = await readSources(paths, {
    cwd: io.cwd,
    maxFileBytes: DEFAULT_LIMITS.maxFileBytes,
    stdin: io.stdin,
  });
  const loaded = await loadSourcesInThreads(read.sources, {});
  const invalid = [...read.findings, ...loaded.findings];
  const failures =
    loaded.errors > 0 ? [] : runAccessTests(loaded.state, loaded.accessTests, new Date());
  const findings = [...invalid, ...failures];
  const total = loaded.accessTests.length;
  const passed = loaded.errors === 0 && failures.length === 0 && total > 0;
  if (format === 'json') {
    const report = findingsReport(findings, loaded.documents, false);
    const result = { ...report, passed, expectations: total, failed: failures.length };
    io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } else {
    io.stderr.write(renderFindingsText(findings));
    if (loaded.errors > 0) {
      io.stderr.write(
        `roster: the input is invalid (${summarizeFindings(invalid)}); no access test was run\n`,
      );
    } else if (total === 0) {
      io.stderr.write('roster: no AccessTest document in the input: nothing was tested\n');
    } else {
      io.stdout.write(
        `${passed ? 'passed' : 'failed'}: ${total} expectation${total === 1 ? '' : 's'}, ${failures.length} failed\n`,
      );
    }
  }
  return passed ? 0 : 1;
}
