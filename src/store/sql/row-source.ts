/**
 * Where a write statement takes its rows from: parameters as arrays (`unnest`, one round trip,
 * for the few rows of most applies), or a staging table filled by `COPY` (for the many rows of a
 * first apply: PostgreSQL reads COPY's text format far faster than it parses arrays or a JSON
 * document, and the statement then joins a real table). Both forms are built from one column
 * list, so a statement is written once and runs from either (ADR 0007).
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import { RosterError } from '../../core/errors.js';
import { run, statement, type Queryable, type Statement } from './statement.js';

/** The SQL types a staged column may have. */
export type SqlType = 'text' | 'int' | 'boolean' | 'jsonb' | 'timestamptz';

/** A statement's input rows: a name, and its columns in order. */
export interface RowSource<N extends string = string> {
  readonly name: string;
  readonly columns: readonly (readonly [column: N, type: SqlType])[];
}

/** Declares the rows a statement reads, aliased `x` in its text. */
export function rowSource<const N extends string>(
  name: string,
  columns: readonly (readonly [column: N, type: SqlType])[],
): RowSource<N> {
  return { name, columns };
}

/** How each column's value is read from one item of the caller's list. */
export type Getters<T, N extends string> = { readonly [C in N]: (item: T) => unknown };

/**
 * `unnest($first::text[], ...) AS x(a, b, ...)`: the rows as array parameters, one per column,
 * numbered from `first` (parameters before it are the statement's own).
 */
function fromArrays(source: RowSource, first: number): string {
  const arrays = source.columns.map(([, type], i) => `$${first + i}::${type}[]`);
  return `unnest(${arrays.join(', ')}) AS x(${source.columns.map(([c]) => c).join(', ')})`;
}

/** The staging table `stage` fills, aliased `x`. */
function fromStaged(source: RowSource): string {
  return `${stagingTable(source)} AS x`;
}

const stagingTable = (source: RowSource) => `pg_temp.${source.name}_stage`;

/** Rows per chunk handed to the COPY stream (a few hundred kB of text). */
const CHUNK_ROWS = 2_000;

/**
 * Fills the source's staging table with `items` through `COPY … FROM STDIN`: a temporary table
 * (never written to the WAL) dropped when the transaction ends, commit or rollback, so this runs
 * inside one; then analysed, so that the statement reading it joins it sensibly. `get` reads each
 * column's value: `null` and `undefined` are SQL NULL, objects are written as JSON.
 */
async function stage<T, N extends string>(
  db: Queryable,
  source: RowSource<N>,
  items: readonly T[],
  get: Getters<T, N>,
): Promise<void> {
  const table = stagingTable(source);
  const columns = source.columns.map(([c, type]) => `${c} ${type}`).join(', ');
  try {
    await db.query(
      `CREATE TEMPORARY TABLE IF NOT EXISTS ${source.name}_stage (${columns}) ON COMMIT DROP`,
    );
  } catch (error) {
    // 42501 insufficient_privilege: TEMPORARY was revoked from the role (PUBLIC has it by default).
    if ((error as { code?: string }).code !== '42501') throw error;
    throw new RosterError(
      'temporary-tables',
      `this apply writes ${items.length} ${source.name} rows through a temporary table, and the database role may not create one: GRANT TEMPORARY ON DATABASE <database> TO <role> (docs/access-database.md); nothing was changed`,
      { cause: error },
    );
  }
  await db.query(`TRUNCATE ${table}`);
  const getters = source.columns.map(([c]) => get[c]);
  function* chunks(): Generator<string> {
    for (let start = 0; start < items.length; start += CHUNK_ROWS) {
      const lines: string[] = [];
      for (const item of items.slice(start, start + CHUNK_ROWS)) {
        lines.push(getters.map((value) => copyText(value(item))).join('\t'));
      }
      yield `${lines.join('\n')}\n`;
    }
  }
  await pipeline(Readable.from(chunks()), db.query(copyFrom(`COPY ${table} FROM STDIN`)));
  await db.query(`ANALYZE ${table}`);
}

/** Rows of one statement from which they are staged through COPY rather than sent as arrays. */
export const COPY_FROM_ROWS = 10_000;

/** A write statement in its two forms: rows as array parameters, or from the staging table. */
export interface RowsStatement<N extends string> {
  readonly source: RowSource<N>;
  readonly arrays: Statement;
  readonly staged: Statement;
}

/**
 * Declares a write statement reading `source`: `sql(from)` is its text given the FROM item (`x`);
 * its own parameters, if any, come first ($1..$own), the arrays after them.
 */
export function rowsStatement<N extends string>(
  name: string,
  source: RowSource<N>,
  own: number,
  sql: (from: string) => string,
): RowsStatement<N> {
  return {
    source,
    arrays: statement(name, sql(fromArrays(source, own + 1))),
    staged: statement(`${name}-staged`, sql(fromStaged(source))),
  };
}

/**
 * Runs a write statement over `items`: staged through COPY from `copyFrom` items up (inside a
 * transaction), as arrays below. Returns the rows it wrote.
 */
export async function writeRows<T, N extends string>(
  db: Queryable,
  s: RowsStatement<N>,
  own: readonly unknown[],
  items: readonly T[],
  get: Getters<T, N>,
  copyFrom: number = COPY_FROM_ROWS,
): Promise<number> {
  if (items.length === 0) return 0;
  if (items.length >= copyFrom) {
    await stage(db, s.source, items, get);
    return (await run(db, s.staged, own)).rowCount ?? 0;
  }
  return (await run(db, s.arrays, [...own, ...arraysOf(s.source, items, get)])).rowCount ?? 0;
}

/** The values of each column, as arrays in the source's order (`fromArrays`' parameters). */
function arraysOf<T, N extends string>(
  source: RowSource<N>,
  items: readonly T[],
  get: Getters<T, N>,
): unknown[][] {
  return source.columns.map(([c]) => items.map((item) => get[c](item)));
}

/**
 * A value in COPY's text format: `\N` for NULL; backslash, tab, newline and carriage return
 * escaped (https://www.postgresql.org/docs/15/sql-copy.html#id-1.9.3.55.9.2).
 */
export function copyText(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  const text =
    typeof value === 'string'
      ? value
      : typeof value === 'object'
        ? JSON.stringify(value)
        : String(value);
  return /[\\\t\n\r]/.test(text) ? text.replace(/[\\\t\n\r]/g, escapeOne) : text;
}

const ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\\\',
  '\t': '\\t',
  '\n': '\\n',
  '\r': '\\r',
};
const escapeOne = (ch: string) => ESCAPES[ch] ?? ch;
