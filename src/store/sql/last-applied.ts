/**
 * The `last_applied` JSON of a row, built in SQL from the kind's managed fields: one definition
 * per kind, used both where apply writes it and where the snapshot compares it with the row.
 * A field added to a kind's `fields` must be given a column expression here (the type says so).
 */
import { KIND_TABLE, type FieldsByKind } from '../../core/kinds/index.js';

type Columns<K extends keyof FieldsByKind> = {
  readonly [F in keyof FieldsByKind[K] & string]: string;
};

/** `jsonb_build_object('role', <expr>, ...)` in the order of the kind's fields. */
function build<K extends keyof FieldsByKind>(kind: K, columns: Columns<K>): string {
  const fields = KIND_TABLE[kind].fields as readonly (keyof Columns<K> & string)[];
  return `jsonb_build_object(${fields.map((f) => `'${f}', ${columns[f]}`).join(', ')})`;
}

/** A membership row as stored (`m`), and as apply's input (`x`). */
export const MEMBERSHIP_APPLIED = {
  row: build('membership', { role: 'm.role', seat: 'm.seat', suspended: "m.status = 'suspended'" }),
  input: build('membership', { role: 'x.role', seat: 'x.seat', suspended: 'x.suspended' }),
};

/** A grant, as apply's input. */
export const GRANT_APPLIED = {
  input: build('grant', { role: 'x.role', expires: 'x.expires' }),
};

/** A contact, as apply's input. */
export const CONTACT_APPLIED = {
  input: build('contact', { name: 'x.name', categories: 'x.categories::jsonb' }),
};
