import { describe, expect, it } from 'vitest';
import { formatLocation } from './findings.js';
import { loadSources } from './load.js';

const NOW = new Date('2026-11-22T12:00:00Z');

/** Loads `files` (name -> YAML) and returns the findings as `file:line:column code`. */
function load(files: Record<string, string>) {
  return loadSources(
    Object.entries(files).map(([path, content]) => ({ path, content })),
    { now: NOW },
  );
}
function findings(files: Record<string, string>, severity: 'error' | 'warning' = 'error') {
  return load(files)
    .findings.filter((f) => f.severity === severity)
    .map((f) => `${f.location ? formatLocation(f.location) : '-'} ${f.code}`);
}
function messages(files: Record<string, string>) {
  return load(files).findings.map((f) => f.message);
}

const PLANS = `apiVersion: roster.dev/v1alpha1
kind: Plan
metadata: { name: team }
spec:
  seats: { paid: 3, free: 1 }
  maxResources: 2
  features: [members, resourceGrants, customRoles]
---
apiVersion: roster.dev/v1alpha1
kind: Plan
metadata: { name: solo }
spec:
  seats: { paid: 1 }
`;

const ORG = `apiVersion: roster.dev/v1alpha1
kind: Organization
metadata: { name: acme }
spec:
  plan: team
  owner: Alice@Acme.io
  resources: [{ type: site, name: shop }]
`;

const doc = (kind: string, name: string, spec: string) =>
  `apiVersion: roster.dev/v1alpha1\nkind: ${kind}\nmetadata: { name: ${name} }\nspec: ${spec}\n`;

