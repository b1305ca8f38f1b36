/** Writes `provider/schema.json` from the kinds' JSON Schemas: part of `npm run generate`. */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { pulumiSchema } from '../src/provider/schema.js';

const path = fileURLToPath(new URL('../../provider/schema.json', import.meta.url));
await writeFile(path, `${JSON.stringify(pulumiSchema(), null, 2)}\n`);
console.log('wrote provider/schema.json');
