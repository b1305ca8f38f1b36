/**
 * `roster init [DIR]`: scaffolds a repository of manifests that validates, tests and plans as
 * written. Idempotent: a file already there with the same text is left alone; a file there with
 * other text is a conflict, and then nothing at all is written.
 */
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError } from '../../core/errors.js';
import { normalizeEmail } from '../../core/email.js';
import { NAME_PATTERN } from '../../core/schema/common.js';
import { ANY_KIND_SCHEMA_FILE } from '../../core/schema/published.js';
import { schemaFiles } from '../../files/schemas.js';
import type { CliIo } from '../../command/io.js';

/** Help text of the command. */
export const INIT_HELP = `Usage: roster init [DIR] [--org NAME] [--owner EMAIL]

Starts a repository of access manifests in DIR (default: the current directory):

  tenants/plans-and-roles.yaml      a plan and a custom role
  tenants/ORG.yaml                  one organization, its owner and members inline
  access-tests/ORG.yaml             access tests: what its people may and may not do
  .github/workflows/access.yml      CI: validate, test, plan as a pull-request comment,
                                    apply on merge (the database URL is a secret)
  schemas/roster.json               the JSON Schema editors use (each file names it)
  .gitignore                        ignores .roster/ (the embedded database, e-mails)

Then: roster validate -f tenants/, roster test -f tenants/ -f access-tests/,
roster plan -f tenants/.

Running it again changes nothing. A file that exists with other content is never overwritten:
init lists every such file and writes nothing (exit 1).

Options:
      --org NAME      the organization's name (default: example)
      --owner EMAIL   its owner (default: owner@example.com)
`;

/** The CI workflow written to .github/workflows/access.yml; the README shows the same text. */
export const CI_WORKFLOW = `# .github/workflows/access.yml
on:
  pull_request: {}
  push: { branches: [main] }
jobs:
  access:
    runs-on: ubuntu-latest
    env:
      DATABASE_URL: \${{ secrets.ROSTER_DATABASE_URL }}
    steps:
      - uses: actions/checkout@v4
      - run: npm ci
      - run: npx roster validate -f tenants/
      - run: npx roster test -f tenants/ -f access-tests/
      - if: github.event_name == 'pull_request'
        run: npx roster plan -f tenants/ --format markdown > plan.md
      - if: github.event_name == 'pull_request'
        uses: marocchino/sticky-pull-request-comment@v2
        with: { path: plan.md }
      - if: github.event_name == 'push'
        run: npx roster apply -f tenants/ --yes
`;

const IGNORED = '.roster/';

/** The scaffold's files, by path relative to DIR. */
export function scaffoldFiles(org: string, owner: string): Map<string, string> {
  const domain = owner.slice(owner.lastIndexOf('@') + 1);
  const modeline = (path: string) =>
    `# yaml-language-server: $schema=${relative(dirname(path), `schemas/${ANY_KIND_SCHEMA_FILE}`)}\n`;
  const files = new Map<string, string>();
  const add = (path: string, text: string) =>
    files.set(path, path.endsWith('.yaml') ? modeline(path) + text : text);
  add(
    'tenants/plans-and-roles.yaml',
    `# Plans say what an organization may have; custom roles, what a member may do.
apiVersion: roster.dev/v1alpha1
kind: Plan
metadata:
  name: team
spec:
  displayName: Team
  seats: { paid: 10, free: 2 }
  maxResources: 10
  features: [members, resourceGrants, customRoles]
---
apiVersion: roster.dev/v1alpha1
kind: Role
metadata:
  name: support-agent
spec:
  scope: organization
  description: Answers tickets and sees who is in the team; no billing, no member management.
  permissions: [support.tickets, members.view, resources.view]
`,
  );
  add(
    `tenants/${org}.yaml`,
    `# One organization: its plan, its owner, and its members with their roles.
apiVersion: roster.dev/v1alpha1
kind: Organization
metadata:
  name: ${org}
spec:
  displayName: ${org}
  plan: team
  owner: ${owner}
  members:
    - { user: admin@${domain}, role: administrator }
    - { user: support@${domain}, role: support-agent }
`,
  );
  add(
    `access-tests/${org}.yaml`,
    `# What must stay true of who may do what: "roster test" fails the pull request at the line
# that stops holding.
apiVersion: roster.dev/v1alpha1
kind: AccessTest
metadata:
  name: ${org}-access
spec:
  expect:
    - { user: ${owner}, can: billing.manage, in: ${org}, reason: owner }
    - { user: admin@${domain}, can: members.manage, in: ${org} }
    - { user: support@${domain}, can: support.tickets, in: ${org} }
    - { user: support@${domain}, cannot: billing.view, in: ${org}, reason: permission-not-granted }
`,
  );
  add('.github/workflows/access.yml', CI_WORKFLOW);
  add(`schemas/${ANY_KIND_SCHEMA_FILE}`, schemaFiles().get(ANY_KIND_SCHEMA_FILE) ?? '');
  return files;
}

