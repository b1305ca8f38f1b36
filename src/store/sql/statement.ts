/**
 * How the store runs a statement. Every statement is an exported function of a module under
 * `src/store/` (as graphile/worker keeps its SQL in `src/sql/`), with a name: the name shows in
 * errors and logs, and a statement marked `prepare` is sent as a named prepared statement, parsed
 * and planned once per connection. Only small point lookups are prepared: a statement whose plan
 * depends on its parameters (a scope that is all or a few organizations) keeps custom plans.
 */
import type pg from 'pg';

/** Anything that runs queries: a pool, or a client inside a transaction. */
export type Queryable = Pick<pg.PoolClient, 'query'>;

/** A named statement. */
export interface Statement {
  readonly name: string;
  readonly text: string;
  readonly prepare: boolean;
}

/** Declares a statement. */
export function statement(
  name: string,
  text: string,
  options: { prepare?: boolean } = {},
): Statement {
  return { name, text, prepare: options.prepare === true };
}

/** Runs a statement with its values. */
export function run<R extends pg.QueryResultRow = pg.QueryResultRow>(
  db: Queryable,
  s: Statement,
  values: readonly unknown[] = [],
): Promise<pg.QueryResult<R>> {
  return db.query<R>(
    s.prepare
      ? { name: s.name, text: s.text, values: [...values] }
      : { text: s.text, values: [...values] },
  );
}
