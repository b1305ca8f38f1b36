/**
 * Aliases as the database holds them, for drivers that see one record at a time (the Pulumi
 * provider, the operator's removals): a membership or grant naming an alias is its person's. The
 * CLI resolves aliases when it builds the desired state, from the Users of its input.
 */
import { isKind, type RecordId } from './kinds/index.js';
import type { ActualState } from './plan.js';

const computed = new WeakMap<ActualState, ReadonlyMap<string, string>>();

/**
 * Each alias of the snapshot's Users, to its person's primary address; computed once per
 * snapshot (the operator asks it for every resource of an organization).
 */
export function personByAlias(actual: ActualState): ReadonlyMap<string, string> {
  let personOf = computed.get(actual);
  if (personOf === undefined) {
    const map = new Map<string, string>();
    for (const r of actual.records) {
      if (isKind(r, 'user')) for (const alias of r.fields.aliases) map.set(alias, r.id.email);
    }
    computed.set(actual, (personOf = map));
  }
  return personOf;
}

/** The id of the record an id names: an alias's membership or grant is its person's. */
export function resolvePerson<I extends RecordId>(id: I, personOf: ReadonlyMap<string, string>): I {
  if (id.kind !== 'membership' && id.kind !== 'grant') return id;
  const person = personOf.get(id.user);
  return person === undefined ? id : { ...id, user: person };
}
