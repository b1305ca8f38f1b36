/**
 * One measured phase of the benchmark, in a process of its own so that its peak RSS is its own.
 * Prints one JSON line: the phase's timings, counts and peak RSS. Phases: validate, plan, apply,
 * invitations (list pages), deliver (to .eml files) and deliver-smtp (to a local SMTP server), each
 * for a bounded time, check.
 */
import { spawn } from 'node:child_process';
import { Readable, Writable } from 'node:stream';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { deliverOutbox } from '../src/mail/deliver.js';
import { fileTransport, smtpTransport } from '../src/mail/transport.js';
import { checkAccess } from '../src/store/access.js';
import { listInvitations } from '../src/store/invitations.js';
import { loadManifests } from '../src/index.js';
import { planOfInput } from '../src/cli/commands/plan.js';
import { planOptionsFrom } from '../src/cli/commands/plan-options.js';
import { prepareInput, recorder } from '../src/cli/plan-input.js';
import type { CliIo } from '../src/command/io.js';
import { desiredRecords } from '../src/core/records.js';
import { applyChanges } from '../src/store/apply.js';
import { migrate } from '../src/store/migrate.js';

const [phase = '', dir = '', databaseUrl = '', extra = ''] = process.argv.slice(2);
const timings: Record<string, number> = {};
const time = async <T>(name: string, fn: () => Promise<T> | T): Promise<T> => {
  const started = performance.now();
  const result = await fn();
  timings[name] = Math.round(performance.now() - started);
  return result;
};
const peakRssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);

