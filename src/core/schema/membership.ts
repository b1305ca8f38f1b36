/** The JSON Schema of a `Membership`: a user in an organization with a role. */
import {
  commonStatusProperties,
  invitationStatusSchema,
  documentSchema,
  emailSchema,
  nameSchema,
  seatSchema,
} from './common.js';

/** The fields a membership has both as a document and inline under `Organization.spec.members`. */
export const membershipFields = {
  user: { ...emailSchema, description: 'The e-mail address of the user.' },
  role: {
    ...nameSchema,
    description: 'An organization-scope role: built-in or a custom Role. Never `owner`.',
  },
  seat: seatSchema,
  suspended: {
    type: 'boolean',
    default: false,
    description: 'A suspended membership is kept but grants nothing.',
  },
} as const;

/** `owner` is `Organization.spec.owner`, never a membership role. */
export const notOwnerRoleValidation = {
  rule: "self.role != 'owner'",
  message: 'owner is not a membership role: set spec.owner on the Organization',
} as const;

/** `Membership.spec`. */
export const membershipSpecSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['org', 'user', 'role'],
  properties: {
    org: { ...nameSchema, description: 'The organization (its metadata.name).' },
    ...membershipFields,
  },
  'x-kubernetes-validations': [
    notOwnerRoleValidation,
    { rule: 'self.org == oldSelf.org', message: 'org is immutable: create a new Membership' },
    { rule: 'self.user == oldSelf.user', message: 'user is immutable: create a new Membership' },
  ],
} as const;

/** The whole `Membership` document. */
export const membershipSchema = documentSchema('Membership', membershipSpecSchema);

/** `Membership.status` (CRD only): the member's state and their invitation. */
export const membershipStatusSchema = {
  type: 'object',
  properties: {
    ...commonStatusProperties,
    memberStatus: { type: 'string', enum: ['invited', 'active', 'suspended'] },
    joinedAt: { type: 'string', format: 'date-time' },
    invitation: invitationStatusSchema,
  },
} as const;
