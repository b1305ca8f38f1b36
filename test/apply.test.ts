/**
 * `roster plan` and `roster apply` end to end: the built command in a child process, against a
 * real PostgreSQL database of this file's own.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { signPlan } from '../src/store/plan-signature.js';
import {
  advisoryLocksReleased,
  createTestDatabase,
  tableCounts,
  type TestDatabase,
} from './support/database.js';
import { hasStackTrace, ROOT } from './support/run-roster.js';
import { createWorkspace, doc, TEAM_PLAN, tenant, type Workspace } from './support/workspace.js';

let db: TestDatabase;
let ws: Workspace;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});
beforeEach(async () => {
  ws?.dispose();
  ws = createWorkspace(db.url);
  await db.pool.query(
    'TRUNCATE plans, roles, role_permissions, users, organizations, resources, memberships, grants, contacts, invitations, outbox, audit_log, input_files CASCADE',
  );
});

const copyExamples = () => {
  const files = readdirSync(join(ROOT, 'examples'), { recursive: true, withFileTypes: true });
  for (const entry of files) {
    const path = join(entry.parentPath, entry.name);
    if (!entry.isFile() || path.includes('node_modules')) continue;
    ws.write(relative(ROOT, path), readFileSync(path, 'utf8'));
  }
};

describe('apply, then plan', () => {
  it('applies the examples once; a second plan and apply find no changes and write nothing', async () => {
    copyExamples();
    const first = ws.roster(['apply', '-f', 'examples/', '--yes']);
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(
      /^Apply complete: \d+ added, 0 changed, 0 destroyed \(\d+ rows written\); 29 invitations queued\.$/m,
    );
    const counts = await tableCounts(db.pool);
    expect(counts).toMatchObject({
      organizations: 6,
      plans: 6,
      roles: 3,
      invitations: 29,
      outbox: 29,
    });

    const plan = ws.roster(['plan', '-f', 'examples/', '--detailed-exitcode']);
    expect(plan.status).toBe(0);
    expect(plan.stdout).toBe(
      'No changes. The access database matches the input.\n24 members and 4 grant holders have not accepted their invitation yet (roster invitations list).\n',
    );

    const again = ws.roster(['apply', '-f', 'examples/', '--yes']);
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/^No changes\. The access database matches the input\.\n/);
    expect(await tableCounts(db.pool)).toEqual(counts);
  });

  it('round-trips through export: a plan over the export has no changes', () => {
    copyExamples();
    expect(ws.roster(['apply', '-f', 'examples/', '--yes']).status).toBe(0);
    const exported = ws.roster(['export', '-o', 'exported']);
    expect(exported.status).toBe(0);
    expect(readdirSync(join(ws.dir, 'exported')).sort()).toEqual([
      'atelier-nord.yaml',
      'boulangerie-martin.yaml',
      'brightlane.yaml',
      'cabinet-durand.yaml',
      'famille-lefebvre.yaml',
      'pixel-forge.yaml',
      'plans.yaml',
      'roles.yaml',
      'users.yaml',
    ]);
    const plan = ws.roster(['plan', '-f', 'exported', '--detailed-exitcode']);
    expect(plan.stdout).toMatch(/^No changes\. The access database matches the input\.\n/);
    expect(plan.status).toBe(0);
    const single = ws.roster(['export', '--org', 'brightlane']);
    expect(single.stdout).toContain('name: brightlane');
    expect(single.stdout).not.toContain('kind: Plan');
  });

  it('shows a dry run without --yes and writes nothing', async () => {
    ws.write('t.yaml', [TEAM_PLAN, tenant('acme', 'alice@acme.io', ['bob@acme.io'])].join('---\n'));
    const dry = ws.roster(['apply', '-f', 't.yaml', '--detailed-exitcode']);
    expect(dry.status).toBe(2);
    expect(dry.stderr).toContain('Dry run: nothing was applied');
    expect(dry.stdout).toContain('Plan: 5 to add, 0 to change, 0 to destroy.');
    expect((await tableCounts(db.pool)).organizations).toBe(0);
  });
});

describe('plan output', () => {
  beforeEach(() => {
    ws.write(
      't.yaml',
      [TEAM_PLAN, tenant('acme', 'alice@acme.io', ['bob@acme.io', 'carol@acme.io'])].join('---\n'),
    );
    expect(ws.roster(['apply', '-f', 't.yaml', '--yes']).status).toBe(0);
  });

  it('renders text with a legend of the symbols used, grouped by organization, and one summary line', () => {
    ws.write(
      't.yaml',
      [TEAM_PLAN, tenant('acme', 'alice@acme.io', ['bob@acme.io', 'dave@acme.io'])].join('---\n'),
    );
    const plan = ws.roster(['plan', '-f', 't.yaml', '--detailed-exitcode']);
    expect(plan.status).toBe(2);
    expect(plan.stdout).toBe(
      [
        'Roster will perform the following actions. Symbols:',
        '  + create',
        '  - delete',
        '',
        'organization acme',
        '  + membership dave@acme.io',
        '        role: "developer"',
        '        seat: "paid"',
        '        suspended: false',
        '  - membership carol@acme.io',
        '',
        'Invitations to send: 1',
        '  > dave@acme.io to acme as developer',
        '',
        'Plan: 1 to add, 0 to change, 1 to destroy.',
        '2 members have not accepted their invitation yet (roster invitations list).',
        '',
      ].join('\n'),
    );
  });

  it('renders Markdown for a pull request and versioned JSON', () => {
    ws.write(
      't.yaml',
      [TEAM_PLAN, tenant('acme', 'alice@acme.io', ['bob@acme.io', 'dave@acme.io'])].join('---\n'),
    );
    const md = ws.roster(['plan', '-f', 't.yaml', '--format', 'markdown']).stdout;
    expect(md).toContain('### Roster plan: Plan: 1 to add, 0 to change, 1 to destroy');
    expect(md).toContain('| acme | 1 | 0 | 1 |');
    expect(md).toContain('<details><summary>acme: 2 changes</summary>');
    expect(md).toContain('| acme | dave@acme.io | developer |  |');
    const json = JSON.parse(ws.roster(['plan', '-f', 't.yaml', '--format', 'json']).stdout);
    expect(json).toMatchObject({
      formatVersion: 1,
      manager: 'roster-cli',
      basis: expect.stringMatching(/^state:[0-9a-f]{64}$/),
      summary: { add: 1, change: 0, destroy: 1 },
      options: { prune: false, maxRemovals: null, maxOrgRemovalRatio: 0.25, scope: ['acme'] },
    });
    expect(json.changes[0]).toMatchObject({
      action: 'create',
      id: { kind: 'membership', org: 'acme', user: 'dave@acme.io' },
      org: 'acme',
      before: null,
      after: { role: 'developer', seat: 'paid', suspended: false },
      source: { file: 't.yaml', line: expect.any(Number), column: expect.any(Number) },
    });
  });

  it('reports drift made outside Roster in its own section and corrects it on apply', async () => {
    await db.pool.query(
      `UPDATE memberships SET role = 'administrator' WHERE user_id = (SELECT user_id FROM users WHERE email = 'bob@acme.io')`,
    );
    const plan = ws.roster(['plan', '-f', 't.yaml']);
    expect(plan.stdout).toContain('Drift: changed outside Roster since the last apply');
    expect(plan.stdout).toContain(
      '~ membership bob@acme.io in acme: role was "developer" when applied, is "administrator" now; will be set back',
    );
    expect(plan.stdout).toContain('~ role: "administrator" -> "developer"');
    expect(ws.roster(['apply', '-f', 't.yaml', '--yes']).status).toBe(0);
    const { rows } = await db.pool.query(
      `SELECT role FROM memberships JOIN users USING (user_id) WHERE email = 'bob@acme.io'`,
    );
    expect(rows[0].role).toBe('developer');
    expect(ws.roster(['plan', '-f', 't.yaml']).stdout).toMatch(/^No changes\./);
  });

  it('reports a record Roster wrote and someone deleted as drift, not as a plain create', async () => {
    await db.pool.query(
      `DELETE FROM memberships WHERE user_id = (SELECT user_id FROM users WHERE email = 'bob@acme.io')`,
    );
    const plan = ws.roster(['plan', '-f', 't.yaml']);
    expect(plan.stdout).toMatch(
      /~ membership bob@acme\.io in acme: deleted outside Roster \(applied by roster-cli .+ at \d{4}-\d\d-\d\dT[\d:.]+Z\); will be created again/,
    );
    expect(plan.stdout).toMatch(
      /\+ membership bob@acme\.io\n\s+# deleted outside Roster after roster-cli/,
    );
    const json = JSON.parse(ws.roster(['plan', '-f', 't.yaml', '--format', 'json']).stdout);
    expect(json.drift).toMatchObject([
      {
        id: { kind: 'membership', user: 'bob@acme.io' },
        corrected: true,
        deleted: { by: expect.stringMatching(/^roster-cli/) },
      },
    ]);
    expect(ws.roster(['apply', '-f', 't.yaml', '--yes']).status).toBe(0);
    // Removed by Roster itself (no longer declared), then declared again: a plain create.
    ws.write('t.yaml', [TEAM_PLAN, tenant('acme', 'alice@acme.io', [])].join('---\n'));
    expect(
      ws.roster(['apply', '-f', 't.yaml', '--yes', '--max-org-removal-ratio', '1']).status,
    ).toBe(0);
    ws.write('t.yaml', [TEAM_PLAN, tenant('acme', 'alice@acme.io', ['bob@acme.io'])].join('---\n'));
    const again = ws.roster(['plan', '-f', 't.yaml']);
    expect(again.stdout).toContain('+ membership bob@acme.io');
    expect(again.stdout).not.toContain('deleted outside Roster');
  });

  it("prunes within the input's organizations with --prune, and absent ones only with --prune-all", async () => {
    ws.write('g.yaml', tenant('globex', 'gus@globex.io', []));
    expect(ws.roster(['apply', '-f', 't.yaml', '-f', 'g.yaml', '--yes']).status).toBe(0);
    const pruned = ws.roster(['plan', '-f', 't.yaml', '--prune']);
    expect(pruned.status).toBe(0);
    expect(pruned.stdout).not.toContain('globex');
    const all = ws.roster(['plan', '-f', 't.yaml', '--prune-all', '--max-org-removal-ratio', '1']);
    expect(all.stdout).toContain('- organization globex');
  });

  it('leaves records made outside Roster alone, unless --prune', async () => {
    await db.pool.query(`INSERT INTO users (email) VALUES ('app-made@acme.io')`);
    await db.pool.query(
      `INSERT INTO memberships (org_id, user_id, role, status)
       SELECT org_id, user_id, 'developer', 'active' FROM organizations, users WHERE email = 'app-made@acme.io'`,
    );
    // Visible in the plan, in every format, though nothing changes.
    expect(ws.roster(['plan', '-f', 't.yaml']).stdout.replace(/\d+ members? ha.*\n/, '')).toBe(
      [
        'Access Roster does not manage: 1 (made outside Roster, not in the input)',
        '  organization acme',
        '    ? membership app-made@acme.io as developer (active)',
        '  Declare it to manage it, or plan with --prune to remove it.',
        '',
        'No changes. The access database matches the input.',
        '',
      ].join('\n'),
    );
    const json = JSON.parse(ws.roster(['plan', '-f', 't.yaml', '--format', 'json']).stdout);
    expect(json.unmanaged).toEqual([
      {
        org: 'acme',
        kind: 'membership',
        user: 'app-made@acme.io',
        role: 'developer',
        status: 'active',
      },
    ]);
    expect(ws.roster(['plan', '-f', 't.yaml', '--format', 'markdown']).stdout).toContain(
      '| acme | membership | app-made@acme.io | developer |  | active |',
    );
    const pruned = ws.roster(['plan', '-f', 't.yaml', '--prune']);
    expect(pruned.stdout).toContain('- membership app-made@acme.io');
    expect(pruned.stdout).toContain('Plan: 0 to add, 0 to change, 1 to destroy.');
  });

  it('adopts a declared record that was made in the app', async () => {
    await db.pool.query(`UPDATE memberships SET managed_by = NULL, last_applied = NULL`);
    const plan = ws.roster(['plan', '-f', 't.yaml']);
    expect(plan.stdout).toContain('# made outside Roster; Roster manages it from now on');
    expect(ws.roster(['apply', '-f', 't.yaml', '--yes']).status).toBe(0);
    expect(ws.roster(['plan', '-f', 't.yaml']).stdout).toMatch(/^No changes\./);
  });

  it('refuses to take over records another manager owns', async () => {
    await db.pool.query(
      `UPDATE memberships SET managed_by = 'operator:cluster-a' WHERE role = 'developer'`,
    );
    const plan = ws.roster(['plan', '-f', 't.yaml']);
    expect(plan.status).toBe(1);
    expect(plan.stdout).toContain(
      'membership bob@acme.io in acme is managed by operator:cluster-a; Roster will not take it over',
    );
  });

  it('makes an ownership transfer an explicit step; the previous owner stays as administrator', async () => {
    ws.write('t.yaml', [TEAM_PLAN, tenant('acme', 'bob@acme.io', ['carol@acme.io'])].join('---\n'));
    const plan = ws.roster(['plan', '-f', 't.yaml']);
    expect(plan.stdout).toContain('# ownership transfer: becomes the owner');
    expect(plan.stdout).toContain('~ role: "developer" -> "owner"');
    expect(plan.stdout).toContain(
      '# ownership transfer: the previous owner stays as administrator',
    );
    const apply = ws.roster(['apply', '-f', 't.yaml', '--yes']);
    expect(apply.status).toBe(0);
    const { rows } = await db.pool.query(
      `SELECT email, role, m.managed_by FROM memberships m JOIN users USING (user_id) ORDER BY email`,
    );
    expect(rows).toEqual([
      { email: 'alice@acme.io', role: 'administrator', managed_by: null },
      { email: 'bob@acme.io', role: 'owner', managed_by: 'roster-cli' },
      { email: 'carol@acme.io', role: 'developer', managed_by: 'roster-cli' },
    ]);
    const after = ws.roster(['plan', '-f', 't.yaml']).stdout;
    expect(after).toContain('No changes. The access database matches the input.');
    // The former owner keeps access Roster no longer manages, and the plan says so.
    expect(after).toContain('    ? membership alice@acme.io as administrator (invited)');
  });
});

describe('guards at plan time', () => {
  const eight = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((n) => `${n}@acme.io`);
  beforeEach(() => {
    ws.write('t.yaml', [TEAM_PLAN, tenant('acme', 'owner@acme.io', eight)].join('---\n'));
    expect(ws.roster(['apply', '-f', 't.yaml', '--yes']).status).toBe(0);
  });

  it('refuses to remove more than 25 % of an organization, unless raised on purpose', async () => {
    ws.write('t.yaml', [TEAM_PLAN, tenant('acme', 'owner@acme.io', eight.slice(3))].join('---\n'));
    const before = await tableCounts(db.pool);
    const refused = ws.roster(['apply', '-f', 't.yaml', '--yes']);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(
      'the plan removes 3 of the 9 members of "acme" (33 %), more than the 25 % allowed: check the input, or pass --max-org-removal-ratio 0.34 on purpose',
    );
    expect(hasStackTrace(refused.stderr)).toBe(false);
    expect(await tableCounts(db.pool)).toEqual(before);
    expect(ws.roster(['plan', '-f', 't.yaml']).status).toBe(1);
    const allowed = ws.roster([
      'apply',
      '-f',
      't.yaml',
      '--yes',
      '--max-org-removal-ratio',
      '0.34',
    ]);
    expect(allowed.status).toBe(0);
  });

  it('refuses more removals than --max-removals', () => {
    ws.write('t.yaml', [TEAM_PLAN, tenant('acme', 'owner@acme.io', eight.slice(2))].join('---\n'));
    const refused = ws.roster(['plan', '-f', 't.yaml', '--max-removals', '1']);
    expect(refused.status).toBe(1);
    expect(refused.stdout).toContain('the plan deletes 2 records, more than --max-removals 1');
  });

  it('refuses a plan that would exceed the seats, counting members made outside Roster', async () => {
    await db.pool.query(
      `INSERT INTO users (email) SELECT 'extra' || i || '@acme.io' FROM generate_series(1, 12) i`,
    );
    await db.pool.query(
      `INSERT INTO memberships (org_id, user_id, role, status)
       SELECT o.org_id, u.user_id, 'developer', 'active' FROM organizations o, users u WHERE u.email LIKE 'extra%'`,
    );
    ws.write(
      't.yaml',
      [TEAM_PLAN, tenant('acme', 'owner@acme.io', [...eight, 'new@acme.io'])].join('---\n'),
    );
    const plan = ws.roster(['plan', '-f', 't.yaml']);
    expect(plan.status).toBe(1);
    expect(plan.stdout).toContain(
      'organization "acme" would use 22 paid seats and plan "team" has 20',
    );
  });

  it('refuses a plan over the seats in the input itself, before touching the database', () => {
    const many = Array.from({ length: 20 }, (_, i) => `m${i}@acme.io`);
    ws.write('t.yaml', [TEAM_PLAN, tenant('acme', 'owner@acme.io', many)].join('---\n'));
    const plan = ws.roster(['plan', '-f', 't.yaml']);
    expect(plan.status).toBe(1);
    expect(plan.stderr).toContain(
      'uses 21 paid seats (the owner\'s included) but plan "team" has 20',
    );
  });
});

describe('saved plans', () => {
  beforeEach(() => {
    ws.write('t.yaml', [TEAM_PLAN, tenant('acme', 'alice@acme.io', ['bob@acme.io'])].join('---\n'));
  });

  it('applies a saved plan', async () => {
    const plan = ws.roster(['plan', '-f', 't.yaml', '-o', 'plan.json']);
    expect(plan.status).toBe(0);
    expect(plan.stderr).toContain('Saved the plan to plan.json');
    const apply = ws.roster(['apply', 'plan.json']);
    expect(apply.status).toBe(0);
    expect(apply.stdout).toContain('Apply complete: 5 added');
    expect((await tableCounts(db.pool)).memberships).toBe(2);
  });

  it('refuses a saved plan when the database changed since', async () => {
    expect(ws.roster(['plan', '-f', 't.yaml', '-o', 'plan.json']).status).toBe(0);
    ws.write(
      'other.yaml',
      [TEAM_PLAN, tenant('acme', 'alice@acme.io', ['carol@acme.io'])].join('---\n'),
    );
    expect(ws.roster(['apply', '-f', 'other.yaml', '--yes']).status).toBe(0);
    const stale = ws.roster(['apply', 'plan.json']);
    expect(stale.status).toBe(1);
    expect(stale.stderr).toBe(
      'roster: the database changed since this plan was made: run "roster plan" again and review the new plan\n',
    );
  });

  it('refuses a saved plan edited by hand, or unsigned, and re-checks a re-signed one', async () => {
    ws.write('t.yaml', [TEAM_PLAN, tenant('acme', 'alice@acme.io', ['bob@acme.io'])].join('---\n'));
    expect(ws.roster(['plan', '-f', 't.yaml', '-o', 'plan.json']).status).toBe(0);
    const saved = JSON.parse(readFileSync(join(ws.dir, 'plan.json'), 'utf8'));
    expect(saved.signature).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    const before = await tableCounts(db.pool);
    const edit = (role: string) => {
      const copy = structuredClone(saved);
      for (const c of copy.changes) {
        if (c.id.kind === 'membership' && c.id.user === 'bob@acme.io') c.after.role = role;
      }
      return copy;
    };

    for (const role of ['billing', 'admin']) {
      ws.write('edited.json', JSON.stringify(edit(role), null, 2));
      const run = ws.roster(['apply', 'edited.json']);
      expect(run.status).toBe(1);
      expect(run.stderr).toContain(
        'edited.json was changed after "roster plan -o" wrote it, or was made against another database (its signature does not match): nothing was applied',
      );
    }
    const { signature: _removed, ...unsigned } = saved;
    ws.write('unsigned.json', JSON.stringify(unsigned));
    expect(ws.roster(['apply', 'unsigned.json']).stderr).toContain(
      'unsigned.json has no signature',
    );

    // Someone who can read the signing key can sign an edit; the records are still re-checked.
    const forged = edit('admin');
    forged.signature = await signPlan(db.pool, forged);
    ws.write('forged.json', JSON.stringify(forged));
    const run = ws.roster(['apply', 'forged.json']);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('membership bob@acme.io names role "admin", which does not exist');
    expect(await tableCounts(db.pool)).toEqual(before);

    expect(ws.roster(['apply', 'plan.json']).status).toBe(0);
  });

  it('refuses a file that is not a saved plan', () => {
    ws.write('plan.json', '{"hello": "world"}');
    const run = ws.roster(['apply', 'plan.json']);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/plan.json is not a plan saved by "roster plan -o"/);
  });
});

/** Starts `roster apply` paused just before COMMIT; resolves once it says so. */
function startPausedApply(file: string): Promise<ReturnType<typeof spawn>> {
  const child = spawn(process.execPath, [`${ROOT}bin/roster.js`, 'apply', '-f', file, '--yes'], {
    cwd: ws.dir,
    env: { ...process.env, DATABASE_URL: db.url, ROSTER_TEST_PAUSE_BEFORE_COMMIT_MS: '60000' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes('paused before commit')) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`apply exited early (${code}): ${stderr}`)));
  });
}

