import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { KINDS } from '../core/schema/index.js';
import { generateCrdFiles, toStructuralSchema } from './generate-crds.js';

const crdDirectory = fileURLToPath(new URL('../../crds/', import.meta.url));

type Schema = Record<string, unknown>;

/** Every sub-schema with the path that leads to it. */
function* walk(schema: Schema, path = '$'): Generator<[string, Schema]> {
  yield [path, schema];
  for (const [key, value] of Object.entries((schema.properties ?? {}) as Record<string, Schema>)) {
    yield* walk(value, `${path}.${key}`);
  }
  if (typeof schema.items === 'object') yield* walk(schema.items as Schema, `${path}[]`);
  if (typeof schema.additionalProperties === 'object') {
    yield* walk(schema.additionalProperties as Schema, `${path}{}`);
  }
}

describe('CRDs', () => {
  const files = generateCrdFiles();

  it('are checked in exactly as the generator produces them (run "npm run generate")', async () => {
    const checkedIn = (await readdir(crdDirectory))
      .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
      .sort();
    expect(checkedIn).toEqual([...files.keys()].sort());
    const kustomization = parse(await readFile(`${crdDirectory}kustomization.yaml`, 'utf8'));
    expect([...kustomization.resources].sort()).toEqual(checkedIn);
    for (const [name, text] of files) {
      expect(await readFile(`${crdDirectory}${name}`, 'utf8'), name).toBe(text);
    }
  });

  it('have one CRD per kind with a status subresource, short names and printer columns', () => {
    expect(files.size).toBe(KINDS.length);
    for (const text of files.values()) {
      const crd = parse(text);
      const version = crd.spec.versions[0];
      expect(crd.apiVersion).toBe('apiextensions.k8s.io/v1');
      expect(version.subresources).toEqual({ status: {} });
      expect(crd.spec.names.shortNames.length).toBeGreaterThan(0);
      expect(crd.spec.names.categories).toContain('roster');
      const columns = version.additionalPrinterColumns.map((c: { name: string }) => c.name);
      expect(columns).toEqual(expect.arrayContaining(['Ready', 'Age']));
    }
    const membership = parse(files.get('roster.dev_memberships.yaml') ?? '');
    const columns = membership.spec.versions[0].additionalPrinterColumns.map(
      (c: { name: string }) => c.name,
    );
    expect(columns).toEqual(expect.arrayContaining(['Org', 'User', 'Role', 'Status']));
  });

  it('have structural schemas the API server accepts', () => {
    for (const [name, text] of files) {
      const root = parse(text).spec.versions[0].schema.openAPIV3Schema as Schema;
      for (const [path, schema] of walk(root)) {
        const where = `${name} ${path}`;
        expect(schema.type, where).toBeTypeOf('string');
        for (const forbidden of ['const', 'uniqueItems', '$id', 'anyOf', 'oneOf', 'not']) {
          expect(schema, where).not.toHaveProperty(forbidden);
        }
        if (schema.properties !== undefined) {
          expect(schema, where).not.toHaveProperty('additionalProperties');
        }
        const mapKeys = schema['x-kubernetes-list-map-keys'] as string[] | undefined;
        if (mapKeys !== undefined) {
          const required = ((schema.items as Schema).required ?? []) as string[];
          expect(required, where).toEqual(expect.arrayContaining(mapKeys));
        }
        // CEL cost estimation needs bounds on the strings and lists a rule reaches.
        if (schema.type === 'array' && path.includes('.spec')) {
          expect(schema.maxItems, where).toBeTypeOf('number');
        }
      }
    }
  });

  it('carry the single-object rules as CEL validations', () => {
    const membership = parse(files.get('roster.dev_memberships.yaml') ?? '');
    const spec = membership.spec.versions[0].schema.openAPIV3Schema.properties.spec;
    const rules = spec['x-kubernetes-validations'].map((v: { rule: string }) => v.rule);
    expect(rules).toContain("self.role != 'owner'");
    expect(rules).toContain('self.org == oldSelf.org');
    const org = parse(files.get('roster.dev_organizations.yaml') ?? '');
    const orgSpec = org.spec.versions[0].schema.openAPIV3Schema.properties.spec;
    expect(orgSpec['x-kubernetes-validations'][0].rule).toContain('has(self.plan)');
  });

  it('turns JSON Schema keywords into their structural equivalents', () => {
    expect(
      toStructuralSchema({
        type: 'object',
        additionalProperties: false,
        properties: {
          kind: { type: 'string', const: 'Plan' },
          tags: { type: 'array', uniqueItems: true, items: { type: 'string' } },
        },
      }),
    ).toEqual({
      type: 'object',
      properties: {
        kind: { type: 'string', enum: ['Plan'] },
        tags: { type: 'array', 'x-kubernetes-list-type': 'set', items: { type: 'string' } },
      },
    });
  });
});
