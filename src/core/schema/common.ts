/**
 * Building blocks shared by the per-kind JSON Schemas. The schemas are the single source of
 * truth: the loader validates with them, the CRDs and the Pulumi schema are generated from them
 * and the TypeScript types are derived from them by the type system (`FromSchema`).
 *
 * Keywords starting with `x-kubernetes-` are carried into the CRDs; the loader ignores them and
 * enforces the same rules in `core/rules.ts`.
 */
import { CONTACT_CATEGORIES, SEAT_KINDS } from '../catalog.js';
import { ACCENT_COLOR_PATTERN, LOGO_URL_PATTERN, SENDER_NAME_PATTERN } from '../branding.js';
import { LOCALE_PATTERN } from '../messages.js';

/** The API group and version of every Roster document. */
export const API_GROUP = 'roster.dev';
/** The version of the format this release reads. */
export const API_VERSION_NAME = 'v1alpha1';
/** `apiVersion` of every Roster document. */
export const API_VERSION = `${API_GROUP}/${API_VERSION_NAME}` as const;

/** A DNS-1123 subdomain, as Kubernetes requires of object names. */
export const NAME_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
/** A DNS-1123 label: resource types and resource names. */
export const LABEL_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
/** An e-mail address, loosely: the loader checks it strictly (see `core/email.ts`). */
export const EMAIL_PATTERN = '^[^@\\s]+@[^@\\s]+$';
/** `type/name` of a resource of the grant's organization. */
export const RESOURCE_REF_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
/** A permission: dotted lowercase words. */
export const PERMISSION_PATTERN = '^[a-z]+(\\.[a-z]+)+$';
/** A calendar date or an RFC 3339 timestamp. */
export const EXPIRY_PATTERN =
  '^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2}))?$';

/** An IANA time zone name's shape. */
export const TIME_ZONE_PATTERN = '^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$';

/** Human wording for each pattern, used in error messages. */
export const PATTERN_DESCRIPTIONS: Readonly<Record<string, string>> = {
  [NAME_PATTERN]:
    "lowercase letters, digits, '-' and '.', starting and ending with a letter or digit",
  [LABEL_PATTERN]: "lowercase letters, digits and '-', starting and ending with a letter or digit",
  [EMAIL_PATTERN]: 'an e-mail address such as alice@example.com',
  [RESOURCE_REF_PATTERN]: 'TYPE/NAME of a resource of the organization, such as site/shop',
  [PERMISSION_PATTERN]: 'a dotted permission such as billing.view',
  [EXPIRY_PATTERN]: 'a date (2027-06-30) or an RFC 3339 timestamp (2027-06-30T12:00:00Z)',
  [LOCALE_PATTERN]: 'a language tag such as fr, en or fr-CA',
  [TIME_ZONE_PATTERN]: 'an IANA time zone such as Europe/Paris or UTC',
  [ACCENT_COLOR_PATTERN]: 'a colour as #RRGGBB, such as #1f6feb',
  [LOGO_URL_PATTERN]: 'an https:// URL without spaces, quotes or angle brackets',
  [SENDER_NAME_PATTERN]: 'a name without quotes, angle brackets or control characters',
};

/** The language invitations are written in (`fr`, `en`, `fr-CA`). */
export const localeSchema = {
  type: 'string',
  maxLength: 35,
  pattern: LOCALE_PATTERN,
  description:
    'The language of invitations (e-mail and pages): fr, en, or a language a catalogue adds.',
} as const;

/** An IANA time zone, checked against the runtime's list by the rules. */
export const timeZoneSchema = {
  type: 'string',
  maxLength: 64,
  pattern: TIME_ZONE_PATTERN,
  description: 'The time zone dates in invitations are written in (IANA: Europe/Paris).',
} as const;

/** How invitations look: the organization's brand over the platform's. */
export const brandingSchema = {
  type: 'object',
  additionalProperties: false,
  description:
    "The brand of invitations (e-mail and pages); each part falls back to the platform's.",
  properties: {
    productName: { type: 'string', minLength: 1, maxLength: 100 },
    senderName: { type: 'string', minLength: 1, maxLength: 100, pattern: SENDER_NAME_PATTERN },
    logoUrl: { type: 'string', maxLength: 2000, pattern: LOGO_URL_PATTERN },
    accentColor: { type: 'string', pattern: ACCENT_COLOR_PATTERN },
  },
} as const;

