/**
 * The JSON Schema of a `Delegation`: an administrator of an organization allowed to act for one
 * of its members (or every member), within that member's own permissions, until an expiry (the
 * SaaS consoles' multi-account mode: switch into a member's workspace, stay an administrator).
 */
import {
  commonStatusProperties,
  documentSchema,
  emailSchema,
  EXPIRY_PATTERN,
  nameSchema,
  PERMISSION_PATTERN,
} from './common.js';

/** `Delegation.spec`. */
export const delegationSpecSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['org', 'delegate', 'onBehalfOf', 'expires', 'reason'],
  properties: {
    org: { ...nameSchema, description: 'The organization (its metadata.name).' },
    delegate: {
      ...emailSchema,
      description:
        'Who acts: the owner, or a member whose role manages members (administrator, or a custom role with members.manage).',
    },
    onBehalfOf: {
      type: 'string',
      minLength: 1,
      maxLength: 254,
      pattern: '^(\\*|[^@\\s]+@[^@\\s]+)$',
      description:
        'For whom: a member of the organization (not the owner), or "*" for every member.',
    },
    permissions: {
      type: 'array',
      minItems: 1,
      maxItems: 64,
      uniqueItems: true,
      items: { type: 'string', maxLength: 64, pattern: PERMISSION_PATTERN },
      description:
        "The permissions delegated; the member's own bound them. Absent: all of the member's.",
    },
    starts: {
      type: 'string',
      maxLength: 64,
      pattern: EXPIRY_PATTERN,
      description:
        'When it starts (a planned absence); a date means the start of that day, UTC. Absent: at once.',
    },
    expires: {
      type: 'string',
      maxLength: 64,
      pattern: EXPIRY_PATTERN,
      description:
        "When it lapses (required; at most the plan's maxDelegationDays after it starts); a date means the end of that day, UTC.",
    },
    reason: {
      type: 'string',
      minLength: 1,
      maxLength: 500,
      description: 'Why, for the people who review access and read the audit log.',
    },
  },
  'x-kubernetes-validations': [
    { rule: 'self.org == oldSelf.org', message: 'org is immutable: create a new Delegation' },
    {
      rule: 'self.delegate == oldSelf.delegate',
      message: 'delegate is immutable: create a new Delegation',
    },
  ],
} as const;

/** The whole `Delegation` document. */
export const delegationSchema = documentSchema('Delegation', delegationSpecSchema);

/** `Delegation.status` (CRD only). */
export const delegationStatusSchema = {
  type: 'object',
  properties: { ...commonStatusProperties },
} as const;
