/**
 * `roster operator` as a process: started from a kubeconfig, it reconciles what kubectl applies,
 * serves its probes, logs JSON without secrets, and on SIGTERM finishes and hands the Lease back.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/store/scratch-postgres.js';
import { ROOT } from './support/run-roster.js';
import { eventually, startCluster, type TestCluster } from './kube/harness.js';
import { recipientOf } from './support/smtp.js';

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster();
});

afterAll(async () => {
  await cluster?.dispose();
});

describe('roster operator', () => {
  it('runs from a kubeconfig, reconciles, serves probes, and stops gracefully on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roster-operator-'));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, cluster.api.kubeconfig());
    const port = await freePort();
    const metricsPort = await freePort();
    const child = spawn(
      process.execPath,
      [
        `${ROOT}bin/roster.js`,
        'operator',
        '--kubeconfig',
        kubeconfig,
        '--cluster',
        'ci',
        '--leader-elect',
        '--lease-namespace',
        'default',
        `--probe-port=${port}`,
        `--metrics-port=${metricsPort}`,
        '--delivery-interval=1',
      ],
      {
        cwd: dir,
        env: {
          ...process.env,
          DATABASE_URL: cluster.db.url,
          SMTP_URL: cluster.smtp.url,
          POD_NAME: 'roster-0',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      const applied = await cluster.kubectl([
        'apply',
        '--validate=false',
        '-f',
        `${ROOT}examples/small-saas/`,
      ]);
      expect(applied.status, applied.stderr).toBe(0);
      await eventually('organization Ready', async () => {
        const table = await cluster.kubectl(['get', 'organizations']);
        return /brightlane\s+saas-team\s+maya@brightlane.app\s+5\s+True/.test(table.stdout);
      });
      await eventually('5 invitations sent', () => cluster.smtp.messages.length >= 5);
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
      // Metrics on their own port, as deploy/ runs it; the probe port serves probes only.
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(404);
      expect(metrics).toMatch(/roster_operator_invitations_sent_total 5/);
      const managers = await cluster.db.pool.query(`SELECT DISTINCT managed_by FROM organizations`);
      expect(managers.rows).toEqual([{ managed_by: 'operator:ci/default' }]);
      const lease = JSON.parse(
        (await cluster.kubectl(['get', 'lease', 'roster-operator', '-o', 'json'])).stdout,
      );
      expect(lease.spec.holderIdentity).toMatch(/^roster-0_[0-9a-f]{8}$/);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    const lines = stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string });
    expect(lines.map((l) => l.msg)).toEqual(
      expect.arrayContaining(['starting', 'shutting down', 'released the lease', 'stopped']),
    );
    // The database URL carries a password in production: it never reaches the logs.
    expect(stderr).not.toContain(cluster.db.url);
    const lease = JSON.parse(
      (await cluster.kubectl(['get', 'lease', 'roster-operator', '-o', 'json'])).stdout,
    );
    expect(lease.spec.holderIdentity).toBe('');
  });

  it('runs one shard per namespace side by side, each leading on its own Lease', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'roster-shards-'));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, cluster.api.kubeconfig());
    for (const namespace of ['team-a', 'team-b']) {
      const created = await cluster.kubectl(['create', 'namespace', namespace]);
      expect(created.status, created.stderr).toBe(0);
    }
    // team-a holds the platform's plan and a tenant; team-b a tenant on that plan, which its
    // shard does not watch: it reads it from the database, where the other shard put it.
    writeFileSync(
      join(dir, 'team-a.yaml'),
      `apiVersion: roster.dev/v1alpha1
kind: Plan
metadata: { name: shard-plan, namespace: team-a }
spec: { seats: { paid: 5 }, features: [members] }
---
apiVersion: roster.dev/v1alpha1
kind: Organization
metadata: { name: shard-a, namespace: team-a }
spec: { plan: shard-plan, owner: ada@shard-a.io, members: [{ user: al@shard-a.io, role: developer }] }
`,
    );
    writeFileSync(
      join(dir, 'team-b.yaml'),
      `apiVersion: roster.dev/v1alpha1
kind: Organization
metadata: { name: shard-b, namespace: team-b }
spec: { plan: shard-plan, owner: bea@shard-b.io, members: [{ user: bo@shard-b.io, role: developer }] }
`,
    );
    const shard = (namespace: string, pod: string) => {
      const child = spawn(
        process.execPath,
        [
          `${ROOT}bin/roster.js`,
          'operator',
          '--kubeconfig',
          kubeconfig,
          '--cluster',
          'ci',
          '--namespace',
          namespace,
          '--leader-elect',
          '--lease-namespace',
          'default',
          '--probe-port=0',
          '--resync=2',
          '--delivery-interval=1',
        ],
        {
          cwd: dir,
          env: {
            ...process.env,
            DATABASE_URL: cluster.db.url,
            SMTP_URL: cluster.smtp.url,
            POD_NAME: pod,
          },
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      return { child, exited, stderr: () => stderr };
    };
    const shards = [shard('team-a', 'shard-a-0'), shard('team-b', 'shard-b-0')];
    try {
      for (const namespace of ['team-a', 'team-b']) {
        const applied = await cluster.kubectl([
          'apply',
          '--validate=false',
          '-f',
          join(dir, `${namespace}.yaml`),
        ]);
        expect(applied.status, applied.stderr).toBe(0);
      }
      await eventually(
        'both tenants applied, each by its shard',
        async () => {
          const { rows } = await cluster.db.pool.query(
            `SELECT name, managed_by FROM organizations WHERE name LIKE 'shard-%' ORDER BY name`,
          );
          return rows.length === 2 ? rows : undefined;
        },
        30_000,
      ).then((rows) =>
        expect(rows).toEqual([
          { name: 'shard-a', managed_by: 'operator:ci/team-a' },
          { name: 'shard-b', managed_by: 'operator:ci/team-b' },
        ]),
      );
      for (const [namespace, pod] of [
        ['team-a', 'shard-a-0'],
        ['team-b', 'shard-b-0'],
      ]) {
        const lease = JSON.parse(
          (await cluster.kubectl(['get', 'lease', `roster-operator-${namespace}`, '-o', 'json']))
            .stdout,
        );
        expect(lease.spec.holderIdentity, namespace).toMatch(new RegExp(`^${pod}_[0-9a-f]{8}$`));
      }
      // Invitations are delivered once, whichever shard's round claims them.
      await eventually('4 invitations sent', () =>
        ['al@shard-a.io', 'ada@shard-a.io', 'bo@shard-b.io', 'bea@shard-b.io'].every((to) =>
          cluster.smtp.messages.some((m) => recipientOf(m) === to),
        ),
      );
      const shardMail = cluster.smtp.messages.filter((m) =>
        /@shard-[ab]\.io$/.test(recipientOf(m)),
      );
      expect(shardMail).toHaveLength(4);
    } finally {
      for (const { child } of shards) child.kill('SIGTERM');
    }
    for (const { exited, stderr } of shards) expect(await exited, stderr()).toBe(0);
  });

  it('says what is wrong with its options', async () => {
    const { runRosterAsync } = await import('./support/run-roster.js');
    const run = await runRosterAsync(['operator', '--workers', 'many'], {
      env: { KUBECONFIG: '/nonexistent' },
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('--workers must be a number from 1 to 64, not "many"');
  });
});
