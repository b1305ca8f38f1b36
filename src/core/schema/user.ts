/**
 * The JSON Schema of a `User`: one person with a primary address and the aliases that are the
 * same person (the e-mail provider's "one mailbox, several addresses"). Platform-wide, like Plan
 * and Role: a membership, grant or group naming an alias is that person.
 */
import { commonStatusProperties, documentSchema, emailSchema, localeSchema } from './common.js';

/** `User.spec`. */
export const userSpecSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['email'],
  properties: {
    email: {
      ...emailSchema,
      description: 'The primary address: where invitations go, and how the person is shown.',
    },
    aliases: {
      type: 'array',
      minItems: 1,
      maxItems: 32,
      uniqueItems: true,
      items: emailSchema,
      description:
        'Other addresses of the same person. A membership, grant or group naming one is this person; the access API answers for any of them.',
    },
    locale: {
      ...localeSchema,
      description:
        "The language of this person's invitations, over their organization's: fr, en, or a language a catalogue adds.",
    },
  },
  'x-kubernetes-validations': [
    { rule: 'self.email == oldSelf.email', message: 'email is immutable: create a new User' },
  ],
} as const;

/** The whole `User` document. */
export const userSchema = documentSchema('User', userSpecSchema);

/** `User.status` (CRD only). */
export const userStatusSchema = {
  type: 'object',
  properties: { ...commonStatusProperties },
} as const;