/** Runs the command; returns the exit code. */
export async function initCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      org: { type: 'string', default: 'example' },
      owner: { type: 'string', default: 'owner@example.com' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    io.stdout.write(INIT_HELP);
    return 0;
  }
  if (positionals.length > 1) throw new UsageError('init takes one directory at most');
  const org = values.org;
  if (!new RegExp(NAME_PATTERN).test(org) || org.length > 63) {
    throw new UsageError(
      `--org must be lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, not "${org}"`,
    );
  }
  const owner = normalizeEmail(values.owner);
  if (!owner.ok) throw new UsageError(`--owner "${values.owner}" ${owner.reason}`);
  const directory = resolve(io.cwd, positionals[0] ?? '.');
  /** A path as the user would type it: relative below the working directory, else absolute. */
  const shown = (path: string) => {
    const from = relative(io.cwd, join(directory, path));
    return from === '' ? '.' : from.startsWith('..') ? join(directory, path) : from;
  };

  const files = scaffoldFiles(org, owner.email);
  const toWrite: [string, string][] = [];
  const unchanged: string[] = [];
  const conflicts: string[] = [];
  for (const [path, text] of files) {
    const existing = await readFile(join(directory, path), 'utf8').catch(() => null);
    if (existing === null) toWrite.push([path, text]);
    else if (existing === text) unchanged.push(path);
    else conflicts.push(path);
  }
  if (conflicts.length > 0) {
    for (const path of conflicts) {
      io.stderr.write(`roster: ${shown(path)} exists with other content; not overwriting it\n`);
    }
    io.stderr.write(`roster: nothing written (move those files away, or use another DIR)\n`);
    return 1;
  }
  for (const [path, text] of toWrite) {
    await mkdir(dirname(join(directory, path)), { recursive: true });
    await writeFile(join(directory, path), text, { flag: 'wx' });
    io.stdout.write(`created   ${shown(path)}\n`);
  }
  for (const path of unchanged) io.stdout.write(`unchanged ${shown(path)}\n`);
  const ignore = join(directory, '.gitignore');
  const ignored = existsSync(ignore) ? await readFile(ignore, 'utf8') : null;
  if (ignored === null || !ignored.split('\n').some((line) => line.trim() === IGNORED)) {
    const separator = ignored === null || ignored === '' || ignored.endsWith('\n') ? '' : '\n';
    await appendFile(ignore, `${separator}${IGNORED}\n`);
    io.stdout.write(`${ignored === null ? 'created  ' : 'updated  '} ${shown('.gitignore')}\n`);
  } else {
    io.stdout.write(`unchanged ${shown('.gitignore')}\n`);
  }
  if (toWrite.length > 0) {
    const at = shown('.') === '.' ? '' : `cd ${shown('.')} && `;
    io.stdout.write(
      `\nNext: ${at}roster validate -f tenants/ && roster test -f tenants/ -f access-tests/ && roster plan -f tenants/\n`,
    );
  }
  return 0;
}
