/**
 * The JSON Schema of a `Group`: people of an organization who share an organization role and
 * grants on its resources (the e-mail provider's group workspaces; teams elsewhere).
 */
import {
  commonStatusProperties,
  documentSchema,
  emailSchema,
  nameSchema,
  RESOURCE_REF_PATTERN,
} from './common.js';

/** The fields a group has both as a document and inline under `Organization.spec.groups`. */
export const groupFields = {
  members: {
    type: 'array',
    maxItems: 10000,
    uniqueItems: true,
    items: emailSchema,
    description:
      'Its people. Someone not yet a member of the organization is invited once, whatever the number of groups; leaving the last group removes the access.',
  },
  role: {
    ...nameSchema,
    description: 'An organization role its members hold there, besides their own.',
  },
  grants: {
    type: 'array',
    maxItems: 1000,
    description: 'Roles its members hold on single resources of the organization.',
    items: {
      type: 'object',
      additionalProperties: false,
      required: ['resource', 'role'],
      properties: {
        resource: {
          type: 'string',
          maxLength: 127,
          pattern: RESOURCE_REF_PATTERN,
          description: 'TYPE/NAME of one of the organization resources.',
        },
        role: { ...nameSchema, description: 'A resource-scope role.' },
      },
    },
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['resource'],
  },
} as const;

/** `Group.spec`. */
export const groupSpecSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['org', 'members'],
  properties: {
    org: { ...nameSchema, description: 'The organization (its metadata.name).' },
    ...groupFields,
  },
  'x-kubernetes-validations': [
    { rule: 'self.org == oldSelf.org', message: 'org is immutable: create a new Group' },
  ],
} as const;

/** The whole `Group` document. */
export const groupSchema = documentSchema('Group', groupSpecSchema);

/** `Group.status` (CRD only). */
export const groupStatusSchema = {
  type: 'object',
  properties: { ...commonStatusProperties },
} as const;
