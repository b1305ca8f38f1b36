/**
 * The write path of large applies: rows of a kind are staged through COPY into temporary tables,
 * then written with one statement per table (src/store/sql/row-source.ts). It must write exactly
 * what the array path writes, values COPY's text format escapes included, and a crash in the
 * middle of it must leave nothing behind.
 */
import { spawn } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RosterError } from '../src/core/errors.js';
import { copyText } from '../src/store/sql/row-source.js';
import {
  advisoryLocksReleased,
  createTestDatabase,
  tableCounts,
  type TestDatabase,
} from './support/database.js';
import { applyFiles } from './support/library-apply.js';
import { ROOT } from './support/run-roster.js';
import { createWorkspace, doc, type Workspace } from './support/workspace.js';

const dbs: TestDatabase[] = [];
const workspaces: Workspace[] = [];
beforeAll(async () => {
  for (let i = 0; i < 4; i++) dbs.push(await createTestDatabase());
});
afterAll(async () => {
  for (const ws of workspaces) ws.dispose();
  for (const db of dbs) await db.drop();
});

/** Every row Roster writes, without generated ids and timestamps, in a stable order. */
async function contents(pool: pg.Pool): Promise<Record<string, unknown[]>> {
  const queries: Record<string, string> = {
    users: `SELECT email FROM users ORDER BY 1`,
    organizations: `SELECT name, display_name, plan, managed_by, last_applied FROM organizations ORDER BY 1`,
    memberships: `SELECT o.name, u.email, m.role, m.seat, m.status, m.invited_by, m.managed_by, m.last_applied
                    FROM memberships m JOIN organizations o USING (org_id) JOIN users u USING (user_id) ORDER BY 1, 2`,
    grants: `SELECT o.name, u.email, g.resource_type, g.resource_name, g.role, g.expires_at, g.status,
                    g.invited_by, g.managed_by, g.last_applied
               FROM grants g JOIN organizations o USING (org_id) JOIN users u USING (user_id) ORDER BY 1, 2, 3, 4`,
    contacts: `SELECT o.name, c.email, c.name AS contact, c.categories, c.managed_by, c.last_applied
                 FROM contacts c JOIN organizations o USING (org_id) ORDER BY 1, 2`,
    invitations: `SELECT o.name, u.email, i.subject, i.resource_type, i.resource_name, i.role, i.invited_by, i.status
                    FROM invitations i JOIN organizations o USING (org_id) JOIN users u USING (user_id)
                   ORDER BY 1, 2, 3, 4, 5, 8, 6`,
    outbox: `SELECT o.name, u.email, i.subject, i.resource_name, i.role, x.kind,
                    x.idempotency_key = 'invitation:' || i.org_id || ':' || i.invitation_id AS keyed
               FROM outbox x JOIN invitations i ON i.org_id = x.org_id
                    AND i.invitation_id = (x.payload ->> 'invitationId')::bigint
               JOIN organizations o ON o.org_id = i.org_id JOIN users u ON u.user_id = i.user_id
              ORDER BY 1, 2, 3, 4, 5`,
    audit: `SELECT o.name, a.actor, a.action, a.record, a.record_key, a.before, a.after, a.source
              FROM audit_log a LEFT JOIN organizations o USING (org_id) ORDER BY 5, 3, a.audit_id`,
  };
  const out: Record<string, unknown[]> = {};
  for (const [table, sql] of Object.entries(queries)) out[table] = (await pool.query(sql)).rows;
  return out;
}

/** Values COPY's text format must escape, or that look like its markers. */
const AWKWARD = [
  'tab\there',
  'line\nbreak',
  'carriage\rreturn',
  'back\\slash',
  '\\N',
  'a,b',
  '{x}',
  'quote"d',
  "o'brien",
  'Crème ☕',
  '',
];

