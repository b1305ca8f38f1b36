import { describe, expect, it } from 'vitest';
import { planChanges, type PlanOptions } from './plan.js';
import type { ActualRecord, DesiredRecord, Fields, RecordId } from './records.js';

const NOW = new Date('2026-11-22T12:00:00Z');
const options = (over: Partial<PlanOptions> = {}): PlanOptions => ({
  manager: 'roster-cli',
  prune: false,
  maxOrgRemovalRatio: 0.25,
  now: NOW,
  scope: ['acme'],
  ...over,
});

const member = (user: string): RecordId => ({
  kind: 'membership',
  org: 'acme',
  user,
});
const desired = (id: RecordId, fields: Fields): DesiredRecord => ({ id, fields });
const actual = (
  id: RecordId,
  fields: Fields,
  managedBy: string | null = 'roster-cli',
  lastApplied: Fields | null = managedBy === null ? null : fields,
  status: 'invited' | 'active' | 'suspended' = 'active',
): ActualRecord => ({
  id,
  fields,
  managedBy,
  lastApplied,
  facts: { status, joinedAt: null, invitedBy: null },
});

const dev = { role: 'developer', seat: 'paid', suspended: false };
const owner = { role: 'owner', seat: 'paid', suspended: false };
const plan = {
  displayName: null,
  paidSeats: 10,
  freeSeats: 0,
  maxResources: null,
  features: ['members'],
};
const base = {
  desired: [
    desired({ kind: 'plan', name: 'team' }, plan),
    desired({ kind: 'organization', name: 'acme' }, { displayName: null, plan: 'team' }),
    desired(member('alice@acme.io'), owner),
  ],
  actual: [
    actual({ kind: 'plan', name: 'team' }, plan),
    actual({ kind: 'organization', name: 'acme' }, { displayName: null, plan: 'team' }),
    actual(member('alice@acme.io'), owner),
  ],
};

describe('planChanges', () => {
  it('plans nothing when the database matches', () => {
    const result = planChanges(base.desired, { records: base.actual }, options());
    expect(result.changes).toEqual([]);
    expect(result.summary).toEqual({ add: 0, change: 0, destroy: 0 });
  });

  it('creates, updates and deletes, parents first and children first', () => {
    const result = planChanges(
      [
        ...base.desired,
        desired(member('bob@acme.io'), dev),
        desired(member('carol@acme.io'), { ...dev, role: 'billing' }),
      ],
      {
        records: [
          ...base.actual,
          actual(member('carol@acme.io'), dev),
          actual(member('dave@acme.io'), dev),
        ],
      },
      options({ maxOrgRemovalRatio: 1 }),
    );
    expect(result.changes.map((c) => `${c.action} ${'user' in c.id ? c.id.user : ''}`)).toEqual([
      'create bob@acme.io',
      'update carol@acme.io',
      'delete dave@acme.io',
    ]);
    expect(result.changes[1]?.fields).toEqual([
      { name: 'role', before: 'developer', after: 'billing' },
    ]);
    expect(result.summary).toEqual({ add: 1, change: 1, destroy: 1 });
  });

  it('invites new members unless already active, and re-invites a pending member whose role changes', () => {
    const result = planChanges(
      [
        ...base.desired,
        desired(member('new@acme.io'), dev),
        desired(member('pending@acme.io'), { ...dev, role: 'billing' }),
        desired(member('off@acme.io'), { ...dev, suspended: true }),
      ],
      {
        records: [
          ...base.actual,
          actual(member('pending@acme.io'), dev, 'roster-cli', dev, 'invited'),
        ],
      },
      options(),
    );
    expect(result.invitations).toEqual([
      { org: 'acme', user: 'new@acme.io', role: 'developer', subject: 'membership', reason: 'new' },
      {
        org: 'acme',
        user: 'pending@acme.io',
        role: 'billing',
        subject: 'membership',
        reason: 'role-changed',
      },
    ]);
  });

  it('tells drift from declared changes', () => {
    const edited = actual(
      member('bob@acme.io'),
      { ...dev, role: 'administrator' },
      'roster-cli',
      dev,
    );
    const result = planChanges(
      [...base.desired, desired(member('bob@acme.io'), dev)],
      { records: [...base.actual, edited] },
      options(),
    );
    expect(result.drift).toEqual([
      {
        id: member('bob@acme.io'),
        org: 'acme',
        fields: [{ name: 'role', applied: 'developer', actual: 'administrator' }],
        corrected: true,
      },
    ]);
    expect(result.changes[0]).toMatchObject({ action: 'update', drift: true });
  });

  it("keeps unmanaged records unless pruning, and never touches another manager's", () => {
    const records = [
      ...base.actual,
      actual(member('app@acme.io'), dev, null),
      actual(member('op@acme.io'), dev, 'operator:x'),
    ];
    expect(planChanges(base.desired, { records }, options()).changes).toEqual([]);
    const pruned = planChanges(
      base.desired,
      { records },
      options({ prune: true, maxOrgRemovalRatio: 1 }),
    );
    expect(pruned.changes.map((c) => `${c.action} ${'user' in c.id ? c.id.user : ''}`)).toEqual([
      'delete app@acme.io',
    ]);
  });

  it('leaves organizations, plans and roles absent from the input alone unless pruning', () => {
    const other = [
      actual({ kind: 'organization', name: 'globex' }, { displayName: null, plan: 'team' }),
      actual({ kind: 'membership', org: 'globex', user: 'g@globex.io' }, owner),
      actual(
        { kind: 'role', name: 'old' },
        { scope: 'organization', description: null, permissions: ['members.view'] },
      ),
    ];
    expect(
      planChanges(base.desired, { records: [...base.actual, ...other] }, options()).changes,
    ).toEqual([]);
    // --prune stays within the input's organizations.
    expect(
      planChanges(
        base.desired,
        { records: [...base.actual, ...other] },
        options({ prune: true, maxOrgRemovalRatio: 1 }),
      ).changes,
    ).toEqual([]);
    const pruned = planChanges(
      base.desired,
      { records: [...base.actual, ...other] },
      options({ prune: true, pruneAbsent: true, maxOrgRemovalRatio: 1 }),
    );
    expect(pruned.changes.map((c) => `${c.action} ${c.id.kind}`)).toEqual([
      'delete membership',
      'delete organization',
      'delete role',
    ]);
  });

  it('refuses to delete a plan still in use', () => {
    const result = planChanges(
      base.desired.filter((r) => r.id.kind !== 'plan'),
      { records: base.actual },
      options({ prune: true, pruneAbsent: true }),
    );
    expect(result.refusals.map((r) => r.code)).toEqual(['plan-in-use']);
  });

  it('refuses a plan that leaves an organization without an owner', () => {
    const result = planChanges(
      base.desired.filter((r) => r.id.kind !== 'membership'),
      { records: base.actual },
      options({ prune: true }),
    );
    expect(result.refusals).toMatchObject([{ code: 'last-owner', org: 'acme' }]);
  });

  it('applies the removal ratio per organization with a floor of one', () => {
    const members = ['a', 'b', 'c'].map((n) => actual(member(`${n}@acme.io`), dev));
    const oneOfFour = planChanges(
      base.desired.concat(desired(member('b@acme.io'), dev), desired(member('c@acme.io'), dev)),
      { records: [...base.actual, ...members] },
      options(),
    );
    expect(oneOfFour.refusals).toEqual([]);
    const twoOfFour = planChanges(
      base.desired.concat(desired(member('c@acme.io'), dev)),
      { records: [...base.actual, ...members] },
      options(),
    );
    expect(twoOfFour.refusals.map((r) => r.code)).toEqual(['removal-ratio']);
  });
});

