/**
 * Whether the access database could be distributed by tenant (Citus: `create_distributed_table`
 * on `org_id`, `create_reference_table` for the platform-wide tables), read from the catalog.
 *
 * Citus' rules, as its documentation states them for a distributed table: every primary key and
 * unique constraint must include the distribution column; a foreign key between two distributed
 * tables must include the distribution column on both sides (the tables are colocated); a
 * distributed table may reference a reference table, but a reference table may not reference a
 * distributed one. The tenant tables are the ones with an `org_id` column; the rest must be on
 * the list of small platform-wide tables, which become reference tables.
 */
import type { Queryable } from './sql/statement.js';

/** The distribution column of every tenant table. */
export const TENANT_KEY = 'org_id';

/**
 * Tables replicated to every node as reference tables: the platform-wide ones (`users` and its
 * records, because a person is one person across tenants: the switch-account list), and
 * `organizations`, the tenants themselves — names unique platform-wide, and each node joins its
 * tenants' rows to their organization locally (docs/scale.md says what that costs).
 */
export const REFERENCE_TABLES = [
  'api_keys',
  'input_files',
  'organizations',
  'plans',
  'role_permissions',
  'roles',
  'roster_migrations',
  'roster_settings',
  'user_aliases',
  'user_records',
  'users',
] as const;

/** A reason a table cannot be distributed as it is. */
export interface DistributionProblem {
  readonly table: string;
  readonly problem: string;
}

interface ConstraintRow {
  table: string;
  name: string;
  type: 'p' | 'u' | 'f';
  columns: string[];
  referenced: string | null;
  referenced_columns: string[] | null;
}

/** What stands between the schema and a Citus cluster distributed by `org_id`. */
export async function distributionProblems(
  db: Queryable,
  schema = 'public',
): Promise<DistributionProblem[]> {
  const tables = await db.query<{ table: string; tenant: boolean }>(
    `SELECT c.relname AS table,
            EXISTS (SELECT 1 FROM pg_attribute a
                     WHERE a.attrelid = c.oid AND a.attname = $2 AND NOT a.attisdropped) AS tenant
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
      ORDER BY c.relname`,
    [schema, TENANT_KEY],
  );
  const constraints = await db.query<ConstraintRow>(
    `SELECT t.relname AS table, k.conname AS name, k.contype AS type,
            ARRAY(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY u(n, i)
                    JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.i)::text[] AS columns,
            r.relname AS referenced,
            CASE WHEN k.confrelid = 0 THEN NULL ELSE
            ARRAY(SELECT a.attname FROM unnest(k.confkey) WITH ORDINALITY u(n, i)
                    JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY u.i)::text[] END
              AS referenced_columns
       FROM pg_constraint k
       JOIN pg_class t ON t.oid = k.conrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
       LEFT JOIN pg_class r ON r.oid = k.confrelid
      WHERE n.nspname = $1 AND k.contype IN ('p', 'u', 'f')
      ORDER BY t.relname, k.conname`,
    [schema],
  );
  // Unique indexes are unique constraints to Citus too.
  const indexes = await db.query<{ table: string; name: string; columns: string[] }>(
    `SELECT t.relname AS table, i.relname AS name,
            ARRAY(SELECT a.attname FROM unnest(x.indkey) u(n)
                    JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = u.n)::text[] AS columns
       FROM pg_index x
       JOIN pg_class i ON i.oid = x.indexrelid
       JOIN pg_class t ON t.oid = x.indrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = $1 AND x.indisunique
        AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)`,
    [schema],
  );
  const reference = new Set<string>(REFERENCE_TABLES);
  /** Distributed by org_id: the tables that have it, but the reference ones. */
  const tenant = new Map(tables.rows.map((t) => [t.table, t.tenant && !reference.has(t.table)]));
  const problems: DistributionProblem[] = [];
  for (const { table, tenant: hasKey } of tables.rows) {
    if (!hasKey && !reference.has(table)) {
      problems.push({
        table,
        problem: `has no ${TENANT_KEY} and is not a platform-wide reference table (REFERENCE_TABLES)`,
      });
    }
  }
  const keyed = (columns: readonly string[]) => columns[0] === TENANT_KEY;
  for (const c of constraints.rows) {
    if (tenant.get(c.table) !== true) {
      if (c.type === 'f' && c.referenced !== null && tenant.get(c.referenced) === true) {
        problems.push({
          table: c.table,
          problem: `${c.name}: a reference table may not reference the tenant table ${c.referenced}`,
        });
      }
      continue;
    }
    if ((c.type === 'p' || c.type === 'u') && !keyed(c.columns)) {
      problems.push({
        table: c.table,
        problem: `${c.name}: ${c.type === 'p' ? 'primary key' : 'unique constraint'} (${c.columns.join(', ')}) does not lead with ${TENANT_KEY}`,
      });
    }
    if (c.type === 'f' && c.referenced !== null && tenant.get(c.referenced) === true) {
      const at = c.columns.indexOf(TENANT_KEY);
      if (at < 0 || c.referenced_columns?.[at] !== TENANT_KEY) {
        problems.push({
          table: c.table,
          problem: `${c.name}: foreign key (${c.columns.join(', ')}) to ${c.referenced} does not match ${TENANT_KEY} with ${TENANT_KEY}`,
        });
      }
    }
  }
  for (const i of indexes.rows) {
    if (tenant.get(i.table) === true && !i.columns.includes(TENANT_KEY)) {
      problems.push({
        table: i.table,
        problem: `${i.name}: unique index (${i.columns.join(', ')}) does not include ${TENANT_KEY}`,
      });
    }
  }
  return problems;
}
