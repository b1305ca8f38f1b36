import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readSources } from './read-sources.js';

let dir = '';
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('readSources', () => {
  it('reads a tree in a stable order, each file once, skipping hidden entries and loops', async () => {
    dir = mkdtempSync(join(tmpdir(), 'roster-read-'));
    mkdirSync(join(dir, 'b/nested'), { recursive: true });
    mkdirSync(join(dir, '.hidden'));
    for (let i = 0; i < 50; i++) {
      writeFileSync(join(dir, 'b', `t${String(i).padStart(2, '0')}.yaml`), `# ${i}\n`);
    }
    writeFileSync(join(dir, 'a.yml'), '# a\n');
    writeFileSync(join(dir, 'b/nested/z.yaml'), '# z\n');
    writeFileSync(join(dir, '.hidden/h.yaml'), '# h\n');
    writeFileSync(join(dir, 'notes.txt'), 'not yaml\n');
    symlinkSync(join(dir, 'a.yml'), join(dir, 'c-link.yaml'));
    symlinkSync(dir, join(dir, 'b/nested/loop'));

    const { sources, findings } = await readSources(['.'], { cwd: dir });
    expect(findings).toEqual([]);
    const names = sources.map((s) => s.path);
    expect(names).toEqual([
      'a.yml',
      join('b', 'nested', 'z.yaml'),
      ...Array.from({ length: 50 }, (_, i) => join('b', `t${String(i).padStart(2, '0')}.yaml`)),
    ]);
    expect(Buffer.from(sources[11]?.content ?? []).toString()).toBe('# 9\n');
  });
});
