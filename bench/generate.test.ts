import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadManifests } from '../src/index.js';
import { generateTenants } from './generate.js';

const dir = mkdtempSync(join(tmpdir(), 'roster-bench-gen-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the benchmark generator', () => {
  it('writes valid, skewed tenants with the requested number of records', async () => {
    const written = await generateTenants(join(dir, 'base'), { records: 6000, orgs: 300 });
    expect(written).toEqual({ files: 301, records: 6000 });
    const { state, errors, findings } = await loadManifests([join(dir, 'base')]);
    expect(findings.filter((f) => f.severity === 'error')).toEqual([]);
    expect(errors).toBe(0);
    const records =
      state.memberships.length +
      state.grants.length +
      state.contacts.length +
      state.organizations.size;
    expect(records).toBe(6000);
    const sizes = [...state.organizations.keys()].map(
      (org) => state.memberships.filter((m) => m.org === org).length,
    );
    expect(Math.max(...sizes)).toBeGreaterThan(5 * Math.min(...sizes));
  });

  it('changes about 1 % of the roles in the mutated variant, and nothing else', async () => {
    await generateTenants(join(dir, 'changed'), { records: 6000, orgs: 300, mutate: 0.01 });
    const base = await loadManifests([join(dir, 'base')]);
    const changed = await loadManifests([join(dir, 'changed')]);
    const roles = new Map(base.state.memberships.map((m) => [`${m.org}/${m.user}`, m.role]));
    const differing = changed.state.memberships.filter(
      (m) => roles.get(`${m.org}/${m.user}`) !== m.role,
    );
    expect(changed.state.memberships.length).toBe(base.state.memberships.length);
    expect(differing.length).toBeGreaterThan(15);
    expect(differing.length).toBeLessThan(80);
  });
});
