/** Writes `crds/` from the kinds' JSON Schemas: `npm run generate`. */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateCrdFiles } from '../src/crd/generate-crds.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const directory = join(root, 'crds');
await mkdir(directory, { recursive: true });
const files = generateCrdFiles();
for (const stale of await readdir(directory)) {
  // kustomization.yaml is written by hand (a test checks that it lists every CRD).
  if (stale.endsWith('.yaml') && stale !== 'kustomization.yaml' && !files.has(stale)) {
    await rm(join(directory, stale));
  }
}
for (const [name, text] of files) {
  await writeFile(join(directory, name), text);
  console.log(`wrote crds/${name}`);
}
