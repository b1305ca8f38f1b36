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

  it('says what is wrong with its options', async () => {
    const { runRosterAsync } = await import('./support/run-roster.js');
    const run = await runRosterAsync(['operator', '--workers', 'many'], {
      env: { KUBECONFIG: '/nonexistent' },
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('--workers must be a number from 1 to 64, not "many"');
  });
});
