/**
 * A platform's least-privilege rules (`--lint-rules FILE`, `ROSTER_LINT_RULES`) in every driver
 * that checks roles: `roster validate`, `plan` and `apply`, the operator's checks, and the Pulumi
 * provider's Check over gRPC. The rules file is checked like a manifest.
 */
import providerPb from '@pulumi/pulumi/proto/provider_pb.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActualState } from '../src/core/plan.js';
import { readLintRules } from '../src/files/lint-rules.js';
import { checkEntries, entryOf } from '../src/operator/decide.js';
import { fromStruct, toStruct, type Properties } from '../src/provider/properties.js';
import { createTestDatabase, tableCounts, type TestDatabase } from './support/database.js';
import { startProvider } from './support/provider-process.js';
import { ROOT, runRoster } from './support/run-roster.js';
import { createWorkspace, doc, type Workspace } from './support/workspace.js';

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

/** The platform's rules: contractors' resource roles never see logs with backups; no member management. */
const RULES = `apiVersion: roster.dev/v1alpha1
kind: LintRules
leastPrivilege:
  exempt: [finance-admin]
  rules:
    - name: no-member-management
      holds: [members.manage]
      severity: error
      reason: only the owner manages members here
    - name: backups-apart
      holds: [resource.backups]
      with: [resource.logs, resource.users.*]
      reason: whoever restores backups does not read logs
`;

const HELPER = doc('Role', 'helper', {
  scope: 'organization',
  permissions: ['members.view', 'members.manage'],
});
const FINANCE = doc('Role', 'finance-admin', {
  scope: 'organization',
  permissions: ['billing.manage', 'members.manage'],
});
const RESTORER = doc('Role', 'restorer', {
  scope: 'resource',
  permissions: ['resource.backups', 'resource.logs'],
});

describe('roster validate --lint-rules', () => {
  it('checks roles with the platform’s rules, from the flag or the environment', () => {
    ws.write('rules.yaml', RULES);
    ws.write('roles.yaml', [HELPER, FINANCE, RESTORER].join('---\n'));
    for (const run of [
      ws.roster(['validate', '-f', 'roles.yaml', '--lint-rules', 'rules.yaml']),
      ws.roster(['validate', '-f', 'roles.yaml'], { ROSTER_LINT_RULES: 'rules.yaml' }),
    ]) {
      expect(run.status).toBe(1);
      expect(run.stderr.split('\n').filter((l) => l.includes('least-privilege'))).toEqual([
        expect.stringMatching(
          /^roles\.yaml:4:\d+: error: role "helper" holds members\.manage: only the owner manages members here \(least privilege, rule "no-member-management";/,
        ),
        expect.stringMatching(
          /^roles\.yaml:14:\d+: warning: role "restorer" holds resource\.backups and resource\.logs: whoever restores backups does not read logs/,
        ),
      ]);
      // Exempt: finance-admin is neither an error nor a warning.
      expect(run.stderr).not.toContain('finance-admin');
    }
    // Without the rules: Roster's own, which only warn (finance-admin pays and manages members).
    const own = ws.roster(['validate', '-f', 'roles.yaml']);
    expect(own.status).toBe(0);
    expect(own.stderr).toMatch(/role "finance-admin" holds billing\.manage and members\.manage/);
    expect(own.stderr).not.toContain('"helper"');
  });

  it('reports a bad rules file at its line and column, and checks nothing', () => {
    ws.write(
      'bad-rules.yaml',
      `apiVersion: roster.dev/v1alpha1
kind: LintRules
leastPrivilege:
  rules:
    - name: typo
      holds: [biling.*]
      reason: x
    - name: typo
      holds: [members.manage]
      severity: fatal
      reason: y
`,
    );
    ws.write('roles.yaml', HELPER);
    const run = ws.roster(['validate', '-f', 'roles.yaml', '--lint-rules', 'bad-rules.yaml']);
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(
      /^bad-rules\.yaml:10:17: error: leastPrivilege\.rules\[1\]\.severity: "fatal" is not one of warning, error/m,
    );
    expect(run.stderr).toContain(
      'roster: the lint rules in bad-rules.yaml are invalid; nothing was checked',
    );
    ws.write('bad-rules.yaml', RULES.replace('[members.manage]', '[members.manag]'));
    const typo = ws.roster(['validate', '-f', 'roles.yaml', '--lint-rules', 'bad-rules.yaml']);
    expect(typo.stderr).toMatch(
      /^bad-rules\.yaml:7:15: error: "members\.manag" matches no permission\. Did you mean "members\.manage"\?/m,
    );
    // As JSON when JSON is asked for, on stdout.
    const json = ws.roster([
      'validate',
      '-f',
      'roles.yaml',
      '--format',
      'json',
      '--lint-rules',
      'bad-rules.yaml',
    ]);
    expect(json.status).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      valid: false,
      errors: 1,
      findings: [
        {
          severity: 'error',
          code: 'unknown-permission',
          location: { file: 'bad-rules.yaml', line: 7, column: 15 },
        },
      ],
    });
    const missing = ws.roster(['validate', '-f', 'roles.yaml', '--lint-rules', 'nope.yaml']);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/nope\.yaml/);
  });
});