/** Three organizations with members, grants (some expiring) and awkward contacts. */
function tenants(round: number): string {
  const plan = doc('Plan', 'big', {
    seats: { paid: 1000, free: 100 },
    maxResources: 10,
    features: ['members', 'resourceGrants', 'customRoles'],
  });
  const orgs = ['acme', 'globex', 'initech'].map((org, o) =>
    doc('Organization', org, {
      plan: 'big',
      displayName: `${org}\t${AWKWARD[o]}`,
      owner: `owner@${org}.io`,
      resources: [
        { type: 'site', name: 'www' },
        { type: 'site', name: 'blog' },
      ],
      members: Array.from({ length: 30 }, (_, i) => ({
        user: `m${i}+${org}@people.io`,
        // The second round changes some roles, suspends some and drops the last five.
        role: round === 2 && i % 4 === 0 ? 'administrator' : 'developer',
        ...(i % 7 === 0 && { seat: 'free' }),
        ...(round === 2 && i % 9 === 0 && { suspended: true }),
      })).slice(0, round === 2 ? 25 : 30),
      contacts: AWKWARD.map((name, i) => ({
        email: `c${i}@${org}.io`,
        ...(name !== '' && { name: round === 2 ? `${name} (2)` : name }),
        categories: i % 2 === 0 ? ['billing', 'support'] : ['technical'].map(() => 'domains'),
      })),
    }),
  );
  const grants = ['acme', 'globex', 'initech'].flatMap((org) =>
    Array.from({ length: 10 }, (_, i) =>
      doc('Grant', `${org}-g${i}`, {
        org,
        user: `g${i}@guests.io`,
        resource: i % 2 === 0 ? 'site/www' : 'site/blog',
        role: round === 2 && i % 5 === 0 ? 'resource-administrator' : 'resource-developer',
        ...(i % 3 === 0 && { expires: `2099-0${1 + (i % 9)}-01T00:00:00Z` }),
      }),
    ).slice(0, round === 2 ? 8 : 10),
  );
  return [plan, ...orgs, ...grants].join('---\n');
}

