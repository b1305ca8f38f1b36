/**
 * `npm run bench -- [--records 10000,100000,1000000] [--orgs N]`: generates synthetic tenants,
 * then measures load+validate, first apply, no-change plan, a 1 % change (plan+apply), the rows a
 * second apply writes (must be 0, with 0 invitations), peak RSS per phase, and access checks
 * through the library and through `roster serve`. Uses DATABASE_URL, or starts its own PostgreSQL
 * (the npm-shipped PostgreSQL binaries) on this machine. Prints a table; writes bench/results/*.json.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { freePort, startScratchPostgres } from '../src/store/scratch-postgres.js';
import { Agent, request } from 'node:http';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { generateTenants } from './generate.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '10000,100000' },
    orgs: { type: 'string' },
    checks: { type: 'string', default: '20000' },
  },
});
const sizes = (values.records ?? '')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);

async function startPostgres(): Promise<{ url: string; stop: () => Promise<void> }> {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, stop: async () => {} };
  return startScratchPostgres({
    shared_buffers: '512MB',
    max_wal_size: '4GB',
    work_mem: '64MB',
    maintenance_work_mem: '256MB',
  });
}

function runPhase(phase: string, dir: string, url: string, extra = ''): Record<string, unknown> {
  const result = spawnSync(
    process.execPath,
    ['--max-old-space-size=4096', join(root, 'dist/bench/phase.js'), phase, dir, url, extra],
    {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  if (result.status !== 0) throw new Error(`phase ${phase} failed: ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}');
}

async function checkThroughServe(url: string, n: number): Promise<Record<string, unknown>> {
  const port = await freePort();
  const env = { ...process.env, DATABASE_URL: url };
  const created = spawnSync(
    process.execPath,
    [
      join(root, 'bin/roster.js'),
      'api-keys',
      'create',
      `bench-${Date.now()}`,
      '--all-organizations',
    ],
    { env, encoding: 'utf8' },
  );
  const key = created.stdout.trim().split('\n').pop() ?? '';
  if (created.status !== 0 || !key.startsWith('rk_')) {
    throw new Error(`could not create an API key: ${created.stderr}`);
  }
  const server = spawn(
    process.execPath,
    [
      join(root, 'bin/roster.js'),
      'serve',
      '--port',
      String(port),
      '--delivery-interval',
      '0',
      '--rate-limit',
      '0',
    ],
    { env, stdio: ['ignore', 'pipe', 'ignore'] },
  );
  await new Promise<void>((resolve) =>
    server.stdout.on('data', (c: Buffer) => c.toString().includes('serving') && resolve()),
  );
  const db = new pg.Pool({ connectionString: url, max: 1 });
  const { rows } = await db.query(
    `SELECT o.name AS org, u.email AS user FROM memberships m JOIN organizations o USING (org_id) JOIN users u USING (user_id) ORDER BY random() LIMIT 2000`,
  );
  await db.end();
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const latencies: number[] = [];
  const get = (path: string) =>
    new Promise<void>((resolve, reject) => {
      const started = performance.now();
      request(
        { host: '127.0.0.1', port, path, agent, headers: { authorization: `Bearer ${key}` } },
        (res) => {
          // Every answer must be a decision: a 401 or a 503 measures nothing.
          if (res.statusCode !== 200) {
            reject(new Error(`GET ${path}: HTTP ${res.statusCode}`));
            res.resume();
            return;
          }
          res.resume();
          res.on('end', () => {
            latencies.push(performance.now() - started);
            resolve();
          });
        },
      )
        .on('error', reject)
        .end();
    });
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < n) {
        const i = next++;
        const row = rows[i % rows.length];
        await get(
          `/api/v1/check?user=${encodeURIComponent(row.user)}&org=${row.org}&permission=members.view`,
        );
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  server.kill('SIGTERM');
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    phase: 'check-http',
    checks: n,
    p50ms: Number((latencies[Math.floor(n * 0.5)] ?? 0).toFixed(3)),
    p99ms: Number((latencies[Math.floor(n * 0.99)] ?? 0).toFixed(3)),
    perSecond: Math.round(n / seconds),
    concurrency: 16,
  };
}

/** Changes one member's role in each of these organizations' files, as a pull request would. */
async function editOrganizations(directory: string, indexes: readonly number[]): Promise<void> {
  for (const i of indexes) {
    const file = join(directory, `tenant-${i}.yaml`);
    const text = await readFile(file, 'utf8');
    // The first `role:` is a member's (members come before grants).
    const edited = text.replace(/role: ([a-z-]+)/, (_, role: string) =>
      role === 'developer' ? 'role: administrator' : 'role: developer',
    );
    if (edited === text) throw new Error(`${file} has no member to edit`);
    await writeFile(file, edited);
  }
}

