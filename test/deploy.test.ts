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
    expect(env.SMTP_URL?.valueFrom?.secretKeyRef).toEqual({
      name: 'roster-smtp',
      key: 'url',
      optional: true,
    });
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

describe('deploy/ for production', () => {
  const render = (dir: string) =>
    parseAllDocuments(
      execFileSync('kubectl', ['kustomize', `${ROOT}${dir}`], { encoding: 'utf8' }),
    ).map(
      (d) => d.toJSON() as Record<string, any>, // eslint-disable-line @typescript-eslint/no-explicit-any
    );
  const base = render('deploy/');
  const of = (docs: Record<string, any>[], kind: string) => docs.filter((d) => d.kind === kind); // eslint-disable-line @typescript-eslint/no-explicit-any
  const podOf = (docs: Record<string, any>[]) => of(docs, 'Deployment')[0]?.spec.template; // eslint-disable-line @typescript-eslint/no-explicit-any

  it('keeps one replica through voluntary disruptions, and spreads the two across nodes', () => {
    const pdb = of(base, 'PodDisruptionBudget')[0];
    expect(pdb?.spec.minAvailable).toBe(1);
    const labels = podOf(base).metadata.labels;
    expect(pdb?.spec.selector.matchLabels).toEqual(labels);
    const spread = podOf(base).spec.topologySpreadConstraints;
    expect(spread.map((c: { topologyKey: string }) => c.topologyKey)).toEqual([
      'kubernetes.io/hostname',
      'topology.kubernetes.io/zone',
    ]);
    for (const c of spread) expect(c.labelSelector.matchLabels).toEqual(labels);
  });

  it('serves metrics on their own port, scrapeable by annotation, Service or ServiceMonitor', () => {
    const pod = podOf(base);
    const container = pod.spec.containers[0];
    expect(container.args).toEqual(
      expect.arrayContaining(['--metrics-port=8080', '--probe-port=8081']),
    );
    expect(container.ports).toEqual([
      { name: 'probes', containerPort: 8081 },
      { name: 'metrics', containerPort: 8080 },
    ]);
    expect(pod.metadata.annotations).toMatchObject({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': '8080',
    });
    const service = of(base, 'Service')[0];
    expect(service?.spec.ports).toEqual([{ name: 'metrics', port: 8080, targetPort: 'metrics' }]);
    // Without an SMTP Secret the operator still starts (it queues invitations).
    const smtp = container.env.find((e: { name: string }) => e.name === 'SMTP_URL');
    expect(smtp.valueFrom.secretKeyRef.optional).toBe(true);
    expect(of(base, 'ServiceMonitor')).toEqual([]);
  });

  it('installs with its own values through an overlay, with the optional ServiceMonitor', () => {
    const example = render('deploy/overlays/example');
    const container = podOf(example).spec.containers[0];
    expect(container.image).toBe('registry.example.com/platform/roster:0.1.0');
    const env = Object.fromEntries(
      container.env.map((e: { name: string; value?: string }) => [e.name, e.value]),
    );
    expect(env).toMatchObject({
      ROSTER_CLUSTER: 'prod-eu-1',
      ROSTER_PUBLIC_URL: 'https://access.example.com',
    });
    const monitor = of(example, 'ServiceMonitor')[0];
    expect(monitor?.metadata.namespace).toBe('roster-system');
    expect(monitor?.spec.endpoints[0].port).toBe('metrics');
    expect(monitor?.spec.selector.matchLabels).toEqual(of(example, 'Service')[0]?.metadata.labels);
  });
});
