/**
 * The test API server keeps the Kubernetes semantics the operator relies on; if it did not, the
 * operator tests would prove nothing. Driven with the real kubectl and with raw HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/run-roster.js';
import { KubeApiServer, jsonPath, mergePatch } from './api-server.js';
import { kubectlFor, type Kubectl } from './kubectl.js';
import { KINDS } from '../../src/core/schema/index.js';

const CRD_NAMES = KINDS.map((k) => `${k.plural}.roster.dev`).sort();

let api: KubeApiServer;
let kubectl: Kubectl;

beforeAll(async () => {
  api = new KubeApiServer({ historyLimit: 50 });
  await api.start();
  kubectl = kubectlFor(api);
  const crds = await kubectl(['apply', '--validate=false', '-k', `${ROOT}crds/`]);
  expect(crds.status, crds.stderr).toBe(0);
});

afterAll(async () => {
  await api?.stop();
  kubectl?.dispose();
});

const base = () => `${api.url}/apis/roster.dev/v1alpha1/namespaces/default/memberships`;
const request = async (
  method: string,
  url: string,
  body?: unknown,
  contentType = 'application/json',
) => {
  const response = await fetch(url, {
    method,
    headers: { 'Content-Type': contentType },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Body };
};
/** An object or a Status, as far as these tests read it. */
interface Body {
  metadata: {
    name: string;
    generation: number;
    resourceVersion: string;
    deletionTimestamp?: string;
  };
  spec: Record<string, unknown>;
  status?: Record<string, unknown>;
  message?: string;
  reason?: string;
}

const member = (name: string, role = 'developer') => ({
  apiVersion: 'roster.dev/v1alpha1',
  kind: 'Membership',
  metadata: { name, namespace: 'default' },
  spec: { org: 'acme', user: `${name}@acme.example`, role },
});