const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
const out: Record<string, unknown> = { phase };
const started = performance.now();
try {
  if (phase === 'validate') {
    const loaded = await time('load', () => loadManifests([dir]));
    if (loaded.errors > 0) {
      throw new Error(`input has ${loaded.errors} errors: ${loaded.findings[0]?.message}`);
    }
    out.documents = loaded.documents;
    const desired = await time('records', () => desiredRecords(loaded.state));
    out.records = desired.filter((r) =>
      ['membership', 'grant', 'contact'].includes(r.id.kind),
    ).length;
  } else if (phase === 'plan' || phase === 'apply') {
    // What `roster plan -f tenants` and `roster apply -f tenants --yes` do, from `dir`: an
    // incremental plan unless `extra` is `full`.
    await migrate(pool);
    let said = '';
    const io: CliIo = {
      stdout: new Writable({ write: (_c, _e, done) => done() }),
      stderr: new Writable({
        write(chunk: Buffer, _e, done) {
          said += chunk.toString();
          done();
        },
      }),
      stdin: Readable.from([]),
      cwd: dir,
      env: {},
    };
    const now = new Date();
    const prepared = await time('read', () =>
      prepareInput(async () => pool, {
        paths: ['tenants'],
        io,
        strict: false,
        full: extra === 'full',
        options: (state) => planOptionsFrom({}, state, now),
      }),
    );
    if (prepared === undefined) throw new Error(`the input is invalid: ${said}`);
    out.records = prepared.desired.length;
    out.detail = said.trim().replace(/ \(--full plans every one\)\.$/, '') || 'full plan';
    if (phase === 'plan') {
      const plan = await time('plan', () => planOfInput(pool, prepared, { basis: false }));
      out.changes = plan.changes.length;
    } else {
      const outboxBefore = (await pool.query('SELECT count(*)::int AS n FROM outbox')).rows[0].n;
      const steps: Record<string, number> = {};
      let last = performance.now();
      let lastStep = 'lock, snapshot and plan';
      const record = recorder(prepared);
      const result = await time('apply', () =>
        applyChanges(
          pool,
          { desired: prepared.desired, options: prepared.options },
          {
            actor: 'bench',
            ...(record !== undefined && {
              record: async (db) => {
                steps[lastStep] = (steps[lastStep] ?? 0) + Math.round(performance.now() - last);
                last = performance.now();
                lastStep = 'record the input';
                await record(db);
              },
            }),
            onProgress: (_done, _total, what) => {
              const now = performance.now();
              // Large kinds are written in several batches: their steps add up.
              steps[lastStep] = (steps[lastStep] ?? 0) + Math.round(now - last);
              last = now;
              lastStep = what;
            },
            beforeCommit: async () => {
              steps[lastStep] = (steps[lastStep] ?? 0) + Math.round(performance.now() - last);
              last = performance.now();
              lastStep = 'commit';
            },
          },
        ),
      );
      steps[lastStep] = Math.round(performance.now() - last);
      out.steps = steps;
      out.changes = result.plan.changes.length;
      out.rowsWritten = result.rowsWritten;
      out.invitationsQueued =
        (await pool.query('SELECT count(*)::int AS n FROM outbox')).rows[0].n - outboxBefore;
    }
  } else if (phase === 'invitations') {
    // `roster invitations list`: the first page, and a page from the middle of the table.
    const total = (await pool.query('SELECT count(*)::int AS n FROM invitations')).rows[0].n;
    const middle = (
      await pool.query(
        'SELECT invitation_id::text AS id FROM invitations ORDER BY invitation_id OFFSET $1 LIMIT 1',
        [Math.floor(total / 2)],
      )
    ).rows[0]?.id;
    const first = await time('first page', () => listInvitations(pool, {}, { limit: 100 }));
    await time('middle page', () => listInvitations(pool, {}, { limit: 100, after: middle }));
    await time('one organization', () =>
      listInvitations(pool, { org: first.invitations[0]?.org ?? '' }, { limit: 100 }),
    );
    out.invitations = total;
    out.detail = `${total} invitations; first page ${timings['first page']} ms, middle page ${timings['middle page']} ms, one organization ${timings['one organization']} ms`;
  } else if (phase === 'deliver') {
    // `roster deliver` to .eml files for at most `extra` seconds (default 15).
    const directory = await mkdtemp(join(tmpdir(), 'roster-bench-mail-'));
    try {
      const report = await time('deliver', () =>
        deliverOutbox(pool, {
          transport: fileTransport(directory),
          publicUrl: 'https://access.example.com',
          from: 'Roster <roster@example.com>',
          deadlineMs: Number(extra || '15') * 1000,
        }),
      );
      out.sent = report.sent;
      out.queued = report.queued;
      out.perSecond = Math.round(report.sent / ((timings.deliver ?? 1) / 1000));
      out.detail = `${report.sent} sent, ${report.queued} still queued`;
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  } else if (phase === 'deliver-smtp') {
    // Delivery over pooled connections to a local SMTP server, for at most `extra` seconds. What
    // the .eml phase sent is queued again first, so that small sizes have something to send.
    await pool.query(
      `UPDATE outbox SET delivered_at = NULL, claimed_by = NULL, available_at = now(), attempts = 0
        WHERE kind = 'invitation' AND delivered_at IS NOT NULL`,
    );
    const sink = spawn(
      process.execPath,
      [join(dirname(fileURLToPath(import.meta.url)), 'smtp-sink.js')],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    try {
      const port = await new Promise<string>((resolve) =>
        sink.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().trim())),
      );
      const transport = smtpTransport(`smtp://127.0.0.1:${port}`);
      const report = await time('deliver', () =>
        deliverOutbox(pool, {
          transport,
          publicUrl: 'https://access.example.com',
          from: 'Roster <roster@example.com>',
          deadlineMs: Number(extra || '15') * 1000,
        }),
      );
      transport.close();
      out.sent = report.sent;
      out.perSecond = Math.round(report.sent / ((timings.deliver ?? 1) / 1000));
      out.detail = `${report.sent} sent over ${transport.concurrency} connections, ${report.queued} still queued`;
    } finally {
      sink.kill();
    }
  } else if (phase === 'check') {
    const n = Number(extra || '20000');
    const { rows } = await pool.query(
      `SELECT o.name AS org, u.email AS user FROM memberships m JOIN organizations o USING (org_id) JOIN users u USING (user_id)
        ORDER BY random() LIMIT 2000`,
    );
    const permissions = ['resources.manage', 'billing.view', 'members.view', 'support.tickets'];
    const latencies: number[] = [];
    await time('checks', async () => {
      for (let i = 0; i < n; i++) {
        const row = rows[i % rows.length];
        const t = performance.now();
        await checkAccess(pool, {
          user: row.user,
          org: row.org,
          permission: permissions[i % permissions.length] ?? 'members.view',
          resource: null,
        });
        latencies.push(performance.now() - t);
      }
    });
    latencies.sort((a, b) => a - b);
    out.checks = n;
    out.p50ms = Number((latencies[Math.floor(n * 0.5)] ?? 0).toFixed(3));
    out.p99ms = Number((latencies[Math.floor(n * 0.99)] ?? 0).toFixed(3));
    out.perSecond = Math.round(n / ((timings.checks ?? 1) / 1000));
  }
  out.ms = Math.round(performance.now() - started);
  out.timings = timings;
  out.peakRssMb = peakRssMb();
  process.stdout.write(`${JSON.stringify(out)}\n`);
} finally {
  await pool.end();
}
