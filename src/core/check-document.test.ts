import { describe, expect, it } from 'vitest';
import { checkDocument, formatPath, pointerToPath } from './check-document.js';
import type { Finding } from './findings.js';
import { DEFAULT_LIMITS } from './limits.js';
import { parseSource } from './parse.js';

function check(text: string) {
  const { documents, findings } = parseSource({ path: 'm.yaml', content: text }, DEFAULT_LIMITS);
  expect(findings).toEqual([]);
  const [document] = documents;
  if (document === undefined) throw new Error('no document');
  return checkDocument(document);
}

function findingsOf(text: string): Finding[] {
  const result = check(text);
  if (!Array.isArray(result)) throw new Error('expected findings');
  return result;
}

const membership = (spec: string) =>
  `apiVersion: roster.dev/v1alpha1\nkind: Membership\nmetadata:\n  name: m\nspec:\n${spec}`;

describe('checkDocument', () => {
  it('accepts a valid document and fills defaults', () => {
    const result = check(membership('  org: acme\n  user: bob@acme.io\n  role: developer\n'));
    expect(Array.isArray(result)).toBe(false);
    if (Array.isArray(result)) return;
    expect(result.document.spec).toMatchObject({ seat: 'paid', suspended: false });
  });

  it('rejects an unknown field at its key, suggesting the right one', () => {
    const [finding] = findingsOf(
      membership('  org: acme\n  user: bob@acme.io\n  role: developer\n  suspend: true\n'),
    );
    expect(finding).toMatchObject({
      code: 'unknown-field',
      location: { file: 'm.yaml', line: 9, column: 3 },
    });
    expect(finding?.message).toContain('unknown field "suspend". Did you mean "suspended"?');
  });

  it('reports every problem of a document at once', () => {
    const findings = findingsOf(membership('  org: Acme\n  user: 42\n  seat: gold\n'));
    expect(findings.map((f) => [f.code, f.location?.line, f.location?.column])).toEqual(
      expect.arrayContaining([
        ['missing-field', 6, 3],
        ['invalid', 6, 8],
        ['wrong-type', 7, 9],
        ['not-allowed', 8, 9],
      ]),
    );
    expect(findings.find((f) => f.code === 'wrong-type')?.message).toBe(
      'spec.user: must be a string, not 42',
    );
  });

  it('explains a bad name in words, not a regular expression', () => {
    const [finding] = findingsOf(
      'apiVersion: roster.dev/v1alpha1\nkind: Plan\nmetadata:\n  name: "x\'; DROP TABLE orgs;--"\nspec:\n  seats: { paid: 1 }\n',
    );
    expect(finding?.message).toMatch(/metadata.name: .* is not valid: lowercase letters/);
    expect(finding?.location).toMatchObject({ line: 4, column: 9 });
  });

  it('names the right apiVersion and the closest kind', () => {
    const findings = findingsOf(
      'apiVersion: roster.dev/v1\nkind: Grnat\nmetadata: { name: x }\nspec: {}\n',
    );
    expect(findings.map((f) => f.message)).toEqual([
      'apiVersion "roster.dev/v1" is not supported: write "roster.dev/v1alpha1"',
      'unknown kind "Grnat": expected one of Plan, Role, User, Organization, Membership, Grant, Group, Delegation, Contact. Did you mean "Grant"?',
    ]);
  });

  it('refuses a document that is not a mapping', () => {
    expect(findingsOf('- a\n- b\n')[0]?.code).toBe('not-a-document');
  });

  it('reports a duplicated list item at the second occurrence', () => {
    const [finding] = findingsOf(
      'apiVersion: roster.dev/v1alpha1\nkind: Plan\nmetadata: { name: p }\nspec:\n  seats: { paid: 1 }\n  features:\n    - members\n    - members\n',
    );
    expect(finding).toMatchObject({ code: 'duplicate-item', location: { line: 8, column: 7 } });
  });
});

describe('paths', () => {
  it('converts JSON pointers to paths and paths to text', () => {
    const path = pointerToPath('/spec/members/0/a~1b');
    expect(path).toEqual(['spec', 'members', 0, 'a/b']);
    expect(formatPath(path)).toBe('spec.members[0].a/b');
  });
});
