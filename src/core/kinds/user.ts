/**
 * A person with several addresses: the primary one (`email`, the record's identity) and its
 * aliases, and the language of their invitations. Platform-wide, like plans and roles. The record
 * manages those only: the person's
 * row exists as soon as a membership names them, and outlives the record.
 */
import type { SourceRef } from '../model.js';
import type { PathSegment } from '../parse.js';
import type { KindDescriptor } from './kind.js';
import { address, sorted } from './shared.js';

export interface UserId {
  readonly kind: 'user';
  /** The primary address. */
  readonly email: string;
}

export type UserFields = {
  readonly aliases: readonly string[];
  readonly locale: string | null;
};

export const userKind = {
  kind: 'user',
  key: (id) => [id.email],
  describe: (id) => `user ${id.email}`,
  organization: () => null,
  fields: ['aliases', 'locale'],
  *desired(state) {
    for (const user of state.users.values()) {
      const fields: UserFields = { aliases: sorted(user.aliases), locale: user.locale ?? null };
      yield { id: { kind: 'user', email: user.email }, fields, source: user.source };
    }
  },
  document: {
    kind: 'User',
    identityFields: ['email'],
    mainId(_name, spec) {
      const email = address(spec, 'email');
      return email === undefined ? undefined : { kind: 'user', email };
    },
    ids(name, spec) {
      const id = this.mainId(name, spec);
      return id === undefined ? undefined : [id];
    },
    collect({ parsed, document }, context) {
      if (document.kind !== 'User') return;
      const at: SourceRef = { document: parsed, path: ['spec'] };
      const email = context.email(at, ['email'], document.spec.email);
      if (email === undefined) return;
      const aliases: string[] = [];
      const fields: PathSegment[][] = [];
      (document.spec.aliases ?? []).forEach((raw, i) => {
        const alias = context.email(at, ['aliases', i], raw);
        if (alias === undefined) return;
        aliases.push(alias);
        fields.push(['aliases', i]);
      });
      const locale = document.spec.locale;
      context.addUser(
        { email, aliases, ...(locale !== undefined && { locale }), source: at },
        fields,
      );
    },
    spec: ({ id, fields: f }) => ({
      email: id.email,
      ...(Array.isArray(f.aliases) && f.aliases.length > 0 && { aliases: f.aliases }),
      ...(f.locale !== null && { locale: f.locale }),
    }),
  },
} satisfies KindDescriptor<UserId, UserFields>;
