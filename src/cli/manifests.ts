/** Loading manifests for a command: findings go to stderr, errors stop the command. */
import { DEFAULT_LIMITS } from '../core/limits.js';
import type { DesiredState } from '../core/model.js';
import { renderFindingsText, summarizeFindings } from '../core/render-findings.js';
import { loadSourcesInThreads } from '../files/parse-threads.js';
import { readSources } from '../files/read-sources.js';
import type { CliIo } from '../command/io.js';

/** Reads and validates `paths`; prints findings; returns the state, or undefined on errors. */
export async function loadDesiredState(
  paths: readonly string[],
  io: CliIo,
  strict = false,
): Promise<DesiredState | undefined> {
  const read = await readSources(paths, { cwd: io.cwd, stdin: io.stdin });
  const loaded = await loadSourcesInThreads(read.sources, { limits: DEFAULT_LIMITS });
  const findings = [...read.findings, ...loaded.findings];
  io.stderr.write(renderFindingsText(findings));
  const errors = loaded.errors + read.findings.length;
  if (errors > 0 || (strict && loaded.warnings > 0)) {
    io.stderr.write(
      `roster: the input is invalid (${summarizeFindings(findings)}); nothing was planned\n`,
    );
    return undefined;
  }
  return loaded.state;
}
