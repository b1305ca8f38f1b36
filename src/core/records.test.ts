/** The desired state as records, at the sizes Roster plans. */
import { describe, expect, it } from 'vitest';
import type { DesiredState, MembershipRecord, SourceRef } from './model.js';
import { desiredRecords } from './records.js';

describe('desiredRecords', () => {
  it('turns a state of 300,000 memberships into records without overflowing the stack', () => {
    const source = { document: {}, path: [] } as unknown as SourceRef;
    const memberships: MembershipRecord[] = Array.from({ length: 300_000 }, (_, i) => ({
      org: 'acme',
      user: `user${i}@acme.io`,
      role: 'developer',
      seat: 'paid',
      suspended: false,
      origin: 'document',
      source,
    }));
    const state: DesiredState = {
      plans: new Map(),
      roles: new Map(),
      users: new Map(),
      organizations: new Map(),
      memberships,
      grants: [],
      groups: [],
      delegations: [],
      contacts: [],
    };
    const records = desiredRecords(state);
    expect(records).toHaveLength(300_000);
    expect(records[299_999]?.id).toEqual({
      kind: 'membership',
      org: 'acme',
      user: 'user299999@acme.io',
    });
  });
});
