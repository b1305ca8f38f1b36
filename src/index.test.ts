import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadManifests } from './index.js';
import { ROSTER_VERSION } from './version.js';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('library API', () => {
  it('loads the examples into a desired state', async () => {
    const result = await loadManifests(['examples'], { cwd: root });
    expect(result.errors).toBe(0);
    expect([...result.state.organizations.keys()]).toContain('brightlane');
    const inline = result.state.memberships.filter((m) => m.org === 'brightlane');
    expect(inline.map((m) => m.origin)).toEqual(['inline', 'inline', 'inline', 'inline']);
  });

  it('counts an unreadable path as an error', async () => {
    const result = await loadManifests(['does-not-exist'], { cwd: root });
    expect(result.errors).toBe(1);
    expect(result.findings[0]?.code).toBe('unreadable');
  });

  it('reports the version of package.json', () => {
    const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { version: string };
    expect(ROSTER_VERSION).toBe(pkg.version);
  });
});
