/**
 * The import direction of src/ is enforced by ESLint (eslint.layers.js): these cases lint source
 * text as if it were a file of each layer, through the repository's own configuration.
 */
import { ESLint } from 'eslint';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const cwd = fileURLToPath(new URL('..', import.meta.url));
const eslint = new ESLint({ cwd });

/** The messages of no-restricted-imports for `code` placed at `file`. */
async function violations(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${code}\nexport {};\n`, { filePath: `${cwd}${file}` });
  return (result?.messages ?? [])
    .filter((m) => m.ruleId === 'no-restricted-imports')
    .map((m) => m.message);
}

describe('the layers of src/', () => {
  it.each([
    [
      'src/core/x.ts',
      "import { readSnapshot } from '../store/snapshot.js';",
      /src\/core may not import/,
    ],
    ['src/core/kinds/x.ts', "import '../../store/apply.js';", /src\/core may not import/],
    ['src/core/x.ts', "import pg from 'pg';", /src\/core does no I\/O/],
    ['src/core/x.ts', "import { readFile } from 'node:fs/promises';", /src\/core does no I\/O/],
    [
      'src/store/x.ts',
      "import { deliverOutbox } from '../mail/deliver.js';",
      /src\/store may not import/,
    ],
    [
      'src/operator/x.ts',
      "import { createRosterService } from '../server/server.js';",
      /a driver never imports another/,
    ],
    [
      'src/server/x.ts',
      "import { Operator } from '../operator/operator.js';",
      /a driver never imports another/,
    ],
    [
      'src/cli/commands/x.ts',
      "import '../../provider/provider.js';",
      /a driver never imports another/,
    ],
    [
      'src/provider/x.ts',
      "import { main } from '../cli/commands/plan.js';",
      /a driver never imports another/,
    ],
    ['src/command/x.ts', "import '../server/command.js';", /what commands share is library code/],
  ])('refuses %s: %s', async (file, code, message) => {
    const found = await violations(file, code);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(message);
  });

  it.each([
    ['src/core/x.ts', "import { recordKey } from './records.js';"],
    ['src/store/x.ts', "import { recordKey } from '../core/records.js';"],
    ['src/mail/x.ts', "import { countQueued } from '../store/outbox.js';"],
    ['src/operator/x.ts', "import { ping } from '../store/notifications.js';"],
    ['src/operator/x.ts', "import { createRegistry } from '../telemetry/metrics.js';"],
    ['src/server/x.ts', "import { whoAmI } from '../command/session.js';"],
    ['src/main.ts', "import './operator/command.js';\nimport './server/command.js';"],
  ])('allows %s: %s', async (file, code) => {
    expect(await violations(file, code)).toEqual([]);
  });
});