describe('concurrency and crashes', () => {
  it('serialises applies: a second one is told who holds the lock', async () => {
    ws.write('t.yaml', [TEAM_PLAN, tenant('acme', 'alice@acme.io', ['bob@acme.io'])].join('---\n'));
    const first = await startPausedApply('t.yaml');
    try {
      const second = ws.roster(['apply', '-f', 't.yaml', '--yes']);
      expect(second.status).toBe(1);
      expect(second.stderr).toMatch(
        /^roster: another apply is running \(roster apply \(.+, pid \d+\), server pid \d+.*\); wait for it to finish, then plan again\n$/,
      );
    } finally {
      first.kill('SIGKILL');
    }
  });

  it('waits for the lock with --wait-for-lock, then applies', async () => {
    ws.write('t.yaml', [TEAM_PLAN, tenant('acme', 'alice@acme.io', ['bob@acme.io'])].join('---\n'));
    const first = await startPausedApply('t.yaml');
    const released = new Promise((resolve) => first.on('exit', resolve));
    setTimeout(() => first.kill('SIGKILL'), 1_500);
    const started = Date.now();
    const second = await ws.rosterAsync([
      'apply',
      '-f',
      't.yaml',
      '--yes',
      '--wait-for-lock',
      '20s',
    ]);
    await released;
    expect(second.status, second.stderr).toBe(0);
    expect(second.stdout).toContain('Apply complete: 5 added');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    ws.write(
      't.yaml',
      [TEAM_PLAN, tenant('acme', 'alice@acme.io', ['bob@acme.io', 'carol@acme.io'])].join('---\n'),
    );
    const short = await startPausedApply('t.yaml');
    try {
      const impatient = ws.roster(['apply', '-f', 't.yaml', '--yes', '--wait-for-lock', '300ms']);
      expect(impatient.status).toBe(1);
      expect(impatient.stderr).toMatch(/^roster: another apply is running \(roster apply/);
      expect(ws.roster(['apply', '-f', 't.yaml', '--wait-for-lock', 'soon']).stderr).toContain(
        '--wait-for-lock must be a duration such as 30s, 2m or 500ms, not "soon"',
      );
    } finally {
      short.kill('SIGKILL');
    }
  });

  it('starts an error on its own line after a progress line on a terminal', async () => {
    ws.write('t.yaml', [TEAM_PLAN, tenant('acme', 'alice@acme.io', ['bob@acme.io'])].join('---\n'));
    // Writes to memberships wait on this lock until lock_timeout fails them, after the plan and
    // organization steps have shown their progress.
    const locker = await db.pool.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE memberships IN EXCLUSIVE MODE');
    let stderr = '';
    try {
      const url = new URL(db.url);
      url.searchParams.set('options', '-c lock_timeout=300');
      const { main } = await import('../src/main.js');
      const sink = (onText: (text: string) => void) =>
        Object.assign(
          new Writable({ write: (chunk, _enc, done) => (onText(String(chunk)), done()) }),
          {
            isTTY: true,
          },
        );
      const code = await main(['apply', '-f', join(ws.dir, 't.yaml'), '--yes'], {
        stdout: sink(() => undefined),
        stderr: sink((text) => (stderr += text)),
        stdin: Readable.from([]),
        cwd: ws.dir,
        env: { ...process.env, DATABASE_URL: url.toString(), ROSTER_DEBUG: '' },
      });
      expect(code).toBe(1);
    } finally {
      await locker.query('ROLLBACK');
      locker.release();
    }
    // The progress line (ended by "erase to end of line") is closed before the error.
    expect(stderr).toMatch(/\rApplying: \d+\/\d+ [a-z]+\S*\[K\nroster: /);
    expect(stderr).not.toMatch(/\[K(?!\n)roster:/);
  });

  it('counts deliveries on a terminal, and clears the count before the summary', async () => {
    ws.write(
      't.yaml',
      [TEAM_PLAN, tenant('acme', 'alice@acme.io', ['bob@acme.io', 'carol@acme.io'])].join('---\n'),
    );
    expect(ws.roster(['apply', '-f', 't.yaml', '--yes', '--no-deliver']).status).toBe(0);
    let stderr = '';
    let stdout = '';
    const { main } = await import('../src/main.js');
    const sink = (onText: (text: string) => void) =>
      Object.assign(
        new Writable({ write: (chunk, _enc, done) => (onText(String(chunk)), done()) }),
        {
          isTTY: true,
        },
      );
    const code = await main(['deliver'], {
      stdout: sink((text) => (stdout += text)),
      stderr: sink((text) => (stderr += text)),
      stdin: Readable.from([]),
      cwd: ws.dir,
      env: { ...process.env, DATABASE_URL: db.url, SMTP_URL: '', ROSTER_DEBUG: '' },
    });
    expect(code, stderr).toBe(0);
    expect(stderr).toBe('\rDelivering: 3 sent\u001b[K\r\u001b[K');
    expect(stdout).toMatch(/^3 invitations sent to files in /);
  });

  it('leaves the database as before when killed mid-apply; a re-run converges', async () => {
    ws.write('t.yaml', [TEAM_PLAN, tenant('acme', 'alice@acme.io', ['bob@acme.io'])].join('---\n'));
    expect(ws.roster(['apply', '-f', 't.yaml', '--yes']).status).toBe(0);
    const before = await tableCounts(db.pool);
    const recorded = async () =>
      (
        await db.pool.query(
          `SELECT f.path, f.sha256, i.input_digest, i.state_digest
             FROM input_files f, organization_inputs i ORDER BY 1, 3`,
        )
      ).rows;
    const recordedBefore = await recorded();
    expect(recordedBefore).toHaveLength(1);
    ws.write(
      't.yaml',
      [TEAM_PLAN, tenant('acme', 'alice@acme.io', ['carol@acme.io', 'dave@acme.io'])].join('---\n'),
    );
    const child = await startPausedApply('t.yaml');
    const exited = new Promise((resolve) => child.on('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    // The server notices the dropped connection and rolls back; wait until the lock is free.
    await advisoryLocksReleased(db.pool, 5_000);
    expect(await tableCounts(db.pool)).toEqual(before);
    // What the apply was made from is recorded in its transaction: rolled back with it, so the
    // next incremental plan still sees the file as changed.
    expect(await recorded()).toEqual(recordedBefore);
    expect(ws.roster(['plan', '-f', 't.yaml', '--detailed-exitcode']).status).toBe(2);
    expect(ws.roster(['apply', '-f', 't.yaml', '--yes']).status).toBe(0);
    expect(ws.roster(['plan', '-f', 't.yaml', '--detailed-exitcode']).status).toBe(0);
    expect(await recorded()).not.toEqual(recordedBefore);
  });

  it('explains an unreachable database without a stack trace, and changes nothing', () => {
    ws.write('t.yaml', [TEAM_PLAN, tenant('acme', 'alice@acme.io', [])].join('---\n'));
    const run = ws.roster(['apply', '-f', 't.yaml', '--yes'], {
      DATABASE_URL: 'postgresql://postgres:x@127.0.0.1:9/roster',
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(
      /^roster: cannot reach the database \(ECONNREFUSED\); nothing was changed/,
    );
    expect(hasStackTrace(run.stderr)).toBe(false);
  });
});

describe('hostile values', () => {
  it('stores SQL metacharacters and odd Unicode as data', async () => {
    ws.write(
      't.yaml',
      [
        TEAM_PLAN,
        doc('Organization', 'quotes', {
          plan: 'team',
          displayName: "Robert'); DROP TABLE users;-- — Crème ☕",
          owner: "o'brien+ops@acme.io",
          contacts: [{ email: "bill'ing+$x%y@acme.io", name: '$1 \\ %s', categories: ['billing'] }],
        }),
      ].join('---\n'),
    );
    const apply = ws.roster(['apply', '-f', 't.yaml', '--yes']);
    expect(apply.stderr).toBe('');
    expect(apply.status).toBe(0);
    const { rows } = await db.pool.query(`SELECT display_name FROM organizations`);
    expect(rows[0].display_name).toBe("Robert'); DROP TABLE users;-- — Crème ☕");
    expect(ws.roster(['plan', '-f', 't.yaml', '--detailed-exitcode']).status).toBe(0);
    const exported = ws.roster(['export', '-o', 'out']);
    expect(exported.status).toBe(0);
    copyFileSync(join(ws.dir, 'out', 'quotes.yaml'), join(ws.dir, 'again.yaml'));
    ws.write('plans.yaml', TEAM_PLAN);
    expect(
      ws.roster(['plan', '-f', 'again.yaml', '-f', 'plans.yaml', '--detailed-exitcode']).status,
    ).toBe(0);
  });
});
