/** The JSON Schema of a `Plan`: seat limits, a resource limit and feature flags. */
import { PLAN_FEATURES } from '../catalog.js';
import { commonStatusProperties, documentSchema, invitationPolicySchema } from './common.js';

/** `Plan.spec`. */
export const planSpecSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['seats'],
  description: 'A plan: how many people and resources an organization on it may have.',
  properties: {
    displayName: { type: 'string', minLength: 1, maxLength: 200 },
    seats: {
      type: 'object',
      additionalProperties: false,
      required: ['paid'],
      description: 'Memberships, the owner included, count against seats.',
      properties: {
        paid: { type: 'integer', minimum: 0, maximum: 1000000 },
        free: { type: 'integer', minimum: 0, maximum: 1000000, default: 0 },
      },
    },
    maxResources: {
      type: 'integer',
      minimum: 0,
      maximum: 1000000,
      description: 'How many resources an organization on this plan may have; no limit if absent.',
    },
    invitations: invitationPolicySchema,
    maxDelegationDays: {
      type: 'integer',
      minimum: 1,
      maximum: 366,
      description:
        'How long a Delegation on this plan may last, from when it is planned (default 30 days).',
    },
    features: {
      type: 'array',
      uniqueItems: true,
      maxItems: PLAN_FEATURES.length,
      items: { type: 'string', enum: PLAN_FEATURES },
      default: [],
      description:
        'A plan without `members` allows the owner only; `delegation` allows Delegations (an administrator acting for a member).',
    },
  },
  'x-kubernetes-validations': [
    {
      rule: 'self.seats.paid + (has(self.seats.free) ? self.seats.free : 0) >= 1',
      message: 'a plan needs at least one seat: the owner takes one',
    },
  ],
} as const;

/** The whole `Plan` document. */
export const planSchema = documentSchema('Plan', planSpecSchema);

/** `Plan.status` (CRD only). */
export const planStatusSchema = {
  type: 'object',
  properties: { ...commonStatusProperties },
} as const;
