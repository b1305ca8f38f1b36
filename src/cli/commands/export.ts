/** `roster export`: the live state as manifests, one file per organization. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { RosterError } from '../../core/errors.js';
import { exportManifests } from '../../core/export.js';
import { openAccessDatabase } from '../../store/connect.js';
import { readSnapshot } from '../../store/snapshot.js';
import type { CliIo } from '../../command/io.js';
import { whoAmI } from '../../command/session.js';

/** Help text of the command. */
export const EXPORT_HELP = `Usage: roster export [--org NAME] [-o DIR]

Writes the access database as manifests: plans.yaml, roles.yaml, users.yaml and one file per
organization. Without -o, prints them to stdout as one multi-document stream.
"roster plan" over an export shows no changes.
`;

/** Runs the command; returns the exit code. */
export async function exportCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      org: { type: 'string' },
      out: { type: 'string', short: 'o' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    io.stdout.write(EXPORT_HELP);
    return 0;
  }
  const database = await openAccessDatabase({
    env: io.env,
    cwd: io.cwd,
    applicationName: `roster export (${whoAmI()}, pid ${process.pid})`,
  });
  let files: Map<string, string>;
  try {
    const client = await database.pool.connect();
    try {
      const scope = values.org === undefined ? 'all' : [values.org];
      files = exportManifests(await readSnapshot(client, scope), {
        ...(values.org !== undefined && { org: values.org }),
      });
    } finally {
      client.release();
    }
  } finally {
    await database.close();
  }
  if (values.org !== undefined && !files.has(`${values.org}.yaml`)) {
    throw new RosterError(
      'unknown-organization',
      `no organization "${values.org}" in the database`,
    );
  }
  if (values.out === undefined) {
    io.stdout.write([...files.values()].join('---\n'));
    return 0;
  }
  const directory = resolve(io.cwd, values.out);
  await mkdir(directory, { recursive: true });
  for (const [name, text] of files) await writeFile(join(directory, name), text);
  io.stderr.write(`Exported ${files.size} file${files.size === 1 ? '' : 's'} to ${values.out}\n`);
  return 0;
}
