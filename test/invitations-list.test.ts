/**
 * `roster invitations list` at volume: pages by keyset, newest first, each row once, and reads
 * the outbox through its index (the statement used to read the outbox once per invitation).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { runRoster } from './support/run-roster.js';

const INVITATIONS = 30_000;
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
  await db.pool.query(`
    INSERT INTO organizations (name) VALUES ('acme'), ('globex');
    INSERT INTO users (email) SELECT 'user' || n || '@acme.io' FROM generate_series(1, ${INVITATIONS}) n;
    INSERT INTO invitations (org_id, user_id, subject, role, status)
    SELECT o.org_id, u.user_id, 'membership', 'developer',
           CASE WHEN u.user_id % 3 = 0 THEN 'accepted' ELSE 'pending' END
      FROM users u CROSS JOIN LATERAL (
        SELECT org_id FROM organizations WHERE name = CASE WHEN u.user_id % 2 = 0 THEN 'acme' ELSE 'globex' END) o
     ORDER BY u.user_id;
    INSERT INTO outbox (org_id, kind, idempotency_key, payload, delivered_at)
    SELECT org_id, 'invitation', 'invitation:' || org_id || ':' || invitation_id,
           jsonb_build_object('orgId', org_id, 'invitationId', invitation_id),
           CASE WHEN status = 'accepted' THEN now() END
      FROM invitations;
    ANALYZE;
  `);
});
afterAll(async () => db.drop());

interface Page {
  invitations: { user: string; org: string; status: string; delivery: string }[];
  next: string | null;
}

const list = (...args: string[]) => {
  const run = runRoster(['invitations', 'list', '--format', 'json', ...args], {
    env: { DATABASE_URL: db.url },
  });
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as Page;
};

describe('roster invitations list', () => {
  it('pages newest first, each invitation once, until "next" is null', () => {
    const seen: string[] = [];
    let page = list('--org', 'acme', '--limit', '1000');
    for (;;) {
      seen.push(...page.invitations.map((i) => i.user));
      if (page.next === null) break;
      expect(page.invitations).toHaveLength(1000);
      page = list('--org', 'acme', '--limit', '1000', '--after', page.next);
    }
    expect(seen).toHaveLength(INVITATIONS / 2);
    expect(new Set(seen).size).toBe(seen.length);
    // Newest first: users were invited in the order of their number.
    const numbers = seen.map((u) => Number(/\d+/.exec(u)?.[0]));
    expect(numbers).toEqual([...numbers].sort((a, b) => b - a));
  }, 120_000);

  it('filters by status and user, with the delivery state of each', () => {
    const accepted = list('--status', 'accepted', '--limit', '5');
    expect(accepted.invitations.map((i) => [i.status, i.delivery])).toEqual(
      Array(5).fill(['accepted', 'sent']),
    );
    const one = list('--user', 'USER43@acme.io');
    expect(one).toEqual({
      invitations: [
        expect.objectContaining({ user: 'user43@acme.io', org: 'globex', delivery: 'queued' }),
      ],
      next: null,
    });
  });

  it('says how to get the next page in text, and refuses a bad cursor or limit', () => {
    const text = runRoster(['invitations', 'list', '--limit', '2'], {
      env: { DATABASE_URL: db.url },
    });
    expect(text.stdout).toMatch(/^More: the same command with --after \d+$/m);
    const bad = runRoster(['invitations', 'list', '--after', "1' OR 1=1"], {
      env: { DATABASE_URL: db.url },
    });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/--after "1' OR 1=1" is not a cursor "invitations list" printed/);
    const limit = runRoster(['invitations', 'list', '--limit', '5000'], {
      env: { DATABASE_URL: db.url },
    });
    expect(limit.status).toBe(1);
    expect(limit.stderr).toMatch(/--limit must be a whole number from 1 to 1000/);
  });

  it('reads a page through indexes, not the whole outbox per invitation', async () => {
    const client = await db.pool.connect();
    try {
      const { rows } = await client.query(
        `EXPLAIN (FORMAT JSON)
         SELECT ob.outbox_id FROM invitations i
           LEFT JOIN LATERAL (SELECT ob.outbox_id FROM outbox ob
                               WHERE ob.kind = 'invitation' AND ob.org_id = i.org_id
                                 AND (ob.payload ->> 'invitationId')::bigint = i.invitation_id
                               ORDER BY ob.outbox_id DESC LIMIT 1) ob ON true
          ORDER BY i.invitation_id DESC LIMIT 101`,
      );
      const plan = JSON.stringify(rows[0]['QUERY PLAN']);
      expect(plan).toContain('"Index Name":"outbox_invitation"');
      expect(plan).toContain('"Index Name":"invitations_newest"');
      expect(plan).not.toMatch(
        /"Node Type":"Seq Scan","Parent Relationship":"[^"]*","[^}]*"Relation Name":"outbox"/,
      );
    } finally {
      client.release();
    }
  });
});