describe('loadSources', () => {
  it('loads a valid tree into normalised records', () => {
    const result = load({
      'plans.yaml': PLANS,
      'org.yaml': ORG,
      'm.yaml': doc('Membership', 'acme-bob', '{ org: acme, user: Bob@Dev.IO, role: developer }'),
      'g.yaml': doc(
        'Grant',
        'g',
        '{ org: acme, user: dave@freelance.dev, resource: site/shop, role: resource-developer, expires: "2027-06-30" }',
      ),
    });
    expect(result.findings).toEqual([]);
    expect(result.state.organizations.get('acme')?.owner).toBe('alice@acme.io');
    expect(result.state.memberships).toMatchObject([
      { org: 'acme', user: 'bob@dev.io', seat: 'paid' },
    ]);
    expect(result.state.grants[0]?.expires).toBe('2027-07-01T00:00:00.000Z');
  });

  it('reports a record declared twice, inline and as a document, naming both places', () => {
    const result = load({
      'plans.yaml': PLANS,
      'org.yaml': `${ORG}  members:\n    - { user: bob@dev.io, role: developer }\n`,
      'm.yaml': doc(
        'Membership',
        'acme-bob',
        '{ org: acme, user: BOB@dev.io, role: administrator }',
      ),
    });
    const duplicate = result.findings.find((f) => f.code === 'duplicate');
    expect(duplicate?.location).toMatchObject({ file: 'm.yaml', line: 4, column: 7 });
    expect(duplicate?.related).toEqual([{ file: 'org.yaml', line: 9, column: 7 }]);
    expect(duplicate?.message).toContain('first at org.yaml:9:7');
  });

  it('reports two documents of the same kind and name', () => {
    expect(
      findings({ 'plans.yaml': PLANS, 'more.yaml': doc('Plan', 'team', '{ seats: { paid: 9 } }') }),
    ).toEqual(['more.yaml:3:19 duplicate']);
  });

  it('reports duplicate contacts and resources', () => {
    expect(
      findings({
        'plans.yaml': PLANS,
        'org.yaml': `${ORG.replace('[{ type: site, name: shop }]', '[{ type: site, name: shop }, { type: site, name: shop }]')}  contacts:\n    - { email: ap@acme.io, categories: [billing] }\n    - { email: AP@acme.io, categories: [general] }\n`,
      }),
    ).toEqual(['org.yaml:7:43 duplicate', 'org.yaml:10:7 duplicate']);
  });

  it('reports dangling references to organizations, plans, roles and resources', () => {
    const result = findings({
      'plans.yaml': PLANS,
      'org.yaml': ORG.replace('plan: team', 'plan: teams'),
      'm.yaml': doc('Membership', 'm', '{ org: acmee, user: b@x.io, role: developer }'),
      'r.yaml': doc('Membership', 'r', '{ org: acme, user: c@x.io, role: developper }'),
      'g.yaml': doc(
        'Grant',
        'g',
        '{ org: acme, user: d@x.io, resource: site/shp, role: resource-developer }',
      ),
      'c.yaml': doc('Contact', 'c', '{ org: nobody, email: e@x.io, categories: [billing] }'),
    });
    expect(result).toEqual([
      'c.yaml:4:14 unknown-organization',
      'g.yaml:4:44 unknown-resource',
      'm.yaml:4:14 unknown-organization',
      'org.yaml:5:9 unknown-plan',
      'r.yaml:4:40 unknown-role',
    ]);
    const text = messages({
      'plans.yaml': PLANS,
      'org.yaml': ORG,
      'r.yaml': doc('Membership', 'r', '{ org: acme, user: c@x.io, role: developper }'),
    });
    expect(text[0]).toContain('Did you mean "developer"?');
  });

  it('does not call a reference dangling when its target is declared but invalid', () => {
    const result = findings({
      'plans.yaml': PLANS.replace('seats: { paid: 3, free: 1 }', 'seats: { paid: three }'),
      'org.yaml': ORG,
    });
    expect(result).toEqual(['plans.yaml:5:18 wrong-type']);
  });

  it('refuses owner as a membership role, and a membership for the owner', () => {
    const result = findings({
      'plans.yaml': PLANS,
      'org.yaml': ORG,
      'm.yaml': doc('Membership', 'm', '{ org: acme, user: bob@x.io, role: owner }'),
      'a.yaml': doc('Membership', 'a', '{ org: acme, user: ALICE@acme.io, role: administrator }'),
    });
    expect(result).toEqual(['a.yaml:4:26 owner-membership', 'm.yaml:4:42 owner-role']);
  });

  it('counts seats against the plan, the owner included', () => {
    const members = ['a', 'b', 'c']
      .map((n) => doc('Membership', n, `{ org: acme, user: ${n}@x.io, role: developer }`))
      .join('---\n');
    const result = load({ 'plans.yaml': PLANS, 'org.yaml': ORG, 'm.yaml': members });
    expect(result.findings.map((f) => f.code)).toEqual(['seats-exceeded']);
    expect(result.findings[0]?.message).toBe(
      'organization "acme" uses 4 paid seats (the owner\'s included) but plan "team" has 3: remove 1 paid members, move some to free seats, or raise spec.seats.paid of the plan',
    );
    expect(result.findings[0]?.location).toMatchObject({ file: 'org.yaml', line: 5 });

    const free = ['a', 'b']
      .map((n) =>
        doc('Membership', n, `{ org: acme, user: ${n}@x.io, role: developer, seat: free }`),
      )
      .join('---\n');
    expect(findings({ 'plans.yaml': PLANS, 'org.yaml': ORG, 'm.yaml': free })).toEqual([
      'org.yaml:5:9 seats-exceeded',
    ]);
  });

  it('counts suspended members against seats: they are kept', () => {
    const members = ['a', 'b', 'c']
      .map((n) =>
        doc('Membership', n, `{ org: acme, user: ${n}@x.io, role: developer, suspended: true }`),
      )
      .join('---\n');
    expect(findings({ 'plans.yaml': PLANS, 'org.yaml': ORG, 'm.yaml': members })).toEqual([
      'org.yaml:5:9 seats-exceeded',
    ]);
  });

  it('refuses what the plan lacks the feature for, once per organization', () => {
    const org = ORG.replace('plan: team', 'plan: solo').replace(
      '  resources: [{ type: site, name: shop }]\n',
      '  resources: [{ type: site, name: shop }]\n  members:\n    - { user: b@x.io, role: developer, seat: free }\n    - { user: c@x.io, role: developer, seat: free }\n',
    );
    const result = load({
      'plans.yaml': PLANS.replace('seats: { paid: 1 }', 'seats: { paid: 1, free: 5 }'),
      'org.yaml': org,
      'g.yaml': doc(
        'Grant',
        'g',
        '{ org: acme, user: d@x.io, resource: site/shop, role: resource-developer }',
      ),
    });
    expect(result.findings.map((f) => `${f.location?.file}:${f.location?.line} ${f.code}`)).toEqual(
      ['g.yaml:4 feature-missing', 'org.yaml:9 feature-missing'],
    );
    expect(result.findings[1]?.message).toContain('lacks the members feature');
    expect(result.findings[1]?.message).toContain('2 records need it');
  });

  it('requires the customRoles feature for custom roles', () => {
    const role = doc('Role', 'accountant', '{ scope: organization, permissions: [billing.view] }');
    const result = findings({
      'plans.yaml': PLANS.replace(
        'features: [members, resourceGrants, customRoles]',
        'features: [members]',
      ),
      'org.yaml': ORG,
      'r.yaml': role,
      'm.yaml': doc('Membership', 'm', '{ org: acme, user: b@x.io, role: accountant }'),
    });
    expect(result).toEqual(['m.yaml:4:7 feature-missing']);
  });

  it('refuses members and resources of an organization without a plan', () => {
    const org = ORG.replace('  plan: team\n', '').concat(
      '  members:\n    - { user: b@x.io, role: developer }\n',
    );
    expect(findings({ 'org.yaml': org })).toEqual([
      'org.yaml:6:14 resources-need-plan',
      'org.yaml:8:7 feature-missing',
    ]);
  });

  it('enforces the resource limit of the plan', () => {
    const org = ORG.replace(
      '[{ type: site, name: shop }]',
      '[{ type: site, name: a }, { type: site, name: b }, { type: site, name: c }]',
    );
    expect(findings({ 'plans.yaml': PLANS, 'org.yaml': org })).toEqual([
      'org.yaml:7:65 resource-limit',
    ]);
  });

  it('refuses a grant that has expired, and a date that does not exist', () => {
    const grant = (name: string, expires: string) =>
      doc(
        'Grant',
        name,
        `{ org: acme, user: ${name}@x.io, resource: site/shop, role: resource-developer, expires: "${expires}" }`,
      );
    expect(
      findings({
        'plans.yaml': PLANS,
        'org.yaml': ORG,
        'past.yaml': grant('past', '2026-11-21'),
        'bad.yaml': grant('bad', '2027-02-30'),
        'instant.yaml': grant('instant', '2026-11-22T11:59:59Z'),
        'today.yaml': grant('today', '2026-11-22'),
      }),
    ).toEqual([
      'bad.yaml:4:92 invalid-date',
      'instant.yaml:4:96 grant-expired',
      'past.yaml:4:93 grant-expired',
    ]);
  });

  it('refuses an organization role in a grant and a resource role in a membership', () => {
    expect(
      findings({
        'plans.yaml': PLANS,
        'org.yaml': ORG,
        'g.yaml': doc(
          'Grant',
          'g',
          '{ org: acme, user: d@x.io, resource: site/shop, role: developer }',
        ),
        'm.yaml': doc('Membership', 'm', '{ org: acme, user: b@x.io, role: resource-developer }'),
      }),
    ).toEqual(['g.yaml:4:61 role-scope', 'm.yaml:4:40 role-scope']);
  });

  it('checks custom roles: names, permissions of the right scope', () => {
    const result = load({
      'r.yaml': [
        doc('Role', 'developer', '{ scope: organization, permissions: [members.view] }'),
        doc(
          'Role',
          'deployer',
          '{ scope: resource, permissions: [resource.deploy, billing.view, resource.deplyo] }',
        ),
      ].join('---\n'),
    });
    expect(
      result.findings.map((f) => `${f.location?.line}:${f.location?.column} ${f.code}`),
    ).toEqual(['3:19 built-in-role', '9:57 unknown-permission', '9:71 unknown-permission']);
    expect(result.findings[1]?.message).toContain('It is an organization-scope permission.');
    expect(result.findings[2]?.message).toContain('Did you mean "resource.deploy"?');
  });

  it('warns, without failing, about a technical role holding billing permissions', () => {
    const files = {
      'r.yaml': doc(
        'Role',
        'lead-dev',
        '{ scope: organization, permissions: [resources.manage, billing.manage] }',
      ),
    };
    expect(findings(files)).toEqual([]);
    expect(findings(files, 'warning')).toEqual(['r.yaml:4:62 least-privilege']);
  });

  it('warns about a grant to the owner, who already has every permission', () => {
    expect(
      findings(
        {
          'plans.yaml': PLANS,
          'org.yaml': ORG,
          'g.yaml': doc(
            'Grant',
            'g',
            '{ org: acme, user: alice@ACME.io, resource: site/shop, role: resource-developer }',
          ),
        },
        'warning',
      ),
    ).toEqual(['g.yaml:4:26 owner-grant']);
  });

  it('refuses invalid e-mail addresses and warns about internationalised domains', () => {
    const result = load({
      'plans.yaml': PLANS,
      'org.yaml': ORG,
      'm.yaml': [
        doc('Membership', 'a', '{ org: acme, user: "andré@x.io", role: developer }'),
        doc('Membership', 'b', '{ org: acme, user: "b@exämple.com", role: developer }'),
      ].join('---\n'),
    });
    expect(result.findings.map((f) => `${f.severity} ${f.code}`)).toEqual([
      'error invalid-email',
      'warning idn-email',
    ]);
    expect(result.state.memberships.map((m) => m.user)).toEqual(['b@xn--exmple-cua.com']);
  });

  it('reports findings from every file in one run, sorted by place', () => {
    const result = load({
      'b.yaml': doc('Membership', 'x', '{ org: nowhere, user: b@x.io, role: developer }'),
      'a.yaml': 'kind: [',
      'c.yaml': doc('Plan', 'p', '{ seats: { paid: 0 } }'),
    });
    expect(result.findings.map((f) => f.location?.file)).toEqual(['a.yaml', 'b.yaml', 'c.yaml']);
    expect(result.errors).toBe(3);
  });
});
