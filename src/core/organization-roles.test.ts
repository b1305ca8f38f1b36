import { describe, expect, it } from 'vitest';
import { formatLocation } from './findings.js';
import { loadSources } from './load.js';
import { desiredRecords } from './records.js';

const doc = (kind: string, name: string, spec: string) =>
  `apiVersion: roster.dev/v1alpha1\nkind: ${kind}\nmetadata: { name: ${name} }\nspec: ${spec}\n`;

const PLAN = doc(
  'Plan',
  'team',
  '{ seats: { paid: 9 }, maxResources: 2, features: [members, resourceGrants, customRoles] }',
);
const ORGS = [
  doc(
    'Organization',
    'acme',
    '{ plan: team, owner: o@acme.io, resources: [{ type: site, name: www }] }',
  ),
  doc(
    'Organization',
    'globex',
    '{ plan: team, owner: o@globex.io, resources: [{ type: site, name: www }] }',
  ),
].join('---\n');
const INTERN = doc(
  'Role',
  'intern',
  '{ org: acme, scope: organization, permissions: [members.view] }',
);
const SITE_HELPER = doc(
  'Role',
  'site-helper',
  '{ org: acme, scope: resource, permissions: [resource.view] }',
);

/** The catalog, both organizations, and a member and a grant of `org` using acme's roles. */
const usingRoles = (org: string) =>
  [
    PLAN,
    ORGS,
    INTERN,
    SITE_HELPER,
    doc('Membership', 'm', `{ org: ${org}, user: bob@${org}.io, role: intern }`),
    doc('Grant', 'g', `{ org: ${org}, user: dev@x.io, resource: site/www, role: site-helper }`),
  ].join('---\n');

function load(text: string, organizationsElsewhere?: ReadonlySet<string>) {
  const result = loadSources([{ path: 'all.yaml', content: text }], {
    now: new Date('2026-11-24T00:00:00Z'),
    ...(organizationsElsewhere !== undefined && { organizationsElsewhere }),
  });
  return {
    result,
    errors: result.findings
      .filter((f) => f.severity === 'error')
      .map((f) => `${f.location ? formatLocation(f.location) : '-'} ${f.code}: ${f.message}`),
  };
}

describe('a role of one organization', () => {
  it('is usable in its organization, and recorded with it', () => {
    const { result, errors } = load(usingRoles('acme'));
    expect(errors).toEqual([]);
    const role = desiredRecords(result.state).find(
      (r) => r.id.kind === 'role' && r.id.name === 'intern',
    );
    expect(role?.fields).toEqual({
      org: 'acme',
      scope: 'organization',
      description: null,
      permissions: ['members.view'],
    });
  });

  it('is refused in another organization, where it is used', () => {
    const { errors } = load(usingRoles('globex'));
    expect(errors).toEqual([
      'all.yaml:29:49 role-organization: role "intern" belongs to organization "acme" and cannot be used in "globex": declare a role of "globex", or make "intern" platform-wide (remove its spec.org)',
      expect.stringMatching(
        /^all\.yaml:34:\d+ role-organization: role "site-helper" belongs to organization "acme"/,
      ),
    ]);
  });

  it('needs its organization to exist, in the input or (incrementally) elsewhere', () => {
    const text = [
      PLAN,
      doc('Role', 'intern', '{ org: acmee, scope: organization, permissions: [members.view] }'),
      ORGS,
    ].join('---\n');
    expect(load(text).errors).toEqual([
      expect.stringMatching(
        /^all\.yaml:9:14 unknown-organization: organization "acmee" does not exist: declare an Organization of that name, or remove spec\.org to make the role platform-wide\. Did you mean "acme"\?/,
      ),
    ]);
    expect(load(text, new Set(['acmee'])).errors).toEqual([]);
  });
});