/** An object name (metadata.name, and references to other objects). */
export const nameSchema = {
  type: 'string',
  minLength: 1,
  maxLength: 253,
  pattern: NAME_PATTERN,
} as const;

/** A DNS label. */
export const labelSchema = {
  type: 'string',
  minLength: 1,
  maxLength: 63,
  pattern: LABEL_PATTERN,
} as const;

/** An e-mail address (of a user or a contact). */
export const emailSchema = {
  type: 'string',
  minLength: 3,
  maxLength: 254,
  pattern: EMAIL_PATTERN,
} as const;

/** Free text shown to people (display names). */
export const displayTextSchema = { type: 'string', minLength: 1, maxLength: 200 } as const;

/** A seat kind. */
export const seatSchema = {
  type: 'string',
  enum: SEAT_KINDS,
  default: 'paid',
  description: 'Which of the plan seats the membership takes.',
} as const;

/** A non-empty set of contact categories. */
export const categoriesSchema = {
  type: 'array',
  minItems: 1,
  maxItems: CONTACT_CATEGORIES.length,
  uniqueItems: true,
  items: { type: 'string', enum: CONTACT_CATEGORIES },
  description: 'The kinds of mail the contact receives.',
} as const;

/** `metadata` of a document: a name, and optionally the Kubernetes namespace, labels, annotations. */
export const metadataSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: nameSchema,
    namespace: labelSchema,
    labels: { type: 'object', additionalProperties: { type: 'string', maxLength: 63 } },
    annotations: { type: 'object', additionalProperties: { type: 'string', maxLength: 65536 } },
  },
} as const;

/** A Kubernetes-style status condition, used by the CRDs' status subresource. */
export const conditionSchema = {
  type: 'object',
  required: ['type', 'status'],
  properties: {
    type: { type: 'string', maxLength: 316 },
    status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
    reason: { type: 'string', maxLength: 1024 },
    message: { type: 'string', maxLength: 32768 },
    observedGeneration: { type: 'integer', minimum: 0 },
    lastTransitionTime: { type: 'string', format: 'date-time' },
  },
} as const;

/** Status fields every kind has. */
export const commonStatusProperties = {
  observedGeneration: { type: 'integer', minimum: 0 },
  conditions: {
    type: 'array',
    items: conditionSchema,
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['type'],
  },
} as const;

/** How invitations of an organization behave; an Organization's policy overrides its Plan's. */
export const invitationPolicySchema = {
  type: 'object',
  additionalProperties: false,
  description:
    'Invitation policy: how long a link is valid, and how often an expired one is re-sent.',
  properties: {
    expiresInDays: { type: 'integer', minimum: 1, maximum: 90 },
    maxResends: { type: 'integer', minimum: 0, maximum: 10 },
  },
} as const;

/** The state of the invitation behind a membership or grant (CRD status only). */
export const invitationStatusSchema = {
  type: 'object',
  properties: {
    state: { type: 'string', enum: ['Pending', 'Accepted', 'Expired', 'Revoked'] },
    sentAt: { type: 'string', format: 'date-time' },
    expiresAt: { type: 'string', format: 'date-time' },
  },
} as const;

/**
 * Wraps a kind's spec schema into the schema of a whole document. `const` type parameters keep
 * the literal types so that `FromSchema` derives precise TypeScript types.
 */
export function documentSchema<const K extends string, const S extends object>(kind: K, spec: S) {
  return {
    $id: `${API_GROUP}/${API_VERSION_NAME}/${kind}`,
    title: kind,
    type: 'object',
    additionalProperties: false,
    required: ['apiVersion', 'kind', 'metadata', 'spec'],
    properties: {
      apiVersion: { type: 'string', const: API_VERSION },
      kind: { type: 'string', const: kind },
      metadata: metadataSchema,
      spec,
    },
  } as const;
}