describe('the test API server', () => {
  it('serves discovery that kubectl uses for short names and categories', async () => {
    const shortName = await kubectl(['get', 'mship']);
    expect(shortName.status, shortName.stderr).toBe(0);
    const category = await kubectl(['get', 'roster']);
    expect(category.status, category.stderr).toBe(0);
    const resources = await kubectl(['api-resources', '--api-group=roster.dev', '-o', 'name']);
    expect(resources.stdout.trim().split('\n').sort()).toEqual(CRD_NAMES);
  });

  it('checks the CRD schema: types, patterns, enums, required fields; defaults filled in', async () => {
    const bad = await kubectl(
      ['apply', '--validate=false', '-f', '-'],
      'apiVersion: roster.dev/v1alpha1\nkind: Membership\nmetadata: { name: bad }\nspec: { org: "Not A Name", user: nobody, seat: 3 }\n',
    );
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('spec.org');
    expect(bad.stderr).toContain('spec.user');
    expect(bad.stderr).toContain('spec.role: Required value');
    expect(bad.stderr).toContain('spec.seat: Invalid value');
    const created = await request('POST', base(), member('dana'));
    expect(created.status).toBe(201);
    expect(created.body.spec.deletionPolicy).toBe('Delete');
    const strict = await request('POST', `${base()}?fieldValidation=Strict`, {
      ...member('erin'),
      spec: { ...member('erin').spec, colour: 'blue' },
    });
    expect(strict.status).toBe(400);
    expect(strict.body.message).toContain('unknown field "spec.colour"');
    const pruned = await request('POST', base(), {
      ...member('fay'),
      spec: { ...member('fay').spec, colour: 'blue' },
    });
    expect(pruned.body.spec.colour).toBeUndefined();
  });

  it('answers 409 to a write with a stale resourceVersion, and to a second create', async () => {
    const { body: current } = await request('GET', `${base()}/dana`);
    const first = await request('PUT', `${base()}/dana`, {
      ...current,
      spec: { ...current.spec, role: 'billing' },
    });
    expect(first.status).toBe(200);
    const stale = await request('PUT', `${base()}/dana`, {
      ...current,
      spec: { ...current.spec, role: 'administrator' },
    });
    expect(stale.status).toBe(409);
    expect(stale.body.reason).toBe('Conflict');
    const stalePatch = await request(
      'PATCH',
      `${base()}/dana`,
      {
        metadata: { resourceVersion: current.metadata.resourceVersion },
        spec: { role: 'administrator' },
      },
      'application/merge-patch+json',
    );
    expect(stalePatch.status).toBe(409);
    expect((await request('POST', base(), member('dana'))).body.reason).toBe('AlreadyExists');
  });

  it('bumps metadata.generation on spec changes only; status goes through /status alone', async () => {
    const before = (await request('GET', `${base()}/dana`)).body;
    const annotated = await request(
      'PATCH',
      `${base()}/dana`,
      { metadata: { annotations: { a: 'b' } } },
      'application/merge-patch+json',
    );
    expect(annotated.body.metadata.generation).toBe(before.metadata.generation);
    const ignored = await request(
      'PATCH',
      `${base()}/dana`,
      { status: { memberStatus: 'active' } },
      'application/merge-patch+json',
    );
    expect(ignored.body.status).toBeUndefined();
    const status = await request(
      'PATCH',
      `${base()}/dana/status`,
      { status: { memberStatus: 'active' }, spec: { role: 'owner' } },
      'application/merge-patch+json',
    );
    expect(status.body.status).toEqual({ memberStatus: 'active' });
    expect(status.body.spec.role).toBe('billing');
    expect(status.body.metadata.generation).toBe(before.metadata.generation);
    const changed = await request(
      'PATCH',
      `${base()}/dana`,
      { spec: { role: 'developer' } },
      'application/merge-patch+json',
    );
    expect(changed.body.metadata.generation).toBe(before.metadata.generation + 1);
    expect(Number(changed.body.metadata.resourceVersion)).toBeGreaterThan(
      Number(before.metadata.resourceVersion),
    );
  });

  it('holds a resource with finalizers until they are removed', async () => {
    await request(
      'PATCH',
      `${base()}/dana`,
      { metadata: { finalizers: ['example.com/hold'] } },
      'application/merge-patch+json',
    );
    const generation = (await request('GET', `${base()}/dana`)).body.metadata.generation;
    const deleting = await request('DELETE', `${base()}/dana`);
    expect(deleting.status).toBe(200);
    expect(deleting.body.metadata.deletionTimestamp).toBeDefined();
    // Setting the deletion timestamp moves the generation, as kube-apiserver does.
    expect(deleting.body.metadata.generation).toBe(generation + 1);
    expect((await request('GET', `${base()}/dana`)).status).toBe(200);
    const added = await request(
      'PATCH',
      `${base()}/dana`,
      { metadata: { finalizers: ['example.com/hold', 'x/y'] } },
      'application/merge-patch+json',
    );
    expect(added.status).toBe(422);
    await request(
      'PATCH',
      `${base()}/dana`,
      { metadata: { finalizers: null } },
      'application/merge-patch+json',
    );
    expect((await request('GET', `${base()}/dana`)).status).toBe(404);
  });

  it('decodes Time and MicroTime as strictly as kube-apiserver: a Lease needs six fractional digits', async () => {
    const leases = `${api.url}/apis/coordination.k8s.io/v1/namespaces/default/leases`;
    const lease = (renewTime: string) => ({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: `l-${renewTime.length}`, namespace: 'default' },
      spec: { holderIdentity: 'a', leaseDurationSeconds: 15, renewTime },
    });
    const millis = await request('POST', leases, lease('2026-11-23T10:00:00.123Z'));
    expect(millis.status).toBe(400);
    expect(millis.body.message).toContain(
      'Lease in version "v1" cannot be handled as a Lease: parsing time "2026-11-23T10:00:00.123Z" as "2006-01-02T15:04:05.000000Z07:00"',
    );
    expect((await request('POST', leases, lease('2026-11-23T10:00:00.123456Z'))).status).toBe(201);
    const condition = await request(
      'PATCH',
      `${base()}/fay/status`,
      {
        status: {
          conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: 'yesterday' }],
        },
      },
      'application/merge-patch+json',
    );
    expect(condition.status).toBe(400);
  });

  it('returns custom resources with sorted keys, and refuses a PUT without resourceVersion', async () => {
    const created = await fetch(base(), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        ...member('frank'),
        spec: { user: 'frank@acme.io', role: 'developer', org: 'acme' },
      }),
    });
    const text = await created.text();
    const keysOf = (json: string, path: string[]) => {
      let value = JSON.parse(json);
      for (const p of path) value = value[p];
      return Object.keys(value);
    };
    expect(keysOf(text, [])).toEqual([...keysOf(text, [])].sort());
    expect(keysOf(text, ['spec'])).toEqual([...keysOf(text, ['spec'])].sort());
    expect(keysOf(text, ['metadata'])).toEqual([...keysOf(text, ['metadata'])].sort());
    const { metadata, ...rest } = JSON.parse(text);
    const { resourceVersion: _rv, ...unversioned } = metadata;
    const put = await request('PUT', `${base()}/frank`, { ...rest, metadata: unversioned });
    expect(put.status).toBe(422);
    expect(put.body.message).toContain(
      'metadata.resourceVersion: Invalid value: 0x0: must be specified for an update',
    );
    expect((await request('PUT', `${base()}/frank`, { ...rest, metadata })).status).toBe(200);
  });

  it("evaluates the CRDs' CEL rules with a real CEL implementation, transition rules included", async () => {
    // A membership cannot move to another organization (a transition rule on spec).
    const created = await request('POST', base(), {
      ...member('gil'),
      spec: { org: 'acme', user: 'gil@acme.io', role: 'developer' },
    });
    expect(created.status).toBe(201);
    const moved = await request(
      'PATCH',
      `${base()}/gil`,
      { spec: { org: 'globex' } },
      'application/merge-patch+json',
    );
    expect(moved.status).toBe(422);
    expect(moved.body.message).toContain('spec: Invalid value: "object": org is immutable');
    // A plain rule: owner is never a membership role (on create, no oldSelf needed).
    const owner = await request('POST', base(), {
      ...member('hal'),
      spec: { org: 'acme', user: 'hal@acme.io', role: 'owner' },
    });
    expect(owner.status).toBe(422);
    expect(owner.body.message).toContain('owner is not a membership role');
    // A rule over the whole spec, with has() and a ternary.
    const plans = `${api.url}/apis/roster.dev/v1alpha1/namespaces/default/plans`;
    const noSeats = await request('POST', plans, {
      apiVersion: 'roster.dev/v1alpha1',
      kind: 'Plan',
      metadata: { name: 'empty', namespace: 'default' },
      spec: { seats: { paid: 0 } },
    });
    expect(noSeats.status).toBe(422);
    expect(noSeats.body.message).toContain('a plan needs at least one seat');
  });

  it('refuses a CRD that is not structural, or whose CEL does not compile', async () => {
    const crds = `${api.url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions`;
    const crd = (schema: object) => ({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'widgets.example.com' },
      spec: {
        group: 'example.com',
        scope: 'Namespaced',
        names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
        versions: [
          { name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: schema } },
        ],
      },
    });
    const untyped = await request(
      'POST',
      crds,
      crd({ type: 'object', properties: { spec: { properties: { size: { type: 'integer' } } } } }),
    );
    expect(untyped.status).toBe(422);
    expect(untyped.body.message).toContain('properties[spec].type: Required value');
    const badRule = await request(
      'POST',
      crds,
      crd({
        type: 'object',
        properties: {
          spec: {
            type: 'object',
            'x-kubernetes-validations': [{ rule: 'self.size >==', message: 'x' }],
            properties: { size: { type: 'integer' } },
          },
        },
      }),
    );
    expect(badRule.status).toBe(422);
    expect(badRule.body.message).toContain('compilation failed');
  });

  it('serves server-side apply: creates, merges, tracks field owners, and refuses a conflict unless forced', async () => {
    const yaml = (role: string, extra = '') =>
      `apiVersion: roster.dev/v1alpha1\nkind: Membership\nmetadata: { name: ssa-ivy }\nspec: { org: acme, user: ivy@acme.io, role: ${role}${extra} }\n`;
    const ssa = (args: string[], input: string) =>
      kubectl(
        ['apply', '--server-side', '--validate=false', '-n', 'default', '-f', '-', ...args],
        input,
      );
    const first = await ssa([], yaml('developer', ', seat: free'));
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toContain('membership.roster.dev/ssa-ivy serverside-applied');
    const read = async () =>
      JSON.parse(
        (
          await kubectl([
            'get',
            'membership',
            'ssa-ivy',
            '-n',
            'default',
            '-o',
            'json',
            '--show-managed-fields',
          ])
        ).stdout,
      );
    let object = await read();
    expect(object.spec).toMatchObject({ role: 'developer', seat: 'free' });
    expect(object.metadata.managedFields[0]).toMatchObject({
      manager: 'kubectl',
      operation: 'Apply',
      fieldsV1: { 'f:spec': { 'f:role': {}, 'f:seat': {} } },
    });
    // Applying again without `seat` removes the field the manager no longer applies (the
    // schema's default comes back).
    expect((await ssa([], yaml('billing'))).status).toBe(0);
    object = await read();
    expect(object.spec).toMatchObject({ role: 'billing', seat: 'paid' });
    // Another manager setting the same field to another value conflicts...
    const other = await ssa(['--field-manager=flux'], yaml('administrator'));
    expect(other.status).not.toBe(0);
    expect(other.stderr).toContain('conflict with "kubectl"');
    // ...unless it forces, and then owns the field.
    expect(
      (await ssa(['--field-manager=flux', '--force-conflicts'], yaml('administrator'))).status,
    ).toBe(0);
    object = await read();
    expect(object.spec.role).toBe('administrator');
    const managers = object.metadata.managedFields.map((m: { manager: string }) => m.manager);
    expect(managers).toEqual(['kubectl', 'flux']);
  });

  it('streams watch events from a resourceVersion, and answers 410 Gone once it is compacted', async () => {
    const list = (await request('GET', base())).body;
    const from = list.metadata.resourceVersion as string;
    const controller = new AbortController();
    const response = await fetch(`${base()}?watch=true&resourceVersion=${from}`, {
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    await request('POST', base(), member('gus'));
    const { value } = await reader.read();
    const event = JSON.parse(new TextDecoder().decode(value).split('\n')[0] as string);
    expect(event.type).toBe('ADDED');
    expect(event.object.metadata.name).toBe('gus');
    controller.abort();
    api.compact();
    await request('POST', base(), member('hal'));
    const gone = await fetch(`${base()}?watch=true&resourceVersion=${from}`);
    const text = await gone.text();
    expect(JSON.parse(text.trim())).toMatchObject({
      type: 'ERROR',
      object: { code: 410, reason: 'Expired' },
    });
  });

  it('prints tables with the CRD printer columns', async () => {
    const table = await kubectl(['get', 'memberships', '-o', 'wide']);
    expect(table.stdout.split('\n')[0]).toMatch(
      /^NAME\s+ORG\s+USER\s+ROLE\s+STATUS\s+INVITATION\s+READY\s+AGE$/,
    );
    expect(table.stdout).toMatch(/gus\s+acme\s+gus@acme.example\s+developer/);
  });

  it('refuses objects in a namespace that does not exist', async () => {
    const run = await kubectl(
      ['apply', '--validate=false', '-n', 'nowhere', '-f', '-'],
      JSON.stringify({ ...member('ivy'), metadata: { name: 'ivy' } }),
    );
    expect(run.stderr).toContain('namespaces "nowhere" not found');
  });

  it('evaluates JSONPath filters and merge patches as Kubernetes does', () => {
    const o = {
      status: {
        conditions: [
          { type: 'Synced', status: 'False' },
          { type: 'Ready', status: 'True' },
        ],
      },
    };
    expect(jsonPath(o, '.status.conditions[?(@.type=="Ready")].status')).toBe('True');
    expect(jsonPath(o, '.status.conditions[0].type')).toBe('Synced');
    expect(mergePatch({ a: 1, b: { c: 2, d: 3 } }, { b: { c: null, e: 4 }, f: [1] })).toEqual({
      a: 1,
      b: { d: 3, e: 4 },
      f: [1],
    });
  });
});
