/**
 * The JSON Schema of a custom `Role`: a named set of permissions for one scope, platform-wide or
 * belonging to one organization.
 */
import {
  commonStatusProperties,
  documentSchema,
  nameSchema,
  PERMISSION_PATTERN,
} from './common.js';

/** `Role.spec`. */
export const roleSpecSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['scope', 'permissions'],
  properties: {
    description: { type: 'string', maxLength: 1000 },
    org: {
      ...nameSchema,
      description:
        'The one organization the role belongs to (its metadata.name): visible and usable there only. Absent: platform-wide.',
    },
    scope: {
      type: 'string',
      enum: ['organization', 'resource'],
      description: 'organization: held through a Membership; resource: through a Grant.',
    },
    permissions: {
      type: 'array',
      minItems: 1,
      maxItems: 64,
      uniqueItems: true,
      items: { type: 'string', maxLength: 64, pattern: PERMISSION_PATTERN },
    },
  },
  'x-kubernetes-validations': [
    { rule: 'self.scope == oldSelf.scope', message: 'scope is immutable' },
    {
      rule: 'has(self.org) == has(oldSelf.org) && (!has(self.org) || self.org == oldSelf.org)',
      message: 'org is immutable: create a new Role',
    },
  ],
} as const;

/** The whole `Role` document. */
export const roleSchema = documentSchema('Role', roleSpecSchema);

/** `Role.status` (CRD only). */
export const roleStatusSchema = {
  type: 'object',
  properties: { ...commonStatusProperties },
} as const;
