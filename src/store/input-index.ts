/**
 * The input index recorded at apply time (migration 000008) and the digests of organizations'
 * rows that incremental plans compare with it. Every read is one set-based statement: the digests
 * of ten thousand organizations are one grouped scan per table, never a query per organization.
 */
import { createHash } from 'node:crypto';
import type { IndexedFile, OrganizationInput } from '../core/input-index.js';
import { run, statement, type Queryable } from './sql/statement.js';

/** An organization's rows in the database, as a plan sees them. */
export interface OrganizationState {
  /** Digest of every row of the organization (its own, resources, members, grants, contacts). */
  readonly digest: string;
  /** It has rows another manager, or no manager, owns: reported or pruned by a plan. */
  readonly foreign: boolean;
  /** It has grants whose expiry has passed: the input that declares them is invalid now. */
  readonly expired: boolean;
  /** Members and grant holders invited who have not accepted. */
  readonly invited: { readonly memberships: number; readonly grants: number };
}

// Each row version's transaction id (`xmin`) is hashed, and the hashes summed per organization and
// table, with the row count: any insert, update or delete since changes the sum or the count (an
// update writes a new row version, with the writing transaction's id), and hashing a transaction
// id costs a tenth of hashing the row's text (0.15 s against 1.5 s for 700k members). `xmin` keeps
// its value when a row is frozen (PostgreSQL >= 9.4). A member's address lives in `users`: a
// change of address touches the user's memberships and grants (trigger `users_renamed`, migration
// 000008), so it shows here too. The sum does not depend on the order rows are read in.
const ORGANIZATION_STATES = statement(
  'organization-states',
  `WITH scope AS (SELECT org_id, name FROM organizations
                   WHERE $1::text[] IS NULL OR name = ANY($1::text[])),
        parts AS (
          SELECT o.org_id, 'o' AS t, 1::bigint AS n,
                 hashtextextended(o.xmin::text, 0)::numeric AS h,
                 (o.managed_by IS DISTINCT FROM $2)::int AS foreign_rows, 0::bigint AS expired,
                 0::bigint AS invited_m, 0::bigint AS invited_g
            FROM organizations o JOIN scope USING (org_id)
          UNION ALL
          SELECT r.org_id, 'r', count(*), sum(hashtextextended(r.xmin::text, 0)),
                 count(*) FILTER (WHERE r.managed_by IS DISTINCT FROM $2), 0, 0, 0
            FROM resources r JOIN scope USING (org_id) GROUP BY r.org_id
          UNION ALL
          SELECT m.org_id, 'm', count(*), sum(hashtextextended(m.xmin::text, 0)),
                 count(*) FILTER (WHERE m.managed_by IS DISTINCT FROM $2), 0,
                 count(*) FILTER (WHERE m.status = 'invited'), 0
            FROM memberships m JOIN scope USING (org_id) GROUP BY m.org_id
          UNION ALL
          SELECT g.org_id, 'g', count(*), sum(hashtextextended(g.xmin::text, 0)),
                 count(*) FILTER (WHERE g.managed_by IS DISTINCT FROM $2),
                 count(*) FILTER (WHERE g.expires_at <= $3), 0,
                 count(*) FILTER (WHERE g.status = 'invited')
            FROM grants g JOIN scope USING (org_id) GROUP BY g.org_id
          UNION ALL
          SELECT c.org_id, 'c', count(*), sum(hashtextextended(c.xmin::text, 0)),
                 count(*) FILTER (WHERE c.managed_by IS DISTINCT FROM $2), 0, 0, 0
            FROM contacts c JOIN scope USING (org_id) GROUP BY c.org_id
          UNION ALL
          SELECT gr.org_id, 'p', count(*), sum(hashtextextended(gr.xmin::text, 0)),
                 count(*) FILTER (WHERE gr.managed_by IS DISTINCT FROM $2), 0, 0, 0
            FROM groups gr JOIN scope USING (org_id) GROUP BY gr.org_id
          UNION ALL
          SELECT gm.org_id, 'q', count(*), sum(hashtextextended(gm.xmin::text, 0)), 0, 0, 0, 0
            FROM group_members gm JOIN scope USING (org_id) GROUP BY gm.org_id
          UNION ALL
          SELECT gg.org_id, 'x', count(*), sum(hashtextextended(gg.xmin::text, 0)), 0, 0, 0, 0
            FROM group_grants gg JOIN scope USING (org_id) GROUP BY gg.org_id
          UNION ALL
          -- A delegation that lapsed must be planned again (the rules refuse it): like a grant.
          SELECT d.org_id, 'd', count(*), sum(hashtextextended(d.xmin::text, 0)),
                 count(*) FILTER (WHERE d.managed_by IS DISTINCT FROM $2),
                 count(*) FILTER (WHERE d.expires_at <= $3), 0, 0
            FROM delegations d JOIN scope USING (org_id) GROUP BY d.org_id)
   SELECT s.name, md5(string_agg(p.t || ':' || p.n || ':' || p.h, ',' ORDER BY p.t)) AS digest,
          sum(p.foreign_rows) > 0 AS foreign, sum(p.expired) > 0 AS expired,
          sum(p.invited_m)::int AS invited_memberships, sum(p.invited_g)::int AS invited_grants
     FROM parts p JOIN scope s USING (org_id)
    GROUP BY s.name`,
);

