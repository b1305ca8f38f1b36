/** Writes `schemas/` (JSON Schemas for editors) from the kinds' schemas: `npm run generate`. */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { schemaFiles } from '../src/files/schemas.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const directory = join(root, 'schemas');
await mkdir(directory, { recursive: true });
const files = schemaFiles();
for (const stale of await readdir(directory)) {
  if (stale.endsWith('.json') && !files.has(stale)) await rm(join(directory, stale));
}
for (const [name, text] of files) {
  await writeFile(join(directory, name), text);
  console.log(`wrote schemas/${name}`);
}
