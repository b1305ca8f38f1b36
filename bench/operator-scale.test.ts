/**
 * The operator at scale (opt-in: `npm run bench:operator -- 2000`, or ROSTER_BENCH_OPERATOR_ORGS):
 * N organizations of one owner and 10 Membership resources each, applied with kubectl to the
 * test API server; reports how long the operator takes to converge (records written, every
 * resource Ready) and a no-change resync pass. Figures, not assertions on time; they are in
 * docs/operator.md. The test API server runs in this process, on the same cores.
 */
import { describe, expect, it } from 'vitest';
import type { Operator } from '../src/operator/operator.js';
import { eventually, startCluster } from '../test/kube/harness.js';

const orgs = Number(process.env.ROSTER_BENCH_OPERATOR_ORGS ?? 0);
const MEMBERS = 10;
/**
 * Writes per second to the API server while converging (the operator's `--kube-qps`, 20 by
 * default): at 20, a first convergence of 10,000 resources (three writes each) takes 25 minutes
 * whatever the operator does; ROSTER_BENCH_OPERATOR_QPS raises it to measure the rest.
 */
const qps = Number(process.env.ROSTER_BENCH_OPERATOR_QPS ?? 20);

describe.runIf(orgs > 0)('operator at scale', () => {
  it(`converges on ${orgs} organizations`, async () => {
    const cluster = await startCluster();
    try {
      const docs = [
        `apiVersion: roster.dev/v1alpha1\nkind: Plan\nmetadata: { name: bench }\nspec: { seats: { paid: 100 }, features: [members] }\n`,
      ];
      for (let o = 0; o < orgs; o++) {
        docs.push(
          `apiVersion: roster.dev/v1alpha1\nkind: Organization\nmetadata: { name: org-${o} }\nspec: { plan: bench, owner: owner@org-${o}.example }\n`,
        );
        for (let m = 0; m < MEMBERS; m++) {
          docs.push(
            `apiVersion: roster.dev/v1alpha1\nkind: Membership\nmetadata: { name: org-${o}-m${m} }\nspec: { org: org-${o}, user: m${m}@org-${o}.example, role: developer }\n`,
          );
        }
      }
      let started = Date.now();
      const applied = await cluster.kubectl(
        ['apply', '--validate=false', '-f', '-'],
        docs.join('---\n'),
      );
      expect(applied.status, applied.stderr).toBe(0);
      const kubectlMs = Date.now() - started;

      started = Date.now();
      const operator: Operator = await cluster.startOperator({
        delivery: undefined,
        rateLimit: { qps, burst: Math.max(30, qps), concurrency: 8 },
      });
      await eventually(
        'every membership written',
        async () =>
          (await cluster.db.pool.query('SELECT count(*)::int AS n FROM memberships')).rows[0].n ===
          orgs * (MEMBERS + 1),
        1_800_000,
      );
      const writtenMs = Date.now() - started;
      await eventually(
        'every resource Ready',
        () =>
          cluster.api.list('roster.dev', 'v1alpha1', 'memberships').every((m) =>
            // Read as values: the API server returns the keys sorted.
            (
              (m.status as { conditions?: { type: string; status: string }[] } | undefined)
                ?.conditions ?? []
            ).some((c) => c.type === 'Ready' && c.status === 'True'),
          ),
        1_800_000,
      );
      const readyMs = Date.now() - started;

      started = Date.now();
      (operator as unknown as { resync(): void }).resync();
      await new Promise((resolve) => setTimeout(resolve, 50));
      await eventually(
        'resync done',
        async () => /roster_operator_queue_depth 0\n/.test(await operator.metrics.render()),
        1_800_000,
      );
      const resyncMs = Date.now() - started;
      const figures = {
        organizations: orgs,
        resources: docs.length,
        kubeQps: qps,
        kubectlApplyMs: kubectlMs,
        recordsWrittenMs: writtenMs,
        allReadyMs: readyMs,
        noChangeResyncMs: resyncMs,
        perOrganizationResyncMs: Math.round((resyncMs / orgs) * 100) / 100,
      };
      console.log(JSON.stringify(figures, null, 2));
    } finally {
      await cluster.dispose();
    }
  }, 3_600_000);
});