/** The database's size on disk after the applies and deliveries: tables, indexes, TOAST. */
async function databaseSize(url: string): Promise<Record<string, unknown>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const total = await client.query<{ bytes: string }>(
      `SELECT pg_database_size(current_database())::text AS bytes`,
    );
    const tables = await client.query<{ name: string; bytes: string }>(
      `SELECT c.relname AS name, pg_total_relation_size(c.oid)::text AS bytes
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind = 'r'
        ORDER BY pg_total_relation_size(c.oid) DESC LIMIT 6`,
    );
    const mb = (bytes: string) => Math.round(Number(bytes) / 1024 / 1024);
    return {
      ms: 0,
      detail: `${mb(total.rows[0]?.bytes ?? '0')} MB: ${tables.rows.map((t) => `${t.name} ${mb(t.bytes)} MB`).join(', ')}`,
      bytes: Number(total.rows[0]?.bytes ?? 0),
    };
  } finally {
    await client.end();
  }
}

const postgres = await startPostgres();
const results: Record<string, unknown>[] = [];
const scratch = await mkdtemp(join(tmpdir(), 'roster-bench-'));
try {
  for (const records of sizes) {
    const orgs = Number(values.orgs ?? Math.min(10_000, Math.max(10, Math.floor(records / 100))));
    // The working copy `work/tenants` is applied, edited and planned again, as a repository
    // would be; `changed/tenants` is the same tenants with 1 % of memberships changed.
    const work = join(scratch, `${records}-work`);
    const base = join(work, 'tenants');
    const changed = join(scratch, `${records}-changed`, 'tenants');
    const generated = await generateTenants(base, { records, orgs });
    await generateTenants(changed, { records, orgs, mutate: 0.01 });
    const dbName = `bench_${records}`;
    const admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName}`);
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    const url = new URL(postgres.url);
    url.pathname = `/${dbName}`;
    const db = url.toString();
    const row = (name: string, r: Record<string, unknown>) => {
      const entry = { size: records, orgs, step: name, ...r };
      results.push(entry);
      console.error(JSON.stringify(entry));
      return entry;
    };
    row('load+validate', runPhase('validate', base, db));
    row('first apply', runPhase('apply', work, db, 'full'));
    row('no-change plan', runPhase('plan', work, db));
    row('no-change plan --full', runPhase('plan', work, db, 'full'));
    await editOrganizations(base, [Math.min(100, orgs - 1)]);
    row('1 organization changed: plan+apply', runPhase('apply', work, db));
    await editOrganizations(
      base,
      Array.from({ length: Math.max(1, Math.floor(orgs / 100)) }, (_, i) => i * 100 + 7),
    );
    row('1% of organizations changed: plan+apply', runPhase('apply', work, db));
    await cp(changed, base, { recursive: true, force: true });
    row('1% of memberships changed, spread: plan+apply', runPhase('apply', work, db));
    row('second apply', runPhase('apply', work, db));
    row('invitations list (page)', runPhase('invitations', base, db));
    row('deliver to .eml', runPhase('deliver', base, db, '15'));
    row('deliver over SMTP', runPhase('deliver-smtp', base, db, '15'));
    row('database size', await databaseSize(db));
    if (records === sizes[sizes.length - 1]) {
      row('check (library)', runPhase('check', base, db, values.checks));
      row('check (roster serve)', await checkThroughServe(db, Number(values.checks)));
    }
    await rm(work, { recursive: true, force: true });
    await rm(join(changed, '..'), { recursive: true, force: true });
    console.error(`generated ${generated.records} records in ${generated.files} files`);
  }
} finally {
  await postgres.stop();
  await rm(scratch, { recursive: true, force: true });
}

const machine = {
  cpus: cpus().length,
  cpu: cpus()[0]?.model,
  memoryGb: Math.round(totalmem() / 1024 ** 3),
  node: process.version,
};
const table = [
  [
    'records',
    'step',
    'ms',
    'peak RSS MB',
    'changes',
    'rows written',
    'invitations',
    'p50 ms',
    'p99 ms',
    'per s',
    'detail',
  ],
  ...results.map((r) =>
    [
      r.size,
      r.step,
      r.ms ?? '',
      r.peakRssMb ?? '',
      r.changes ?? '',
      r.rowsWritten ?? '',
      r.invitationsQueued ?? '',
      r.p50ms ?? '',
      r.p99ms ?? '',
      r.perSecond ?? '',
      r.detail ?? '',
    ].map(String),
  ),
];
const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
console.log(table.map((r) => r.map((c, i) => c.padStart(widths[i] ?? 0)).join('  ')).join('\n'));
await mkdir(join(root, 'bench/results'), { recursive: true });
const file = join(
  root,
  'bench/results',
  `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`,
);
await writeFile(file, `${JSON.stringify({ machine, results }, null, 2)}\n`);
console.log(`\nwrote ${file}`);
