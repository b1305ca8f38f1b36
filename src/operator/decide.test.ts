/** The operator's decisions, without a cluster or a database: observations in, decisions out. */
import { describe, expect, it } from 'vitest';
import type { ActualState } from '../core/plan.js';
import { recordKey, type ActualRecord, type RecordId } from '../core/records.js';
import type { Kind } from '../core/schema/index.js';
import {
  decideOrganization,
  entryOf,
  invitationEvents,
  organizationsUsing,
  pausedOrganization,
  type Entry,
  type OrganizationObservation,
} from './decide.js';
import type { RosterObject } from './resources.js';

const MANAGER = 'operator:test/team';

function resource(kind: Kind, name: string, spec: Record<string, unknown>, meta = {}): Entry {
  const object: RosterObject = {
    metadata: { name, namespace: 'team', generation: 1, ...meta },
    spec,
  };
  return entryOf(kind, object);
}

const plan = resource('Plan', 'team', { seats: { paid: 10, free: 0 }, features: ['members'] });
const org = (spec: Record<string, unknown> = {}, meta = {}) =>
  resource('Organization', 'acme', { plan: 'team', owner: 'olivia@acme.io', ...spec }, meta);
const member = (name: string, user: string, role = 'developer', meta = {}) =>
  resource('Membership', name, { org: 'acme', user, role }, meta);

function actual(id: RecordId, fields: Record<string, unknown>, managedBy: string | null) {
  return { id, fields, managedBy, lastApplied: managedBy === null ? null : fields } as ActualRecord;
}

/** The database after the operator applied acme with olivia and bob. */
const applied: ActualState = {
  records: [
    actual(
      { kind: 'plan', name: 'team' },
      {
        displayName: null,
        paidSeats: 10,
        freeSeats: 0,
        maxResources: null,
        features: ['members'],
        invitationExpiryDays: null,
        invitationMaxResends: null,
      },
      MANAGER,
    ),
    actual(
      { kind: 'organization', name: 'acme' },
      { displayName: null, plan: 'team', invitationExpiryDays: null, invitationMaxResends: null },
      MANAGER,
    ),
    actual(
      { kind: 'membership', org: 'acme', user: 'olivia@acme.io' },
      { role: 'owner', seat: 'paid', suspended: false },
      MANAGER,
    ),
    actual(
      { kind: 'membership', org: 'acme', user: 'bob@acme.io' },
      { role: 'developer', seat: 'paid', suspended: false },
      MANAGER,
    ),
  ],
};

function observe(entries: Entry[], snapshot: ActualState = { records: [] }) {
  const seen: OrganizationObservation = {
    org: 'acme',
    namespace: 'team',
    manager: MANAGER,
    entries,
    catalog: [plan],
    snapshot,
    now: new Date('2026-11-23T00:00:00Z'),
  };
  return decideOrganization(seen);
}

const keys = (ids: readonly RecordId[]) => ids.map((id) => recordKey(id)).sort();

