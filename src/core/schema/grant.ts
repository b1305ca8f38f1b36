/** The JSON Schema of a `Grant`: a user's role on one resource of an organization. */
import {
  commonStatusProperties,
  invitationStatusSchema,
  documentSchema,
  emailSchema,
  EXPIRY_PATTERN,
  nameSchema,
  RESOURCE_REF_PATTERN,
} from './common.js';

/** `Grant.spec`. */
export const grantSpecSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['org', 'user', 'resource', 'role'],
  properties: {
    org: { ...nameSchema, description: 'The organization that owns the resource.' },
    user: { ...emailSchema, description: 'The e-mail address of the user.' },
    resource: {
      type: 'string',
      maxLength: 127,
      pattern: RESOURCE_REF_PATTERN,
      description: 'TYPE/NAME of one of the organization resources, e.g. site/shop.',
    },
    role: { ...nameSchema, description: 'A resource-scope role: built-in or a custom Role.' },
    expires: {
      type: 'string',
      maxLength: 64,
      pattern: EXPIRY_PATTERN,
      description: 'When the grant lapses; a date means the end of that day, UTC.',
    },
  },
  'x-kubernetes-validations': [
    { rule: 'self.org == oldSelf.org', message: 'org is immutable: create a new Grant' },
    { rule: 'self.user == oldSelf.user', message: 'user is immutable: create a new Grant' },
    {
      rule: 'self.resource == oldSelf.resource',
      message: 'resource is immutable: create a new Grant',
    },
  ],
} as const;

/** The whole `Grant` document. */
export const grantSchema = documentSchema('Grant', grantSpecSchema);

/** `Grant.status` (CRD only). */
export const grantStatusSchema = {
  type: 'object',
  properties: {
    ...commonStatusProperties,
    invitation: invitationStatusSchema,
  },
} as const;
