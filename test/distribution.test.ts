/**
 * The access database can be distributed by tenant: read from the catalog of a migrated
 * database, every tenant table leads its keys with org_id, its foreign keys to other tenant
 * tables carry org_id, and every other table is a known platform-wide reference table. The
 * check itself fails on a table built wrong, in a migration of a test's own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distributionProblems } from '../src/store/distribution.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

describe('distributable by tenant', () => {
  it('has every table distributable by org_id or a reference table', async () => {
    expect(await distributionProblems(db.pool)).toEqual([]);
  });

  it('names each key, constraint, index and foreign key Citus could not distribute', async () => {
    // A migration of this test's own, in a schema of its own, with one mistake of each kind.
    await db.pool.query(`
      CREATE SCHEMA wrong;
      CREATE TABLE wrong.parents (org_id bigint NOT NULL, parent_id bigint NOT NULL,
                                  PRIMARY KEY (org_id, parent_id));
      CREATE TABLE wrong.children (
        org_id bigint NOT NULL, child_id bigint PRIMARY KEY, parent_id bigint, email text UNIQUE,
        FOREIGN KEY (parent_id, org_id) REFERENCES wrong.parents (org_id, parent_id) MATCH FULL);
      CREATE TABLE wrong.fine (org_id bigint NOT NULL, parent_id bigint NOT NULL, code text,
        PRIMARY KEY (org_id, parent_id),
        FOREIGN KEY (org_id, parent_id) REFERENCES wrong.parents (org_id, parent_id));
      CREATE UNIQUE INDEX fine_code ON wrong.fine (code);
      CREATE TABLE wrong.settings_of_nobody (name text PRIMARY KEY);
      CREATE TABLE wrong.plans (name text PRIMARY KEY, org_id_of_owner bigint,
                                parent bigint, owner_org bigint,
        FOREIGN KEY (owner_org, parent) REFERENCES wrong.parents (org_id, parent_id));
    `);
    try {
      expect(await distributionProblems(db.pool, 'wrong')).toEqual([
        {
          table: 'settings_of_nobody',
          problem: 'has no org_id and is not a platform-wide reference table (REFERENCE_TABLES)',
        },
        {
          table: 'children',
          problem: 'children_email_key: unique constraint (email) does not lead with org_id',
        },
        {
          table: 'children',
          problem:
            'children_parent_id_org_id_fkey: foreign key (parent_id, org_id) to parents does not match org_id with org_id',
        },
        {
          table: 'children',
          problem: 'children_pkey: primary key (child_id) does not lead with org_id',
        },
        {
          table: 'plans',
          problem:
            'plans_owner_org_parent_fkey: a reference table may not reference the tenant table parents',
        },
        { table: 'fine', problem: 'fine_code: unique index (code) does not include org_id' },
      ]);
    } finally {
      await db.pool.query('DROP SCHEMA wrong CASCADE');
    }
  });
});