describe('decideOrganization', () => {
  it('desires what valid resources declare, and every resource will say Applied', () => {
    const decision = observe([org(), member('bob', 'Bob@Acme.io')]);
    expect(decision.desired.map((r) => recordKey(r.id)).sort()).toEqual(
      keys([
        { kind: 'organization', name: 'acme' },
        { kind: 'membership', org: 'acme', user: 'olivia@acme.io' },
        { kind: 'membership', org: 'acme', user: 'bob@acme.io' },
      ]),
    );
    expect(decision.removals).toEqual([]);
    expect(decision.failure).toBeUndefined();
    expect([...decision.outcomes.values()].map((o) => o.reason)).toEqual(['Applied', 'Applied']);
  });

  it('removes what this operator wrote and no resource declares any more, and nothing else', () => {
    const madeInApp = actual(
      { kind: 'membership', org: 'acme', user: 'carol@acme.io' },
      { role: 'developer', seat: 'paid', suspended: false },
      null,
    );
    const decision = observe([org()], { records: [...applied.records, madeInApp] });
    expect(keys(decision.removals)).toEqual(
      keys([{ kind: 'membership', org: 'acme', user: 'bob@acme.io' }]),
    );
  });

  it('keeps the records of an invalid resource, says why, and ends in a terminal failure', () => {
    const decision = observe([org(), member('bob', 'bob@acme.io', 'owner')], applied);
    expect(decision.removals).toEqual([]);
    const bob = decision.outcomes.get('Membership team/bob');
    expect(bob).toMatchObject({ ready: false, reason: 'Invalid' });
    expect(bob?.message).toMatch(/owner/);
    expect(decision.failure).toMatchObject({ waiting: false });
    expect(decision.failure?.message).toMatch(/1 resource\(s\) of organization acme are invalid/);
  });

  it('waits (retries) on a role that does not exist yet', () => {
    const decision = observe([org(), member('bob', 'bob@acme.io', 'no-such-role')]);
    expect(decision.outcomes.get('Membership team/bob')).toMatchObject({
      ready: false,
      reason: 'MissingReference',
    });
    expect(decision.failure).toMatchObject({ waiting: true });
  });

  it('waits for an organization that does not exist anywhere, desiring nothing of it', () => {
    const decision = observe([member('bob', 'bob@acme.io')]);
    expect(decision.desired).toEqual([]);
    expect(decision.outcomes.get('Membership team/bob')).toMatchObject({
      ready: false,
      reason: 'MissingReference',
      message: expect.stringMatching(/organization "acme" does not exist/),
    });
    expect(decision.failure).toMatchObject({ waiting: true });
  });

  it('holds the members of an invalid organization, keeping their records', () => {
    const decision = observe(
      [org({ plan: 'no-such-plan' }), member('bob', 'bob@acme.io')],
      applied,
    );
    expect(decision.desired).toEqual([]);
    expect(decision.removals).toEqual([]);
    expect(decision.outcomes.get('Membership team/bob')).toMatchObject({
      ready: false,
      reason: 'OrganizationNotReady',
      message: 'Organization acme is not valid; see its status',
    });
  });

  it('releases the records of an orphaned resource instead of removing them', () => {
    const gone = member('bob', 'bob@acme.io', 'developer', {
      deletionTimestamp: '2026-11-23T00:00:00Z',
      finalizers: ['roster.dev/finalizer'],
    });
    const orphan: Entry = {
      ...gone,
      object: { ...gone.object, spec: { ...gone.object.spec, deletionPolicy: 'Orphan' } },
    };
    const decision = observe([org(), orphan], applied);
    expect(keys(decision.releases)).toEqual(
      keys([{ kind: 'membership', org: 'acme', user: 'bob@acme.io' }]),
    );
    expect(decision.removals).toEqual([]);
    expect(decision.finished).toEqual([orphan]);
    expect(decision.outcomes.has(orphan.file)).toBe(false);
  });

  it('removes the whole tenant, unmanaged records too, when the Organization goes with policy Delete', () => {
    const madeInApp = actual(
      { kind: 'membership', org: 'acme', user: 'carol@acme.io' },
      { role: 'developer', seat: 'paid', suspended: false },
      null,
    );
    const deleting = org({}, { deletionTimestamp: '2026-11-23T00:00:00Z' });
    const decision = observe([deleting, member('bob', 'bob@acme.io')], {
      records: [...applied.records, madeInApp],
    });
    expect(decision.organizationRemoved).toBe(true);
    expect(decision.desired).toEqual([]);
    expect(keys(decision.removals)).toEqual(
      keys([
        { kind: 'organization', name: 'acme' },
        { kind: 'membership', org: 'acme', user: 'olivia@acme.io' },
        { kind: 'membership', org: 'acme', user: 'bob@acme.io' },
        { kind: 'membership', org: 'acme', user: 'carol@acme.io' },
      ]),
    );
  });

  it('pauses every resource of a paused organization, naming it', () => {
    const paused = org({}, { annotations: { 'roster.dev/paused': 'true' } });
    expect(pausedOrganization('acme', [paused, member('bob', 'bob@acme.io')])).toEqual({
      ready: 'unchanged',
      reason: 'Paused',
      message: expect.stringMatching(/paused .* \(on Organization acme\)$/),
    });
    expect(pausedOrganization('acme', [org()])).toBeUndefined();
  });
});

describe('invitationEvents', () => {
  it('puts each invitation on the resource that declares the member, else on the Organization', () => {
    const entries = [org(), member('bob', 'bob@acme.io')];
    const decision = observe(entries);
    const events = invitationEvents(
      {
        invitations: [
          {
            org: 'acme',
            user: 'bob@acme.io',
            role: 'developer',
            subject: 'membership',
            reason: 'new',
          },
          {
            org: 'acme',
            user: 'olivia@acme.io',
            role: 'owner',
            subject: 'membership',
            reason: 'new',
          },
        ],
      } as never,
      decision.desired,
      entries,
    );
    expect(events.map((e) => [e.entry.file, e.message])).toEqual([
      ['Membership team/bob', 'Invitation to bob@acme.io as developer in acme queued (new)'],
      ['Organization team/acme', 'Invitation to olivia@acme.io as owner in acme queued (new)'],
    ]);
  });
});

describe('organizationsUsing', () => {
  const objects = (kind: Kind): RosterObject[] =>
    ({
      Organization: [
        org().object,
        resource('Organization', 'globex', {
          plan: 'pro',
          owner: 'g@globex.io',
          members: [{ user: 'x@globex.io', role: 'auditor' }],
        }).object,
        resource('Organization', 'initech', { plan: 'pro', owner: 'i@initech.io' }).object,
      ],
      Membership: [member('bob', 'bob@acme.io', 'auditor').object],
      Grant: [
        resource('Grant', 'g1', {
          org: 'umbrella',
          user: 'u@umbrella.io',
          resource: 'site/shop',
          role: 'auditor',
        }).object,
      ],
    })[kind as 'Organization' | 'Membership' | 'Grant'] ?? [];

  it('re-checks only the organizations naming a plan', () => {
    expect(organizationsUsing('Plan', 'pro', objects)).toEqual(['globex', 'initech']);
    expect(organizationsUsing('Plan', 'team', objects)).toEqual(['acme']);
    expect(organizationsUsing('Plan', 'unused', objects)).toEqual([]);
  });

  it('re-checks only the organizations whose members or grants name a role', () => {
    expect(organizationsUsing('Role', 'auditor', objects)).toEqual(['acme', 'globex', 'umbrella']);
    expect(organizationsUsing('Role', 'developer', objects)).toEqual([]);
  });
});
