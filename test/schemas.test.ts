/**
 * The JSON Schemas published for editors (`schemas/`): checked in as generated, named by a
 * modeline in every example, and validating every example with a validator other than Roster's
 * own (ajv): @cfworker/json-schema, a separate implementation of draft-07, as an editor's would be.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { Validator, type OutputUnit } from '@cfworker/json-schema';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ANY_KIND_SCHEMA_FILE, schemaFileName } from '../src/core/schema/published.js';
import { PUBLISHED_KINDS, schemaFiles } from '../src/files/schemas.js';
import { ROOT } from './support/run-roster.js';

const SCHEMAS = join(ROOT, 'schemas');
const schemaOf = (file: string) => JSON.parse(readFileSync(join(SCHEMAS, file), 'utf8')) as object;
const MODELINE = /^# yaml-language-server: \$schema=(\S+)$/m;

/** Every YAML file of examples/ with Roster documents (the Pulumi project file is not one). */
const exampleFiles = readdirSync(join(ROOT, 'examples'), { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.yaml') && !f.endsWith('Pulumi.yaml') && !f.includes('node_modules'))
  .map((f) => join(ROOT, 'examples', f))
  .sort();

const documentsOf = (text: string) => parseAllDocuments(text).map((d) => d.toJS() as unknown);

/** Errors of the deepest kind only, as `instanceLocation: error`. */
const errorLines = (errors: readonly OutputUnit[]) =>
  errors.map((e) => `${e.instanceLocation}: ${e.error}`);

describe('published JSON Schemas', () => {
  const files = schemaFiles();

  it('are checked in exactly as generated (run "npm run generate")', () => {
    expect(readdirSync(SCHEMAS).sort()).toEqual([...files.keys()].sort());
    for (const [name, text] of files) {
      expect(readFileSync(join(SCHEMAS, name), 'utf8'), name).toBe(text);
    }
    expect([...files.keys()]).toContain('organization.json');
    expect([...files.keys()]).toContain('access-test.json');
    expect([...files.keys()]).toContain('lint-rules.json');
  });

  it('name each example in a modeline that points at schemas/roster.json', () => {
    expect(exampleFiles.length).toBeGreaterThan(8);
    for (const file of exampleFiles) {
      const modeline = MODELINE.exec(readFileSync(file, 'utf8'));
      expect(modeline, relative(ROOT, file)).not.toBeNull();
      expect(resolve(dirname(file), modeline?.[1] ?? ''), relative(ROOT, file)).toBe(
        join(SCHEMAS, ANY_KIND_SCHEMA_FILE),
      );
    }
  });

  it('validate every example document, with the file schema and with its kind’s own', () => {
    const anyKind = new Validator(schemaOf(ANY_KIND_SCHEMA_FILE), '7', false);
    let checked = 0;
    for (const file of exampleFiles) {
      for (const document of documentsOf(readFileSync(file, 'utf8'))) {
        const kind = (document as { kind: string }).kind;
        const where = `${relative(ROOT, file)} ${kind}`;
        expect(errorLines(anyKind.validate(document).errors), where).toEqual([]);
        const own = new Validator(schemaOf(schemaFileName(kind)), '7', false);
        expect(errorLines(own.validate(document).errors), where).toEqual([]);
        checked += 1;
      }
    }
    // Every kind that examples use is covered; at least these must be.
    expect(checked).toBeGreaterThan(30);
  });

  it('catch a typo, a wrong type and an unknown kind, naming where', () => {
    const anyKind = new Validator(schemaOf(ANY_KIND_SCHEMA_FILE), '7', false);
    const [organization] = documentsOf(`
apiVersion: roster.dev/v1alpha1
kind: Organization
metadata: { name: acme }
spec:
  owner: ada@acme.test
  plan: team
  memebrs:
    - { user: bob@acme.test, role: developer }
`);
    const typo = errorLines(anyKind.validate(organization).errors).join('\n');
    expect(typo).toMatch(/#\/spec.*memebrs/);

    const [member] = documentsOf(`
apiVersion: roster.dev/v1alpha1
kind: Membership
metadata: { name: bob }
spec: { org: acme, user: bob@acme.test, role: developer, seat: gold }
`);
    expect(errorLines(anyKind.validate(member).errors).join('\n')).toMatch(/#\/spec\/seat/);

    const [unknown] = documentsOf(`
apiVersion: roster.dev/v1alpha1
kind: Organisation
metadata: { name: acme }
spec: {}
`);
    expect(errorLines(anyKind.validate(unknown).errors).join('\n')).toMatch(/#\/kind/);
  });

  it('have one file per kind Roster reads', () => {
    expect(PUBLISHED_KINDS.map((k) => schemaFileName(k.kind)).sort()).toEqual(
      [...files.keys()].filter((f) => f !== ANY_KIND_SCHEMA_FILE).sort(),
    );
  });
});
