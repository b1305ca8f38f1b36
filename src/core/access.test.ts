import { describe, expect, it } from 'vitest';
import { decideAccess, type AccessFacts } from './access.js';

const NOW = new Date('2026-11-22T12:00:00Z');
const facts = (over: Partial<AccessFacts> = {}): AccessFacts => ({
  orgExists: true,
  membership: null,
  grant: null,
  resourceExists: true,
  ...over,
});
const member = (role: string, status = 'active', permissions: string[] | null = null) => ({
  role,
  status,
  permissions,
});

describe('decideAccess', () => {
  it('allows the owner everything, and says so', () => {
    expect(
      decideAccess(facts({ membership: member('owner') }), 'billing.manage', null, NOW),
    ).toEqual({ allowed: true, reason: 'owner', role: 'owner' });
    expect(
      decideAccess(facts({ membership: member('owner') }), 'resource.deploy', 'site/a', NOW),
    ).toMatchObject({ allowed: true, reason: 'owner' });
  });

  it('follows built-in and custom role permissions', () => {
    expect(
      decideAccess(facts({ membership: member('developer') }), 'billing.view', null, NOW),
    ).toEqual({ allowed: false, reason: 'permission-not-granted', role: 'developer' });
    expect(
      decideAccess(
        facts({ membership: member('accountant', 'active', ['billing.view']) }),
        'billing.view',
        null,
        NOW,
      ),
    ).toMatchObject({ allowed: true, reason: 'role' });
    // resources.view reaches resource.view only.
    const viewer = facts({ membership: member('viewer', 'active', ['resources.view']) });
    expect(decideAccess(viewer, 'resource.view', 'site/a', NOW).allowed).toBe(true);
    expect(decideAccess(viewer, 'resource.deploy', 'site/a', NOW).allowed).toBe(false);
  });

  it('grants nothing to a suspended or not yet accepted membership', () => {
    expect(
      decideAccess(
        facts({ membership: member('administrator', 'suspended') }),
        'members.view',
        null,
        NOW,
      ),
    ).toMatchObject({ allowed: false, reason: 'suspended' });
    expect(
      decideAccess(
        facts({ membership: member('administrator', 'invited') }),
        'members.view',
        null,
        NOW,
      ),
    ).toMatchObject({ allowed: false, reason: 'invitation-pending' });
  });

  it('allows a grant on its resource until it expires', () => {
    const grant = (expiresAt: Date | null, status = 'active') => ({
      role: 'resource-developer',
      status,
      expiresAt,
      permissions: null,
    });
    expect(decideAccess(facts({ grant: grant(null) }), 'resource.deploy', 'site/a', NOW)).toEqual({
      allowed: true,
      reason: 'grant',
      role: 'resource-developer',
    });
    expect(
      decideAccess(facts({ grant: grant(null) }), 'resource.users.manage', 'site/a', NOW),
    ).toMatchObject({ allowed: false, reason: 'permission-not-granted' });
    expect(
      decideAccess(
        facts({ grant: grant(new Date('2026-11-01')) }),
        'resource.deploy',
        'site/a',
        NOW,
      ),
    ).toMatchObject({ allowed: false, reason: 'expired-grant' });
    expect(
      decideAccess(facts({ grant: grant(null, 'invited') }), 'resource.deploy', 'site/a', NOW),
    ).toMatchObject({ allowed: false, reason: 'invitation-pending' });
  });

  it("holds the plan's features at check time: members, resource grants, custom roles", () => {
    const grant = {
      role: 'resource-developer',
      status: 'active',
      expiresAt: null,
      permissions: null,
    };
    const all = ['members', 'resourceGrants', 'customRoles'];
    const without = (feature: string) => all.filter((f) => f !== feature);
    expect(
      decideAccess(facts({ grant, planFeatures: all }), 'resource.deploy', 'site/a', NOW),
    ).toMatchObject({ allowed: true, reason: 'grant' });
    expect(
      decideAccess(
        facts({ grant, planFeatures: without('resourceGrants') }),
        'resource.deploy',
        'site/a',
        NOW,
      ),
    ).toEqual({ allowed: false, reason: 'feature-not-in-plan', role: 'resource-developer' });
    expect(
      decideAccess(
        facts({ membership: member('developer'), planFeatures: without('members') }),
        'resources.create',
        null,
        NOW,
      ),
    ).toEqual({ allowed: false, reason: 'feature-not-in-plan', role: 'developer' });
    // The owner is never gated.
    expect(
      decideAccess(
        facts({ membership: member('owner'), planFeatures: [] }),
        'billing.manage',
        null,
        NOW,
      ),
    ).toMatchObject({ allowed: true, reason: 'owner' });
    expect(
      decideAccess(
        facts({
          membership: member('accountant', 'active', ['billing.view']),
          planFeatures: without('customRoles'),
        }),
        'billing.view',
        null,
        NOW,
      ),
    ).toMatchObject({ allowed: false, reason: 'feature-not-in-plan' });
    // A denial for another reason keeps that reason.
    expect(
      decideAccess(
        facts({ membership: member('developer'), planFeatures: without('members') }),
        'billing.view',
        null,
        NOW,
      ),
    ).toMatchObject({ reason: 'permission-not-granted' });
  });

  it('names unknown organizations, resources and permissions', () => {
    expect(decideAccess(facts({ orgExists: false }), 'billing.view', null, NOW).reason).toBe(
      'unknown-organization',
    );
    expect(
      decideAccess(facts({ resourceExists: false }), 'resource.view', 'site/x', NOW).reason,
    ).toBe('unknown-resource');
    expect(decideAccess(facts(), 'resource.view', null, NOW).reason).toBe('unknown-resource');
    expect(decideAccess(facts(), 'root.everything', null, NOW).reason).toBe('unknown-permission');
    expect(decideAccess(facts(), 'billing.view', null, NOW)).toEqual({
      allowed: false,
      reason: 'not-a-member',
    });
  });
});