describe('the COPY write path', () => {
  it('quotes what COPY text format must escape, and writes SQL NULL as \\N', () => {
    expect(copyText(null)).toBe('\\N');
    expect(copyText(undefined)).toBe('\\N');
    expect(copyText('\\N')).toBe('\\\\N');
    expect(copyText('a\tb\nc\rd\\e')).toBe('a\\tb\\nc\\rd\\\\e');
    expect(copyText(true)).toBe('true');
    expect(copyText(42)).toBe('42');
    expect(copyText({ a: 'x\ty' })).toBe('{"a":"x\\\\ty"}');
  });

  it('writes exactly what the array path writes, creating and then updating and deleting', async () => {
    // One database through COPY for every kind (copyFrom 1), one through arrays only.
    const [viaCopy, viaArrays] = [dbs[0]!, dbs[1]!];
    for (const round of [1, 2]) {
      const results = [];
      for (const [db, copyFrom] of [
        [viaCopy, 1],
        [viaArrays, Infinity],
      ] as const) {
        const ws = createWorkspace(db.url);
        workspaces.push(ws);
        ws.write('tenants.yaml', tenants(round));
        const applied = await applyFiles(db.pool, ws.dir, { full: true, copyFrom });
        expect(applied, `round ${round}`).toBeDefined();
        results.push(applied!);
      }
      expect(results[0]!.rowsWritten).toBe(results[1]!.rowsWritten);
      expect(results[0]!.rowsWritten).toBeGreaterThan(100);
      const [copied, arrayed] = [await contents(viaCopy.pool), await contents(viaArrays.pool)];
      expect(copied).toEqual(arrayed);
      // The awkward values arrived intact.
      const names = copied.contacts!.map((r) => (r as { contact: string | null }).contact);
      for (const value of AWKWARD.filter((v) => v !== '')) {
        expect(names).toContain(round === 2 ? `${value} (2)` : value);
      }
      expect(copied.memberships!.length).toBe(round === 1 ? 93 : 78);
    }
    // Nothing is left staged: the temporary tables went with the transaction.
    const { rows } = await viaCopy.pool.query(
      `SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE '%\\_stage' AND relpersistence = 't'`,
    );
    expect(rows[0].n).toBe(0);
  });

  it('says so, and writes nothing, when the database role may not create temporary tables', async () => {
    const db = dbs[3]!;
    const role = `roster_no_temp_${Date.now()}`;
    const name = new URL(db.url).pathname.slice(1);
    await db.pool.query(`CREATE ROLE ${role} LOGIN PASSWORD 'no-temp'`);
    await db.pool.query(`REVOKE TEMPORARY ON DATABASE ${name} FROM PUBLIC`);
    await db.pool.query(`GRANT ALL ON ALL TABLES IN SCHEMA public TO ${role}`);
    await db.pool.query(`GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO ${role}`);
    const url = new URL(db.url);
    url.username = role;
    url.password = 'no-temp';
    const limited = new pg.Pool({ connectionString: url.toString(), max: 2 });
    const ws = createWorkspace(db.url);
    workspaces.push(ws);
    ws.write('tenants.yaml', tenants(1));
    try {
      const before = await tableCounts(db.pool);
      const refused = applyFiles(limited, ws.dir, { full: true, copyFrom: 1 });
      await expect(refused).rejects.toBeInstanceOf(RosterError);
      await expect(refused).rejects.toThrow(
        /through a temporary table, and the database role may not create one: GRANT TEMPORARY ON DATABASE <database> TO <role>/,
      );
      expect(await tableCounts(db.pool)).toEqual(before);
      // The same apply in batches of arrays needs no temporary table.
      expect(await applyFiles(limited, ws.dir, { full: true, copyFrom: Infinity })).toBeDefined();
    } finally {
      await limited.end();
      await db.pool.query(`DROP OWNED BY ${role}`);
      await db.pool.query(`DROP ROLE ${role}`);
    }
  });

  it('leaves nothing behind when killed while staging and writing a large apply', async () => {
    const db = dbs[2]!;
    const ws = createWorkspace(db.url);
    workspaces.push(ws);
    // 12,000 members: over the default threshold, so `roster apply` itself stages them.
    const plan = doc('Plan', 'big', {
      seats: { paid: 20_000, free: 100 },
      maxResources: 10,
      features: ['members'],
    });
    const members = Array.from({ length: 12_000 }, (_, i) => ({
      user: `m${i}@people.io`,
      role: 'developer',
    }));
    ws.write(
      'big.yaml',
      [plan, doc('Organization', 'big', { plan: 'big', owner: 'o@big.io', members })].join('---\n'),
    );
    const before = await tableCounts(db.pool);
    // Hold the memberships table: the apply stages and writes the users, stages the members
    // through COPY, then waits for the table, where it is killed.
    const blocker = await db.pool.connect();
    let child: ReturnType<typeof spawn> | undefined;
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE memberships IN EXCLUSIVE MODE');
      child = spawn(
        process.execPath,
        [`${ROOT}bin/roster.js`, 'apply', '-f', 'big.yaml', '--yes'],
        {
          cwd: ws.dir,
          env: { ...process.env, DATABASE_URL: db.url },
          stdio: 'ignore',
        },
      );
      const waiting = async () =>
        (
          await db.pool.query(
            `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
              WHERE c.relname = 'memberships' AND NOT l.granted`,
          )
        ).rows[0].n > 0;
      for (let i = 0; i < 600 && !(await waiting()); i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(await waiting()).toBe(true);
      // It waits in the statement reading the staged members (another session cannot see an
      // uncommitted temporary table, but can see the statement).
      const { rows: statements } = await db.pool.query(
        `SELECT query FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%memberships%'`,
      );
      expect(statements.map((r) => r.query)).toEqual([
        expect.stringContaining('FROM pg_temp.memberships_stage AS x'),
      ]);
      const exited = new Promise((resolve) => child!.on('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
    }
    // The server finishes the statement it was in, finds the client gone and rolls back.
    await advisoryLocksReleased(db.pool, 10_000);
    expect(await tableCounts(db.pool)).toEqual(before);
    const { rows: left } = await db.pool.query(
      `SELECT count(*)::int AS n FROM pg_class WHERE relpersistence = 't' AND relname LIKE '%\\_stage'`,
    );
    expect(left[0].n).toBe(0);
    // A re-run applies everything, once.
    const again = await ws.rosterAsync(['apply', '-f', 'big.yaml', '--yes', '--no-deliver']);
    expect(again.stderr).toBe('');
    expect(again.status).toBe(0);
    const after = await tableCounts(db.pool);
    expect(after.memberships).toBe(12_001);
    expect(after.invitations).toBe(12_001);
    expect(after.outbox).toBe(12_001);
    expect(ws.roster(['plan', '-f', 'big.yaml', '--detailed-exitcode']).status).toBe(0);
  });
});