/** The rows' digest and facts of the named organizations (or all), for `manager`. */
export async function readOrganizationStates(
  db: Queryable,
  manager: string,
  names: readonly string[] | 'all',
  now: Date,
): Promise<Map<string, OrganizationState>> {
  const { rows } = await run<{
    name: string;
    digest: string;
    foreign: boolean;
    expired: boolean;
    invited_memberships: number;
    invited_grants: number;
  }>(db, ORGANIZATION_STATES, [names === 'all' ? null : [...names], manager, now]);
  const states = new Map<string, OrganizationState>();
  for (const r of rows) {
    states.set(r.name, {
      digest: r.digest,
      foreign: r.foreign,
      expired: r.expired,
      invited: { memberships: r.invited_memberships, grants: r.invited_grants },
    });
  }
  return states;
}

const CATALOG_STATE = statement(
  'catalog-state',
  `SELECT md5(coalesce((SELECT string_agg(p::text, ',' ORDER BY p.name) FROM plans p), '') || '|' ||
              coalesce((SELECT string_agg(r::text, ',' ORDER BY r.name) FROM roles r), '') || '|' ||
              coalesce((SELECT string_agg(rp::text || rp.xmin::text, ',' ORDER BY rp.role, rp.permission)
                          FROM role_permissions rp), '') || '|' ||
              coalesce((SELECT string_agg(a.alias || ':' || a.user_id, ',' ORDER BY a.alias)
                          FROM user_aliases a), '')) AS digest`,
);

/**
 * The basis of a plan: a digest of the plans and roles, and of the rows of every organization in
 * its scope, computed by the database (or `known`: the states of every organization of the scope
 * that exists, read by the caller). An apply of the saved plan computes it again and refuses
 * the plan if it differs (something was written since).
 */
export async function readBasis(
  db: Queryable,
  manager: string,
  scope: readonly string[] | 'all',
  now: Date,
  known?: ReadonlyMap<string, OrganizationState>,
): Promise<string> {
  const { rows } = await run<{ digest: string }>(db, CATALOG_STATE);
  const states = known ?? (await readOrganizationStates(db, manager, scope, now));
  const names = scope === 'all' ? [...states.keys()].sort() : scope;
  const hash = createHash('sha256').update(`catalog\u0000${rows[0]?.digest ?? ''}\n`);
  for (const name of names) {
    hash.update(`${name}\u0000${states.get(name)?.digest ?? 'absent'}\n`);
  }
  return `state:${hash.digest('hex')}`;
}

/** A file as the index recorded it, without its document names (see `readFilesDeclaring`). */
export type RecordedFile = Omit<IndexedFile, 'documents'> & {
  /** Whether it declares a User (read on every plan: aliases change what other files mean). */
  readonly declaresUsers: boolean;
};

const RECORDED_FILES = statement(
  'recorded-input-files',
  // Document names are sorted and `User/` sorts after every other kind: a file declares a User
  // when its last name is one, read without unnesting every file's names.
  `SELECT path, sha256, organizations, plans, roles, warnings,
          coalesce(starts_with(documents[cardinality(documents)], 'User/'), false) AS "declaresUsers"
     FROM input_files f
    WHERE manager = $1
      AND EXISTS (SELECT 1 FROM unnest($2::text[]) AS root(path)
                   WHERE root.path = '.' OR f.path = root.path
                      OR starts_with(f.path, root.path || '/'))`,
);

/** The files recorded for `manager` under the given roots (directories or files, as shown). */
export async function readRecordedFiles(
  db: Queryable,
  manager: string,
  roots: readonly string[],
): Promise<Map<string, RecordedFile>> {
  const { rows } = await run<RecordedFile>(db, RECORDED_FILES, [manager, [...roots]]);
  return new Map(rows.map((r) => [r.path, r]));
}

const FILES_DECLARING = statement(
  'input-files-declaring',
  // A hash join of the names, not `documents && $2`: the overlap operator compares every
  // element with every other, minutes for the hundred thousand names of a large change.
  `SELECT DISTINCT f.path
     FROM input_files f CROSS JOIN LATERAL unnest(f.documents) AS d(name)
     JOIN unnest($2::text[]) AS x(name) ON x.name = d.name
    WHERE f.manager = $1`,
);

/** The recorded files that declare one of these documents (`Kind/namespace/name`). */
export async function readFilesDeclaring(
  db: Queryable,
  manager: string,
  documents: readonly string[],
): Promise<string[]> {
  if (documents.length === 0) return [];
  const { rows } = await run<{ path: string }>(db, FILES_DECLARING, [manager, [...documents]]);
  return rows.map((r) => r.path);
}

/** What an organization was last applied from. */
export interface RecordedOrganization {
  readonly inputDigest: string;
  readonly uses: string[];
  readonly stateDigest: string;
}

