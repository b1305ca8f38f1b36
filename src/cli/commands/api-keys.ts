/** `roster api-keys create|list|revoke`: keys for the access API. */
import { UsageError } from '../../core/errors.js';
import { openAccessDatabase } from '../../db/connect.js';
import { createApiKey, listApiKeys, revokeApiKey } from '../../server/api-keys.js';
import type { CliIo } from '../io.js';
import { whoAmI } from '../session.js';

/** Help text of the command. */
export const API_KEYS_HELP = `Usage: roster api-keys create NAME | list | revoke NAME

create prints a new key once (only its hash is stored): pass it as
"Authorization: Bearer <key>" to the access API of "roster serve".
`;

/** Runs the command; returns the exit code. */
export async function apiKeysCommand(args: string[], io: CliIo): Promise<number> {
  const [action, name, ...extra] = args;
  if (action === undefined || action === '--help' || action === '-h') {
    io.stdout.write(API_KEYS_HELP);
    return 0;
  }
  if (
    extra.length > 0 ||
    !['create', 'list', 'revoke'].includes(action) ||
    (action === 'list') !== (name === undefined)
  ) {
    throw new UsageError('usage: roster api-keys create NAME | list | revoke NAME');
  }
  const database = await openAccessDatabase({
    env: io.env,
    cwd: io.cwd,
    applicationName: `roster api-keys (${whoAmI()})`,
  });
  try {
    if (action === 'create') {
      const key = await createApiKey(database.pool, name ?? '');
      io.stdout.write(`${key}\n`);
      io.stderr.write(
        `Created API key "${name}". It is shown only now: store it in your secret manager.\n`,
      );
      return 0;
    }
    if (action === 'revoke') {
      const revoked = await revokeApiKey(database.pool, name ?? '');
      io.stdout.write(
        revoked ? `Revoked API key "${name}".\n` : `No active API key named "${name}".\n`,
      );
      return revoked ? 0 : 1;
    }
    const keys = await listApiKeys(database.pool);
    io.stdout.write(
      keys.length === 0
        ? 'No API keys.\n'
        : keys
            .map(
              (k) =>
                `${k.name}  created ${k.createdAt}${k.revokedAt === null ? '' : `  revoked ${k.revokedAt}`}`,
            )
            .join('\n') + '\n',
    );
    return 0;
  } finally {
    await database.close();
  }
}
