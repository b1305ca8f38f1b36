#!/usr/bin/env node
// The `roster` command. The TypeScript sources are compiled to dist/ by `npm install`
// (the `prepare` script) or `npm run build`.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('roster: not built yet; run "npm install" (or "npm run build") first\n');
  process.exit(1);
}
const { main } = await import(entry.href);
const { processIo } = await import(new URL('../dist/src/command/io.js', import.meta.url).href);
const code = await main(process.argv.slice(2), processIo());
process.exitCode = code;
// Exit with the command's code as soon as its output is flushed: a library's exit hook (the
// embedded PostgreSQL registers one that exits 0 on 'beforeExit') must not replace it, and a
// handle left open after a forced shutdown must not keep the process alive.
await new Promise((resolve) => process.stdout.write('', () => process.stderr.write('', resolve)));
process.exit(code);
