/**
 * deploy/ renders with kustomize (kubectl's) into what docs/operator.md promises: the CRDs, a
 * restricted namespace, a Deployment that runs `roster operator` with leader election, probes,
 * limits, a locked-down security context, and secrets only by reference.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ROOT } from './support/run-roster.js';
import { KINDS } from '../src/core/schema/index.js';

const CRD_NAMES = KINDS.map((k) => `${k.plural}.roster.dev`).sort();

interface Container {
  args: string[];
  env: { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  livenessProbe: { httpGet: { path: string } };
  readinessProbe: { httpGet: { path: string } };
  resources: { limits: Record<string, string> };
  securityContext: Record<string, unknown>;
}

interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: {
    replicas?: number;
    template: {
      spec: {
        serviceAccountName: string;
        securityContext: { runAsNonRoot?: boolean };
        containers: Container[];
      };
    };
  };
}

describe('deploy/', () => {
  const rendered = execFileSync('kubectl', ['kustomize', `${ROOT}deploy/`], { encoding: 'utf8' });
  const manifests = parseAllDocuments(rendered).map((d) => d.toJSON() as Manifest);
  const byKind = (kind: string) => manifests.filter((m) => m.kind === kind);

  it('installs the six CRDs, the namespace and the operator in it', () => {
    expect(
      byKind('CustomResourceDefinition')
        .map((c) => c.metadata.name)
        .sort(),
    ).toEqual(CRD_NAMES);
    expect(byKind('Namespace')[0]?.metadata.name).toBe('roster-system');
    for (const m of manifests.filter(
      (m) =>
        !['CustomResourceDefinition', 'Namespace', 'ClusterRole', 'ClusterRoleBinding'].includes(
          m.kind,
        ),
    )) {
      expect(m.metadata.namespace, `${m.kind} ${m.metadata.name}`).toBe('roster-system');
    }
  });

  it('runs roster operator safely: leader election, probes, limits, non-root, secrets by reference', () => {
    const deployment = byKind('Deployment')[0];
    const pod = deployment?.spec?.template.spec;
    const container = pod?.containers[0] as Container;
    expect(container.args).toEqual(expect.arrayContaining(['operator', '--leader-elect']));
    expect(deployment?.spec?.replicas).toBeGreaterThanOrEqual(2);
    expect(pod?.serviceAccountName).toBe('roster-operator');
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    expect(container.resources.limits).toMatchObject({
      memory: expect.any(String),
      cpu: expect.any(String),
    });
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(pod?.securityContext.runAsNonRoot).toBe(true);
    const env = Object.fromEntries(container.env.map((e) => [e.name, e]));
    expect(env.DATABASE_URL?.valueFrom?.secretKeyRef).toEqual({
      name: 'roster-database',
      key: 'url',
    });
    expect(env.SMTP_URL?.valueFrom?.secretKeyRef).toEqual({ name: 'roster-smtp', key: 'url' });
    expect(rendered).not.toMatch(/postgres(ql)?:\/\/[^\s"']*:[^\s"']*@/);
    expect(byKind('Secret')).toEqual([]);
  });

  it('keeps the Lease permissions to the operator namespace', () => {
    const leaseRole = byKind('Role').find((r) => JSON.stringify(r).includes('leases'));
    expect(leaseRole?.metadata.namespace).toBe('roster-system');
    const clusterRules = byKind('ClusterRole').flatMap(
      (r) => (r as unknown as { rules: { resources: string[]; verbs: string[] }[] }).rules,
    );
    expect(clusterRules.some((r) => r.resources.includes('leases'))).toBe(false);
    expect(clusterRules.some((r) => r.resources.includes('secrets'))).toBe(false);
    expect(clusterRules.flatMap((r) => r.verbs)).not.toContain('*');
  });
});
