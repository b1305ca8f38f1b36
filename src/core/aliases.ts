/**
 * Aliases as the database holds them, for drivers that see one record at a time (the Pulumi
 * provider, the operator's removals): a membership or grant naming an alias is its person's. The
 * CLI resolves aliases when it builds the desired state, from the Users of its input.
 */
import { isKind, type RecordId } from './kinds/index.js';
import type { ActualState } from './plan.js';

/** Each alias of the snapshot's Users, to its person's primary address. */
export function personByAlias(actual: ActualState): Map<string, string> {
  const personOf = new Map<string, string>();
  for (const r of actual.records) {
    if (isKind(r, 'user')) for (const alias of r.fields.aliases) personOf.set(alias, r.id.email);
  }
  return personOf;
}

/** The id of the record an id names: an alias's membership or grant is its person's. */
export function resolvePerson<I extends RecordId>(id: I, personOf: ReadonlyMap<string, string>): I {
  if (id.kind !== 'membership' && id.kind !== 'grant') return id;
  const person = personOf.get(id.user);
  return person === undefined ? id : { ...id, user: person };
}
