/** The JSON Schema of a `Contact`: someone who cannot log in but receives mail by category. */
import {
  categoriesSchema,
  commonStatusProperties,
  displayTextSchema,
  documentSchema,
  emailSchema,
  nameSchema,
} from './common.js';

/** The fields a contact has both as a document and inline under `Organization.spec.contacts`. */
export const contactFields = {
  email: emailSchema,
  name: { ...displayTextSchema, description: 'How the contact is addressed in mail.' },
  categories: categoriesSchema,
} as const;

/** `Contact.spec`. */
export const contactSpecSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['org', 'email', 'categories'],
  properties: {
    org: { ...nameSchema, description: 'The organization (its metadata.name).' },
    ...contactFields,
  },
  'x-kubernetes-validations': [
    { rule: 'self.org == oldSelf.org', message: 'org is immutable: create a new Contact' },
  ],
} as const;

/** The whole `Contact` document. */
export const contactSchema = documentSchema('Contact', contactSpecSchema);

/** `Contact.status` (CRD only). */
export const contactStatusSchema = {
  type: 'object',
  properties: { ...commonStatusProperties },
} as const;