describe('plan and apply with the rules', () => {
  it('refuse a role an error rule finds, and apply it once it is exempt', async () => {
    ws.write('rules.yaml', RULES);
    ws.write('roles.yaml', HELPER);
    const before = await tableCounts(db.pool);
    const refused = ws.roster(['apply', '-f', 'roles.yaml', '--yes', '--lint-rules', 'rules.yaml']);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/error: role "helper" holds members\.manage/);
    expect(await tableCounts(db.pool)).toEqual(before);
    const plan = ws.roster(['plan', '-f', 'roles.yaml', '--detailed-exitcode'], {
      ROSTER_LINT_RULES: 'rules.yaml',
    });
    expect(plan.status).toBe(1);
    ws.write(
      'rules.yaml',
      RULES.replace('exempt: [finance-admin]', 'exempt: [finance-admin, helper]'),
    );
    const applied = ws.roster(['apply', '-f', 'roles.yaml', '--yes', '--lint-rules', 'rules.yaml']);
    expect(applied.stderr).toBe('');
    expect(applied.status).toBe(0);
    expect((await db.pool.query(`SELECT name FROM roles WHERE name = 'helper'`)).rowCount).toBe(1);
  });
});

describe('the operator’s checks with the rules', () => {
  it('marks a role an error rule finds invalid, and only that one', async () => {
    ws.write('rules.yaml', RULES);
    const { policy } = await readLintRules('rules.yaml', ws.dir);
    expect(policy).toBeDefined();
    const role = (name: string, permissions: string[]) =>
      entryOf('Role', {
        metadata: { name, namespace: 'team', generation: 1 },
        spec: { scope: 'organization', permissions },
      });
    const entries = [
      role('helper', ['members.view', 'members.manage']),
      role('viewer-plus', ['members.view', 'billing.view']),
    ];
    const empty: ActualState = { records: [] };
    const judged = checkEntries(entries, [], empty, undefined, new Date(), policy);
    expect([...judged.errors.keys()]).toEqual([entries[0]!.file]);
    expect(judged.errors.get(entries[0]!.file)?.[0]?.message).toMatch(
      /role "helper" holds members\.manage: only the owner manages members here/,
    );
    expect(judged.records.map((r) => r.id)).toEqual([{ kind: 'role', name: 'viewer-plus' }]);
    // Roster's own rules only warn: nothing is invalid.
    expect(checkEntries(entries, [], empty, undefined, new Date()).errors.size).toBe(0);
  });

  it('refuses to start with a bad rules file, naming its problems', () => {
    ws.write('bad.yaml', 'apiVersion: roster.dev/v1alpha1\nkind: LintRules\nextra: 1\n');
    const run = runRoster(['operator', '--lint-rules', 'bad.yaml'], { cwd: ws.dir });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^bad\.yaml:3:1: error: LintRules: unknown field "extra"/m);
  });
});

describe('the Pulumi provider with ROSTER_LINT_RULES', () => {
  it('fails the Check of a role an error rule finds', async () => {
    ws.write('rules.yaml', RULES);
    const provider = await startProvider(
      process.execPath,
      [`${ROOT}provider/bin/pulumi-resource-roster`],
      {
        cwd: ws.dir,
        env: { ...process.env, DATABASE_URL: db.url, ROSTER_LINT_RULES: 'rules.yaml' },
      },
    );
    try {
      const check = async (name: string, permissions: string[]) => {
        const response = await provider.rpc<providerPb.CheckRequest, providerPb.CheckResponse>(
          'check',
          new providerPb.CheckRequest()
            .setUrn(`urn:pulumi:dev::onboarding::roster:index:Role::${name}`)
            .setNews(toStruct({ name, scope: 'organization', permissions } as Properties)),
        );
        expect(fromStruct(response.getInputs()).name).toBe(name);
        return response.getFailuresList().map((f) => [f.getProperty(), f.getReason()]);
      };
      expect(await check('helper', ['members.view', 'members.manage'])).toEqual([
        [
          'permissions[1]',
          expect.stringMatching(/^role "helper" holds members\.manage: only the owner/),
        ],
      ]);
      expect(await check('viewer-plus', ['members.view'])).toEqual([]);
    } finally {
      await provider.stop();
    }
  });
});