const RECORDED_ORGANIZATIONS = statement(
  'recorded-organization-inputs',
  `SELECT o.name, i.input_digest, i.uses, i.state_digest
     FROM organization_inputs i JOIN organizations o USING (org_id)
    WHERE i.manager = $1 AND o.name = ANY($2::text[])`,
);

/** What the named organizations were last applied from, by `manager`. */
export async function readRecordedOrganizations(
  db: Queryable,
  manager: string,
  names: readonly string[],
): Promise<Map<string, RecordedOrganization>> {
  const { rows } = await run<{
    name: string;
    input_digest: string;
    uses: string[];
    state_digest: string;
  }>(db, RECORDED_ORGANIZATIONS, [manager, [...names]]);
  return new Map(
    rows.map((r) => [
      r.name,
      { inputDigest: r.input_digest, uses: r.uses, stateDigest: r.state_digest },
    ]),
  );
}

const RECORD_FILES = statement(
  'record-input-files',
  `INSERT INTO input_files AS f (manager, path, sha256, organizations, plans, roles, documents, warnings)
   SELECT $1, x.path, x.sha256,
          ARRAY(SELECT jsonb_array_elements_text(x.organizations)),
          ARRAY(SELECT jsonb_array_elements_text(x.plans)),
          ARRAY(SELECT jsonb_array_elements_text(x.roles)),
          ARRAY(SELECT jsonb_array_elements_text(x.documents)),
          x.warnings
     FROM jsonb_to_recordset($2::jsonb)
          AS x(path text, sha256 text, organizations jsonb, plans jsonb, roles jsonb,
               documents jsonb, warnings int)
   ON CONFLICT (manager, path) DO UPDATE
      SET sha256 = EXCLUDED.sha256, organizations = EXCLUDED.organizations,
          plans = EXCLUDED.plans, roles = EXCLUDED.roles, documents = EXCLUDED.documents,
          warnings = EXCLUDED.warnings, recorded_at = now()`,
);

const FORGET_FILES = statement(
  'forget-input-files',
  `DELETE FROM input_files WHERE manager = $1 AND path = ANY($2::text[])`,
);

const RECORD_ORGANIZATIONS = statement(
  'record-organization-inputs',
  `INSERT INTO organization_inputs AS i (org_id, manager, input_digest, uses, state_digest)
   SELECT o.org_id, $1, x.digest, ARRAY(SELECT jsonb_array_elements_text(x.uses)), x.state
     FROM jsonb_to_recordset($2::jsonb) AS x(name text, digest text, uses jsonb, state text)
     JOIN organizations o ON o.name = x.name
   ON CONFLICT (org_id) DO UPDATE
      SET manager = EXCLUDED.manager, input_digest = EXCLUDED.input_digest,
          uses = EXCLUDED.uses, state_digest = EXCLUDED.state_digest, recorded_at = now()`,
);

/** Rows per statement when recording (bounds the JSON parameter). */
const RECORD_BATCH = 5_000;

/**
 * Records what an apply was made from, inside its transaction and after its writes: the files
 * read (and forgets those gone from the input), and for each organization planned, its input
 * digest and its rows' digest as the apply leaves them.
 */
export async function recordInput(
  db: Queryable,
  manager: string,
  input: {
    readonly files: readonly IndexedFile[];
    readonly removedPaths: readonly string[];
    readonly organizations: readonly OrganizationInput[];
  },
  now: Date,
): Promise<void> {
  for (let i = 0; i < input.files.length; i += RECORD_BATCH) {
    await run(db, RECORD_FILES, [manager, JSON.stringify(input.files.slice(i, i + RECORD_BATCH))]);
  }
  if (input.removedPaths.length > 0) {
    await run(db, FORGET_FILES, [manager, [...input.removedPaths]]);
  }
  for (let i = 0; i < input.organizations.length; i += RECORD_BATCH) {
    const batch = input.organizations.slice(i, i + RECORD_BATCH);
    const states = await readOrganizationStates(
      db,
      manager,
      batch.map((o) => o.name),
      now,
    );
    const rows = batch.flatMap((o) => {
      const state = states.get(o.name);
      return state === undefined
        ? []
        : [{ name: o.name, digest: o.digest, uses: o.uses, state: state.digest }];
    });
    await run(db, RECORD_ORGANIZATIONS, [manager, JSON.stringify(rows)]);
  }
}

const ORGANIZATIONS_USING = statement(
  'organizations-using',
  `SELECT name FROM organizations WHERE plan = ANY($1::text[])
   UNION
   SELECT o.name FROM organizations o
    WHERE EXISTS (SELECT 1 FROM memberships m WHERE m.org_id = o.org_id AND m.role = ANY($2::text[]))
       OR EXISTS (SELECT 1 FROM grants g WHERE g.org_id = o.org_id AND g.role = ANY($2::text[]))`,
);

/** The organizations whose rows use one of these plans or roles. */
export async function readOrganizationsUsing(
  db: Queryable,
  plans: readonly string[],
  roles: readonly string[],
): Promise<string[]> {
  if (plans.length === 0 && roles.length === 0) return [];
  const { rows } = await run<{ name: string }>(db, ORGANIZATIONS_USING, [[...plans], [...roles]]);
  return rows.map((r) => r.name);
}
