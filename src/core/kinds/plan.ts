/** A plan: seats, resource cap, features and invitation policy an organization subscribes to. */
import type { PlanFeature } from '../catalog.js';
import type { PlanLimits } from '../invariants.js';
import type { PlanRecord } from '../model.js';
import type { KindDescriptor } from './kind.js';
import { invitationPolicy, optional, sorted } from './shared.js';

export interface PlanId {
  readonly kind: 'plan';
  readonly name: string;
}

export type PlanFields = {
  readonly displayName: string | null;
  readonly paidSeats: number;
  readonly freeSeats: number;
  readonly maxResources: number | null;
  readonly features: readonly string[];
  readonly invitationExpiryDays: number | null;
  readonly invitationMaxResends: number | null;
  readonly maxDelegationDays: number | null;
};

export const planKind = {
  kind: 'plan',
  key: (id) => [id.name],
  describe: (id) => `plan ${id.name}`,
  organization: () => null,
  fields: [
    'displayName',
    'paidSeats',
    'freeSeats',
    'maxResources',
    'features',
    'invitationExpiryDays',
    'invitationMaxResends',
    'maxDelegationDays',
  ],
  *desired(state) {
    for (const plan of state.plans.values()) {
      yield {
        id: { kind: 'plan', name: plan.name },
        fields: planFields(plan),
        source: plan.source,
      };
    }
  },
  document: {
    kind: 'Plan',
    identityFields: ['name'],
    mainId: (name) => ({ kind: 'plan', name }),
    ids: (name) => [{ kind: 'plan', name }],
    collect({ parsed, document }, context) {
      if (document.kind !== 'Plan') return;
      const spec = document.spec;
      context.plans.set(document.metadata.name, {
        name: document.metadata.name,
        ...(spec.displayName !== undefined && { displayName: spec.displayName.normalize('NFC') }),
        seats: { paid: spec.seats.paid, free: spec.seats.free },
        ...(spec.maxResources !== undefined && { maxResources: spec.maxResources }),
        features: new Set<PlanFeature>(spec.features),
        invitations: spec.invitations ?? {},
        ...(spec.maxDelegationDays !== undefined && { maxDelegationDays: spec.maxDelegationDays }),
        source: { document: parsed, path: [] },
      });
    },
    spec: ({ fields: f }) => ({
      ...optional('displayName', f.displayName),
      seats: { paid: f.paidSeats, free: f.freeSeats },
      ...optional('maxResources', f.maxResources),
      features: f.features,
      ...optional('invitations', invitationPolicy(f)),
      ...optional('maxDelegationDays', f.maxDelegationDays),
    }),
  },
} satisfies KindDescriptor<PlanId, PlanFields>;

/** A declared plan's fields. */
export function planFields(plan: PlanRecord): PlanFields {
  return {
    displayName: plan.displayName ?? null,
    paidSeats: plan.seats.paid,
    freeSeats: plan.seats.free,
    maxResources: plan.maxResources ?? null,
    features: sorted(plan.features),
    invitationExpiryDays: plan.invitations.expiresInDays ?? null,
    invitationMaxResends: plan.invitations.maxResends ?? null,
    maxDelegationDays: plan.maxDelegationDays ?? null,
  };
}

/** A plan's limits, as the invariants read them, whether declared or read from the database. */
export function planLimits(name: string, fields: PlanFields): PlanLimits {
  return {
    name,
    paidSeats: fields.paidSeats,
    freeSeats: fields.freeSeats,
    maxResources: fields.maxResources,
    features: new Set(fields.features),
  };
}
