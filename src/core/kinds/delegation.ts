/**
 * A delegation: an administrator of an organization allowed to act for a member (or every
 * member) there, within the member's own permissions, until an expiry; keyed by (org, name).
 */
import { expiryInstant, startInstant } from '../expiry.js';
import type { SourceRef } from '../model.js';
import type { KindDescriptor } from './kind.js';
import { optional, sorted, text } from './shared.js';

export interface DelegationId {
  readonly kind: 'delegation';
  readonly org: string;
  readonly name: string;
}

export type DelegationFields = {
  readonly delegate: string;
  /** A member's primary address, or `*`. */
  readonly onBehalfOf: string;
  /** Sorted; null: all of the member's. */
  readonly permissions: readonly string[] | null;
  /** An ISO instant; null: at once. */
  readonly starts: string | null;
  /** An ISO instant. */
  readonly expires: string;
  readonly reason: string;
};

/** `onBehalfOf` for every member. */
export const EVERY_MEMBER = '*';

export const delegationKind = {
  kind: 'delegation',
  key: (id) => [id.org, id.name],
  describe: (id) => `delegation ${id.name}`,
  organization: (id) => id.org,
  fields: ['delegate', 'onBehalfOf', 'permissions', 'starts', 'expires', 'reason'],
  *desired(state) {
    for (const d of state.delegations) {
      const fields: DelegationFields = {
        delegate: d.delegate,
        onBehalfOf: d.onBehalfOf,
        permissions: d.permissions === undefined ? null : sorted(d.permissions),
        starts: d.starts ?? null,
        expires: d.expires,
        reason: d.reason,
      };
      yield { id: { kind: 'delegation', org: d.org, name: d.name }, fields, source: d.source };
    }
  },
  document: {
    kind: 'Delegation',
    identityFields: ['org', 'name'],
    mainId(name, spec) {
      const org = text(spec, 'org');
      return org === undefined || name === '' ? undefined : { kind: 'delegation', org, name };
    },
    ids(name, spec) {
      const id = this.mainId(name, spec);
      return id === undefined ? undefined : [id];
    },
    collect({ parsed, document }, context) {
      if (document.kind !== 'Delegation') return;
      const spec = document.spec;
      const at: SourceRef = { document: parsed, path: ['spec'] };
      const delegate = context.person(at, ['delegate'], spec.delegate);
      const onBehalfOf =
        spec.onBehalfOf === EVERY_MEMBER
          ? EVERY_MEMBER
          : context.person(at, ['onBehalfOf'], spec.onBehalfOf);
      const expires = expiryInstant(spec.expires);
      if (expires === undefined) {
        context.error(
          at,
          ['expires'],
          'invalid-date',
          `expires: "${spec.expires}" is not a real date`,
        );
      }
      const starts = spec.starts === undefined ? undefined : startInstant(spec.starts);
      if (spec.starts !== undefined && starts === undefined) {
        context.error(
          at,
          ['starts'],
          'invalid-date',
          `starts: "${spec.starts}" is not a real date`,
        );
      }
      if (
        delegate === undefined ||
        onBehalfOf === undefined ||
        expires === undefined ||
        (spec.starts !== undefined && starts === undefined)
      ) {
        return;
      }
      context.addDelegation({
        org: spec.org,
        name: document.metadata.name,
        delegate,
        onBehalfOf,
        ...(spec.permissions !== undefined && { permissions: spec.permissions }),
        ...(starts !== undefined && { starts }),
        expires,
        reason: spec.reason.normalize('NFC'),
        source: at,
      });
    },
    spec: ({ id, fields: f }) => ({
      org: id.org,
      delegate: f.delegate,
      onBehalfOf: f.onBehalfOf,
      ...optional('permissions', f.permissions),
      ...optional('starts', f.starts),
      expires: f.expires,
      reason: f.reason,
    }),
  },
} satisfies KindDescriptor<DelegationId, DelegationFields>;
