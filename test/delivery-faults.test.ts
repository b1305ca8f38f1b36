/**
 * Invitation delivery under faults, through the real `roster` process: a mail server that accepts
 * the connection and never answers, an apply that stops after its commit, and a deliverer killed
 * with SIGKILL in the middle of sending.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { ROOT } from './support/run-roster.js';
import { recipientOf, startSmtp, type CapturingSmtp } from './support/smtp.js';
import { createWorkspace, TEAM_PLAN, tenant, type Workspace } from './support/workspace.js';

let db: TestDatabase;
let ws: Workspace;

beforeEach(async () => {
  db = await createTestDatabase();
  ws = createWorkspace(db.url);
});
afterEach(async () => {
  ws.dispose();
  await db.drop();
});

/** A mail server that takes connections and never says a word. */
async function startSilentSmtp(): Promise<{
  url: string;
  connections: () => number;
  close(): Promise<void>;
}> {
  const sockets = new Set<Socket>();
  let count = 0;
  const server: Server = createServer((socket) => {
    count += 1;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `smtp://127.0.0.1:${port}`,
    connections: () => count,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const members = (n: number) => Array.from({ length: n }, (_, i) => `m${i}@acme.io`);
const outbox = async () =>
  (
    await db.pool.query<{ delivered: number; queued: number; claimed: number; tokens: number }>(
      `SELECT count(*) FILTER (WHERE delivered_at IS NOT NULL)::int AS delivered,
              count(*) FILTER (WHERE delivered_at IS NULL)::int AS queued,
              count(*) FILTER (WHERE claimed_by IS NOT NULL AND delivered_at IS NULL)::int AS claimed,
              (SELECT count(*)::int FROM invitation_tokens) AS tokens
         FROM outbox`,
    )
  ).rows[0];

describe('a mail server that never answers', () => {
  let silent: Awaited<ReturnType<typeof startSilentSmtp>>;
  beforeEach(async () => {
    silent = await startSilentSmtp();
    ws.write('t.yaml', [TEAM_PLAN, tenant('acme', 'alice@acme.io', members(19))].join('---\n'));
  });
  afterEach(async () => {
    await silent.close();
  });

  it('does not hold up apply: it returns at its delivery deadline and says what stays queued', async () => {
    const started = Date.now();
    const run = await ws.rosterAsync(
      ['apply', '-f', 't.yaml', '--yes', '--deliver-timeout', '2s'],
      {
        SMTP_URL: silent.url,
      },
    );
    const seconds = (Date.now() - started) / 1000;
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/Apply complete: 23 added, 0 changed, 0 destroyed/);
    expect(run.stdout).toContain(
      `0 invitations sent to SMTP 127.0.0.1:${new URL(silent.url).port}; 20 stay queued (delivery stopped after 2 s): run "roster deliver", or keep "roster serve" running.`,
    );
    // Before: about 30 s per invitation, one after another.
    expect(seconds).toBeLessThan(12);
    // Several connections were tried at once, over a bounded pool.
    expect(silent.connections()).toBeGreaterThan(1);
    expect(silent.connections()).toBeLessThanOrEqual(4);
    // Released for the next run: nothing held, no tokens left behind for mails never sent.
    expect(await outbox()).toEqual({ delivered: 0, queued: 20, claimed: 0, tokens: 0 });
  }, 60_000);

  it('honours the greeting timeout: roster deliver fails fast and keeps the invitations queued', async () => {
    expect(
      (await ws.rosterAsync(['apply', '-f', 't.yaml', '--yes', '--no-deliver'], {})).status,
    ).toBe(0);
    const started = Date.now();
    const run = await ws.rosterAsync(['deliver'], {
      SMTP_URL: silent.url,
      ROSTER_SMTP_GREETING_TIMEOUT_MS: '300',
      ROSTER_RETRY_BASE_MS: '60000',
    });
    expect(run.status).toBe(1);
    expect(run.stdout).toContain('0 invitations sent');
    expect(run.stdout).toContain('20 failed and will be retried');
    expect(Date.now() - started).toBeLessThan(15_000);
    const list = JSON.parse(
      (await ws.rosterAsync(['invitations', 'list', '--format', 'json'])).stdout,
    ).invitations as { delivery: string }[];
    expect(list).toHaveLength(20);
    for (const row of list) {
      expect(row.delivery).toMatch(/^retrying \(1 attempt, next at .*Z\): .*[Gg]reeting/);
    }
    expect(await outbox()).toMatchObject({ delivered: 0, queued: 20, tokens: 0 });
  }, 60_000);
});

describe('an apply that stops after its commit', () => {
  let smtp: CapturingSmtp;
  beforeEach(async () => {
    smtp = await startSmtp();
    ws.write('t.yaml', [TEAM_PLAN, tenant('acme', 'alice@acme.io', members(3))].join('---\n'));
  });
  afterEach(async () => {
    await smtp.close();
  });

  it('leaves queued invitations that plan reports and the next apply sends', async () => {
    const env = { SMTP_URL: smtp.url };
    const first = await ws.rosterAsync(['apply', '-f', 't.yaml', '--yes', '--no-deliver'], env);
    expect(first.status).toBe(0);
    expect(first.stdout).toContain(
      '4 invitations are queued and not sent yet: run "roster deliver", or keep "roster serve" running.',
    );
    expect(smtp.messages).toHaveLength(0);

    const plan = await ws.rosterAsync(['plan', '-f', 't.yaml'], env);
    expect(plan.stdout).toBe(
      [
        'No changes. The access database matches the input.',
        '4 members have not accepted their invitation yet (roster invitations list).',
        '4 invitations are queued and not sent yet: "roster apply" sends them, or run "roster deliver".',
        '',
      ].join('\n'),
    );
    const json = JSON.parse(
      (await ws.rosterAsync(['plan', '-f', 't.yaml', '--format', 'json'], env)).stdout,
    );
    expect(json).toMatchObject({
      awaitingAcceptance: 4,
      awaitingAcceptanceBy: { memberships: 4, grants: 0 },
      queuedInvitations: 4,
    });
    const markdown = (await ws.rosterAsync(['plan', '-f', 't.yaml', '--format', 'markdown'], env))
      .stdout;
    expect(markdown).toContain('4 invitations are queued and not sent yet');

    const again = await ws.rosterAsync(['apply', '-f', 't.yaml', '--yes'], env);
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/^No changes\./);
    expect(again.stdout).toContain(`4 invitations sent to SMTP 127.0.0.1:${smtp.port}.`);
    expect(smtp.messages.map(recipientOf).sort()).toEqual([
      'alice@acme.io',
      'm0@acme.io',
      'm1@acme.io',
      'm2@acme.io',
    ]);
    const after = await ws.rosterAsync(['plan', '-f', 't.yaml'], env);
    expect(after.stdout).not.toContain('queued');
  }, 60_000);
});

describe('a deliverer killed in the middle of sending', () => {
  let smtp: CapturingSmtp;
  beforeEach(async () => {
    // Each message is recorded, then answered 250 after a while: a kill can fall in between.
    smtp = await startSmtp(0, { acceptDelayMs: 120 });
    ws.write('t.yaml', [TEAM_PLAN, tenant('acme', 'alice@acme.io', members(19))].join('---\n'));
  });
  afterEach(async () => {
    await smtp.close();
  });

  it('duplicates at most the messages in flight, reports the held lease, and sends the rest later', async () => {
    const concurrency = 2;
    const env = {
      SMTP_URL: smtp.url,
      ROSTER_SMTP_MAX_CONNECTIONS: String(concurrency),
      ROSTER_DELIVERY_LEASE_MS: '3000',
    };
    expect(
      (await ws.rosterAsync(['apply', '-f', 't.yaml', '--yes', '--no-deliver'], env)).status,
    ).toBe(0);

    const child = spawn(process.execPath, [`${ROOT}bin/roster.js`, 'deliver'], {
      cwd: ws.dir,
      env: { ...process.env, DATABASE_URL: db.url, ...env },
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    const deadline = Date.now() + 30_000;
    while (smtp.messages.length < 8 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    child.kill('SIGKILL');
    await exited;
    const received = smtp.messages.length;
    expect(received).toBeGreaterThanOrEqual(8);
    expect(received).toBeLessThan(20);
    const recorded = (await outbox())?.delivered ?? 0;
    // Recorded as each message was accepted: what the server has but the database lacks is what
    // was in flight when the process died.
    expect(received - recorded).toBeLessThanOrEqual(concurrency);

    // The lease of the dead run is reported as such, not as a retry with an empty error.
    const held = await ws.rosterAsync(['deliver'], env);
    expect(held.stdout).toMatch(
      / are held by a delivery that is still running or stopped before finishing \(they are sent again when its lease ends/,
    );
    const list = JSON.parse(
      (await ws.rosterAsync(['invitations', 'list', '--format', 'json'], env)).stdout,
    ).invitations as { delivery: string }[];
    const deliveries = list.map((r) => r.delivery);
    expect(
      deliveries.some((d) => /^sending \(claimed by .* pid \d+ at .*Z; held until .*Z\)$/.test(d)),
    ).toBe(true);
    expect(deliveries.some((d) => d.startsWith('retrying'))).toBe(false);

    await new Promise((resolve) => setTimeout(resolve, 3_100));
    const rest = await ws.rosterAsync(['deliver'], env);
    expect(rest.status, rest.stdout + rest.stderr).toBe(0);
    const recipients = smtp.messages.map(recipientOf);
    expect(new Set(recipients).size).toBe(20);
    const duplicates = recipients.length - 20;
    expect(duplicates).toBeLessThanOrEqual(concurrency);
    expect(await outbox()).toMatchObject({ delivered: 20, queued: 0, claimed: 0 });
    // One token per invitation: those of the dead run's unsent mails were replaced, not kept.
    expect((await outbox())?.tokens).toBe(20);
  }, 90_000);
});
