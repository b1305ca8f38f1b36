/**
 * The access records as the planner compares them: a kind, the parts of its identity, and the
 * fields Roster manages, in one flat, comparable shape shared by the desired state (from
 * manifests), the actual state (from the database) and saved plans.
 */
import {
  KIND_TABLE,
  kindOf,
  RECORD_KINDS,
  type Fields,
  type FieldValue,
  type KindDescriptor,
  type RecordId,
} from './kinds/index.js';
import type { DesiredState } from './model.js';
import type { SourceRef } from './model.js';
import type { PathSegment } from './parse.js';

export {
  describeRecord,
  isKind,
  orgOf,
  RECORD_KINDS,
  type FieldValue,
  type Fields,
  type IdOf,
  type RecordId,
  type RecordKind,
  type RecordOf,
} from './kinds/index.js';

/** A record of the desired or the actual state. */
export interface AccessRecord {
  readonly id: RecordId;
  readonly fields: Fields;
}

/**
 * A desired record, with the place it was declared. The place is resolved to a line and column
 * only when needed (a change or a finding shows it): positions are costly on large inputs.
 */
export interface DesiredRecord extends AccessRecord {
  readonly source?: SourceRef;
  /** Within `source`, the field the record comes from (e.g. `spec.owner` for the owner). */
  readonly sourceField?: readonly PathSegment[];
}

/** Facts the database knows about a member that are not declared. */
export interface MemberFacts {
  readonly status: 'invited' | 'active' | 'suspended';
  readonly joinedAt: string | null;
  readonly invitedBy: string | null;
}

/** A record as the database holds it. */
export interface ActualRecord extends AccessRecord {
  /** Who manages it: `roster-cli`, an operator or Pulumi stack, or null (made in the app). */
  readonly managedBy: string | null;
  /** The fields as Roster last wrote them; differs from `fields` after a change outside Roster. */
  readonly lastApplied: Fields | null;
  readonly facts?: MemberFacts;
}

const keys = new WeakMap<RecordId, string>();
/** Where a record id keeps its key: a hidden property (a WeakMap of millions of entries slows the collector). */
const KEY = Symbol('recordKey');

/**
 * The key of a record: unique across kinds. Remembered per id object, since the planner asks
 * for it several times per record and a million records would otherwise make a million strings
 * each time.
 */
export function recordKey(id: RecordId): string {
  const cached = (id as { [KEY]?: string })[KEY] ?? keys.get(id);
  if (cached !== undefined) return cached;
  // join() makes a flat string at once (a template literal makes a rope, flattened again when
  // the key is first hashed).
  const key = [id.kind, ...(kindOf(id) as KindDescriptor<RecordId, Fields>).key(id)].join('\u0000');
  // Not enumerable: JSON, spreads and comparisons of ids never see it.
  if (Object.isExtensible(id)) Object.defineProperty(id, KEY, { value: key });
  else keys.set(id, key);
  return key;
}

/** Structural equality of field values. */
export function sameValue(a: FieldValue | undefined, b: FieldValue | undefined): boolean {
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((v, i) => v === b[i]);
  }
  return a === b;
}

/** The names of the fields whose values differ. */
export function changedFields(before: Fields, after: Fields): string[] {
  const names = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...names].filter((n) => !sameValue(before[n] ?? null, after[n] ?? null)).sort();
}

/** The desired state as records, kind by kind (parents first). The owner is a membership with role `owner`. */
export function desiredRecords(state: DesiredState): DesiredRecord[] {
  const records: DesiredRecord[] = [];
  // One at a time: spreading a kind's records into push() overflows the stack at a million.
  for (const kind of RECORD_KINDS) {
    for (const record of KIND_TABLE[kind].desired(state)) records.push(record);
  }
  return records;
}
