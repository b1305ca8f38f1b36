/**
 * `roster init` scaffolds a repository that validates, tests and plans against PostgreSQL as
 * written, idempotently, never overwriting; `roster completion` scripts complete the command
 * list in the real bash, zsh and fish (each skipped only where the shell is not installed).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CI_WORKFLOW } from '../src/cli/commands/init.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { ROOT, runRoster } from './support/run-roster.js';
import { createWorkspace, type Workspace } from './support/workspace.js';

let db: TestDatabase;
let ws: Workspace;
beforeAll(async () => {
  db = await createTestDatabase();
  ws = createWorkspace(db.url);
});
afterAll(async () => {
  ws.dispose();
  await db.drop();
});

const SCAFFOLD = [
  'tenants/plans-and-roles.yaml',
  'tenants/acme.yaml',
  'access-tests/acme.yaml',
  '.github/workflows/access.yml',
  'schemas/roster.json',
  '.gitignore',
];

describe('roster init', () => {
  it('scaffolds a repository that validates, passes its access tests and plans', () => {
    const init = ws.roster(['init', 'repo', '--org', 'acme', '--owner', 'Ada@Acme.test']);
    expect(init.status, init.stderr).toBe(0);
    expect(init.stdout.split('\n').filter((l) => l.startsWith('created'))).toEqual(
      SCAFFOLD.map((f) => `created   ${join('repo', f)}`),
    );
    const repo = join(ws.dir, 'repo');
    const inRepo = (args: string[]) =>
      runRoster(args, { cwd: repo, env: { DATABASE_URL: db.url } });
    const validate = inRepo(['validate', '-f', 'tenants/']);
    expect(validate.stdout).toBe('valid: 3 documents in 2 files, 0 errors, 0 warnings\n');
    const test = inRepo(['test', '-f', 'tenants/', '-f', 'access-tests/']);
    expect([test.status, test.stdout]).toEqual([0, 'passed: 4 expectations, 0 failed\n']);
    const plan = inRepo(['plan', '-f', 'tenants/', '--format', 'json']);
    expect(plan.status, plan.stderr).toBe(0);
    const { changes } = JSON.parse(plan.stdout) as {
      changes: { action: string; id: { kind: string } }[];
    };
    // The owner's membership, then the two inline members.
    expect(changes.map((c) => `${c.action} ${c.id.kind}`)).toEqual([
      'create plan',
      'create role',
      'create organization',
      'create membership',
      'create membership',
      'create membership',
    ]);
    expect(readFileSync(join(repo, 'tenants/acme.yaml'), 'utf8')).toMatch(
      /^# yaml-language-server: \$schema=\.\.\/schemas\/roster\.json\n[\s\S]*owner: ada@acme\.test/,
    );
    expect(readFileSync(join(repo, '.gitignore'), 'utf8')).toBe('.roster/\n');
  });

  it('changes nothing when run again', () => {
    const again = ws.roster(['init', 'repo', '--org', 'acme', '--owner', 'ada@acme.test']);
    expect(again.status).toBe(0);
    expect(again.stdout.trim().split('\n')).toEqual(
      SCAFFOLD.map((f) => `unchanged ${join('repo', f)}`),
    );
  });

  it('refuses to overwrite a file with other content, and then writes nothing', () => {
    ws.write('other/tenants/acme.yaml', '# ours\n');
    ws.write('other/.gitignore', 'node_modules/');
    const refused = ws.roster(['init', 'other', '--org', 'acme']);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toBe(
      'roster: other/tenants/acme.yaml exists with other content; not overwriting it\n' +
        'roster: nothing written (move those files away, or use another DIR)\n',
    );
    expect(readFileSync(join(ws.dir, 'other/tenants/acme.yaml'), 'utf8')).toBe('# ours\n');
    expect(() => readFileSync(join(ws.dir, 'other/tenants/plans-and-roles.yaml'))).toThrow();
    expect(readFileSync(join(ws.dir, 'other/.gitignore'), 'utf8')).toBe('node_modules/');

    ws.remove('other/tenants/acme.yaml');
    const done = ws.roster(['init', 'other', '--org', 'acme']);
    expect(done.status, done.stderr).toBe(0);
    expect(done.stdout).toContain('updated   other/.gitignore');
    expect(readFileSync(join(ws.dir, 'other/.gitignore'), 'utf8')).toBe(
      'node_modules/\n.roster/\n',
    );
  });

  it('refuses a name or an owner that is not one', () => {
    const badOrg = ws.roster(['init', 'x', '--org', 'Acme Inc']);
    expect([badOrg.status, badOrg.stderr]).toEqual([
      1,
      expect.stringMatching(/^roster: --org must be lowercase letters.*not "Acme Inc"\n/),
    ]);
    const badOwner = ws.roster(['init', 'x', '--owner', 'nobody']);
    expect(badOwner.stderr).toMatch(/^roster: --owner "nobody" is not an e-mail address/);
  });

  it('writes the CI workflow the README shows (whose run: lines test/ci-recipe.test.ts runs)', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const block = /<!-- ci-recipe -->\s*```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBe(CI_WORKFLOW);
  });
});

/** Whether a shell is installed here (CI installs all three). */
const has = (shell: string) => spawnSync('sh', ['-c', `command -v ${shell}`]).status === 0;
const COMMANDS = ['init', 'validate', 'test', 'plan', 'apply', 'serve', 'completion', 'version'];

