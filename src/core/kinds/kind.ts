/**
 * What every kind of record has: a typed identity, typed fields, and the functions that move a
 * record between its forms (document spec, desired state, record, database row). One descriptor
 * per kind lives next to this file; `index.ts` collects them into the kind table.
 */
import type { CheckedDocument } from '../check-document.js';
import type { AccessRecord, DesiredRecord } from '../records.js';
import type { DesiredState } from '../model.js';
import type { CollectContext } from '../desired-state.js';
import type { Kind } from '../schema/index.js';
import type { RecordId } from './index.js';

/** A field value: JSON scalars and sorted string lists, so that equality is structural. */
export type FieldValue = string | number | boolean | null | readonly string[];
/** The fields Roster manages on a record. */
export type Fields = Readonly<Record<string, FieldValue>>;

/** The part of a kind that a person writes as a document (every kind but `resource`). */
export interface DocumentPart<Id> {
  /** The document kind: `Membership`. */
  readonly kind: Kind;
  /**
   * The inputs that name the record, in the order a Pulumi id joins them with `/`: `['name']`
   * (metadata.name) or `['org', 'user']`. The last may itself contain `/` (a grant's resource).
   */
  readonly identityFields: readonly string[];
  /**
   * The record this document is about, from its identity fields alone (the other fields may be
   * unknown or invalid); undefined when they do not name one (missing, or not an address).
   */
  mainId(name: string, spec: Readonly<Record<string, unknown>>): Id | undefined;
  /** Every record the document declares, from identity fields alone (an Organization: its members too). */
  ids(name: string, spec: Readonly<Record<string, unknown>>): RecordId[] | undefined;
  /** Adds what a checked document declares to the desired state being built. */
  collect(checked: CheckedDocument, context: CollectContext): void;
  /**
   * The document's spec (without metadata) from the record as the database holds it and the
   * records of its organization: for export, the operator's context and Pulumi's read-back.
   */
  spec(
    record: { readonly id: Id; readonly fields: Fields },
    tenant: readonly AccessRecord[],
  ): Record<string, unknown>;
}

/** Any record id, as the kind table sees it before narrowing. */
export interface RecordIdBase {
  readonly kind: string;
}

/** One kind of record. `Id` is its identity, `F` its managed fields. */
export interface KindDescriptor<Id extends RecordIdBase, F extends Fields> {
  readonly kind: Id['kind'];
  /** The parts of the identity after the kind, in a fixed order: its key. */
  key(id: Id): readonly string[];
  /** How people read it: `membership bob@dev.io`, `grant dave@x.io on site/shop`. */
  describe(id: Id): string;
  /** The organization it belongs to; null for platform-wide kinds (plans, roles). */
  organization(id: Id): string | null;
  /** Its managed fields, in the order `last_applied` and the SQL list them. */
  readonly fields: readonly (keyof F & string)[];
  /** Its records in a desired state. */
  desired(state: DesiredState): Iterable<DesiredRecord>;
  /** Declared by a document of its own, or (a resource) only inside its organization's. */
  readonly document: DocumentPart<Id> | null;
}