describe('roles of one organization', () => {
  const globexPlan = { ...plan, features: ['members', 'customRoles'] };
  const intern = (org: string | null) => ({
    org,
    scope: 'organization',
    description: null,
    permissions: ['members.view'],
  });
  const world = (internOrg: string | null, internUsedIn: string) => [
    desired({ kind: 'plan', name: 'team' }, globexPlan),
    desired({ kind: 'role', name: 'intern' }, intern(internOrg)),
    desired({ kind: 'organization', name: 'acme' }, { displayName: null, plan: 'team' }),
    desired({ kind: 'organization', name: 'globex' }, { displayName: null, plan: 'team' }),
    desired(member('alice@acme.io'), owner),
    desired({ kind: 'membership', org: 'globex', user: 'gina@globex.io' }, owner),
    desired(
      { kind: 'membership', org: internUsedIn, user: `bob@${internUsedIn}.io` },
      {
        ...dev,
        role: 'intern',
      },
    ),
  ];
  const scope = options({ scope: ['acme', 'globex'] });

  it('refuses a membership of another organization using it, for every driver', () => {
    expect(planChanges(world('acme', 'acme'), { records: [] }, scope).refusals).toEqual([]);
    expect(planChanges(world('acme', 'globex'), { records: [] }, scope).refusals).toEqual([
      expect.objectContaining({
        code: 'role-organization',
        org: 'globex',
        message:
          'membership bob@globex.io names role "intern", which belongs to organization "acme"',
      }),
    ]);
  });

  it('refuses moving a role to one organization while another uses it', () => {
    const applied = world(null, 'globex').map((r) => actual(r.id, r.fields));
    const moved = planChanges(world('acme', 'globex'), { records: applied }, scope);
    expect(moved.refusals.map((r) => r.code)).toContain('role-in-use');
    expect(moved.refusals.find((r) => r.code === 'role-in-use')?.message).toBe(
      'role "intern" cannot become a role of organization "acme" while globex use it',
    );
  });
});
