/**
 * The JSON Schema of an `Organization`: its plan, its one owner, its resources, and optionally
 * its members and contacts inline.
 */
import {
  brandingSchema,
  commonStatusProperties,
  localeSchema,
  timeZoneSchema,
  displayTextSchema,
  documentSchema,
  emailSchema,
  invitationPolicySchema,
  labelSchema,
  nameSchema,
} from './common.js';
import { contactFields } from './contact.js';
import { groupFields } from './group.js';
import { membershipFields, notOwnerRoleValidation } from './membership.js';

/** A resource (a site, a workspace) of an organization, named `type/name` in grants. */
export const resourceSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'name'],
  properties: { type: labelSchema, name: labelSchema },
} as const;

/** `Organization.spec`. */
export const organizationSpecSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['owner'],
  properties: {
    displayName: displayTextSchema,
    plan: { ...nameSchema, description: 'The Plan (its metadata.name).' },
    owner: {
      ...emailSchema,
      description: 'The one owner. Changing it is an ownership transfer.',
    },
    invitations: invitationPolicySchema,
    locale: localeSchema,
    timeZone: timeZoneSchema,
    branding: brandingSchema,
    resources: {
      type: 'array',
      maxItems: 100000,
      items: resourceSchema,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type', 'name'],
    },
    members: {
      type: 'array',
      maxItems: 100000,
      description: 'Inline memberships; the same as Membership documents of this organization.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['user', 'role'],
        properties: membershipFields,
        'x-kubernetes-validations': [notOwnerRoleValidation],
      },
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['user'],
    },
    contacts: {
      type: 'array',
      maxItems: 10000,
      description: 'Inline contacts; the same as Contact documents of this organization.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['email', 'categories'],
        properties: contactFields,
      },
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['email'],
    },
    groups: {
      type: 'array',
      maxItems: 1000,
      description: 'Inline groups; the same as Group documents of this organization.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'members'],
        properties: { name: { ...nameSchema, maxLength: 63 }, ...groupFields },
      },
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['name'],
    },
  },
  'x-kubernetes-validations': [
    {
      rule: '!has(self.resources) || size(self.resources) == 0 || has(self.plan)',
      message: 'an organization needs a plan before it can have resources',
    },
  ],
} as const;

/** The whole `Organization` document. */
export const organizationSchema = documentSchema('Organization', organizationSpecSchema);

/** `Organization.status` (CRD only). */
export const organizationStatusSchema = {
  type: 'object',
  properties: {
    ...commonStatusProperties,
    members: { type: 'integer', minimum: 0, description: 'Memberships, the owner included.' },
    pendingInvitations: { type: 'integer', minimum: 0 },
  },
} as const;