describe('roster completion', () => {
  const script = (shell: string) => {
    const run = runRoster(['completion', shell]);
    expect(run.status, run.stderr).toBe(0);
    const file = join(ws.dir, `completion.${shell}`);
    writeFileSync(file, run.stdout);
    return file;
  };

  it.skipIf(!has('bash'))('completes commands, subcommands and options in bash', () => {
    const file = script('bash');
    const complete = (...words: string[]) =>
      execFileSync(
        'bash',
        [
          '-c',
          `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _roster; printf '%s\\n' "\${COMPREPLY[@]}"`,
          'bash',
          file,
          'roster',
          ...words,
        ],
        { encoding: 'utf8' },
      )
        .trim()
        .split('\n');
    expect(complete('')).toEqual(expect.arrayContaining(COMMANDS));
    expect(complete('ap')).toEqual(['apply', 'api-keys']);
    expect(complete('invitations', '')).toEqual(['list', 'resend', 'revoke']);
    expect(complete('plan', '--det')).toEqual(['--detailed-exitcode']);
    expect(complete('serve', '--shut')).toEqual(['--shutdown-timeout']);
  });

  it.skipIf(!has('fish'))('completes commands and options in fish', () => {
    const file = script('fish');
    const complete = (line: string) =>
      execFileSync('fish', ['-c', `source ${file}; complete -C '${line}'`], { encoding: 'utf8' })
        .trim()
        .split('\n')
        .map((l) => l.split('\t')[0]);
    expect(complete('roster ')).toEqual(expect.arrayContaining(COMMANDS));
    expect(complete('roster api-keys ')).toEqual(['create', 'list', 'revoke']);
    expect(complete('roster apply --wait')).toEqual(['--wait-for-lock']);
  });

  it.skipIf(!has('zsh'))('registers with compinit and lists every command in zsh', () => {
    const file = script('zsh');
    const out = execFileSync(
      'zsh',
      [
        '-c',
        `autoload -U compinit; compinit -u -D; source ${file}; print -r -- $_comps[roster]; print -rl -- \${_roster_commands%%:*}`,
      ],
      { encoding: 'utf8', env: { ...process.env, HOME: ws.dir } },
    )
      .trim()
      .split('\n');
    expect(out[0]).toBe('_roster');
    expect(out.slice(1)).toEqual(expect.arrayContaining(COMMANDS));
    // Every command `roster --help` lists is offered.
    const listed = [...runRoster(['--help']).stdout.matchAll(/^ {2}([a-z-]+)/gm)].map((m) => m[1]);
    expect(out.slice(1)).toEqual(expect.arrayContaining([...new Set(listed)]));
  });

  it('refuses a shell it does not know', () => {
    const run = runRoster(['completion', 'tcsh']);
    expect([run.status, run.stderr]).toEqual([
      1,
      expect.stringContaining('completion is written for bash, zsh, fish, not "tcsh"'),
    ]);
  });
});
