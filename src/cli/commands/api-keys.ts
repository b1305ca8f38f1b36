/** `roster api-keys create|list|revoke`: keys for the access API, scoped to organizations. */
import { parseArgs } from 'node:util';
import { UsageError } from '../../core/errors.js';
import { openAccessDatabase } from '../../store/connect.js';
import { createApiKey, listApiKeys, revokeApiKey, type ApiKeyRow } from '../../store/api-keys.js';
import type { CliIo } from '../../command/io.js';
import { parseExpiry, parseFormat } from '../../command/options.js';
import { whoAmI } from '../../command/session.js';
import { cliActor } from '../../command/session.js';

/** Help text of the command. */
export const API_KEYS_HELP = `Usage: roster api-keys create NAME --org ORG... [--expires WHEN]
       roster api-keys create NAME --all-organizations [--expires WHEN]
       roster api-keys list [--format text|json]
       roster api-keys revoke NAME

create prints a new key once (only its hash is stored): pass it as
"Authorization: Bearer <key>" to the access API of "roster serve". A key reads only the
organizations it names (--org, repeatable); any other answers 403. A key for every
organization must be asked for with --all-organizations.

Options:
      --org ORG              an organization the key may read (repeat for several)
      --all-organizations    the key may read every organization, present and future
      --expires WHEN         a duration (90d, 12h) or a date (2027-06-30, or ISO 8601)
      --format FORMAT        list as text (default) or json
`;

/** Runs the command; returns the exit code. */
export async function apiKeysCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      org: { type: 'string', multiple: true },
      'all-organizations': { type: 'boolean', default: false },
      expires: { type: 'string' },
      format: { type: 'string', default: 'text' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [action, name, ...extra] = positionals;
  if (values.help === true || action === undefined) {
    io.stdout.write(API_KEYS_HELP);
    return 0;
  }
  if (
    extra.length > 0 ||
    !['create', 'list', 'revoke'].includes(action) ||
    (action === 'list') !== (name === undefined)
  ) {
    throw new UsageError(
      'usage: roster api-keys create NAME --org ORG... | --all-organizations, list, or revoke NAME',
    );
  }
  const orgs = values.org ?? [];
  const all = values['all-organizations'] === true;
  if (action === 'create' && orgs.length === 0 && !all) {
    throw new UsageError(
      'api-keys create needs --org ORG (repeatable) for the organizations the key may read, or --all-organizations for a key that reads every organization',
    );
  }
  if (action === 'create' && orgs.length > 0 && all) {
    throw new UsageError('api-keys create takes --org or --all-organizations, not both');
  }
  const format = parseFormat(values.format, ['text', 'json'] as const);
  const expiresAt =
    values.expires === undefined ? undefined : parseExpiry(values.expires, '--expires', new Date());

  const database = await openAccessDatabase({
    env: io.env,
    cwd: io.cwd,
    applicationName: `roster api-keys (${whoAmI()})`,
  });
  try {
    if (action === 'create') {
      const key = await createApiKey(database.pool, name ?? '', {
        organizations: all ? 'all' : orgs,
        ...(expiresAt !== undefined && { expiresAt }),
        actor: cliActor(io),
      });
      io.stdout.write(`${key}\n`);
      io.stderr.write(
        `Created API key "${name}" for ${all ? 'every organization' : orgs.join(', ')}${expiresAt === undefined ? '' : `, expiring ${expiresAt.toISOString()}`}. It is shown only now: store it in your secret manager.\n`,
      );
      return 0;
    }
    if (action === 'revoke') {
      const revoked = await revokeApiKey(database.pool, name ?? '', cliActor(io));
      io.stdout.write(
        revoked ? `Revoked API key "${name}".\n` : `No active API key named "${name}".\n`,
      );
      return revoked ? 0 : 1;
    }
    const keys = await listApiKeys(database.pool);
    io.stdout.write(
      format === 'json'
        ? `${JSON.stringify({ keys }, null, 2)}\n`
        : keys.length === 0
          ? 'No API keys.\n'
          : `${keys.map(describeKey).join('\n')}\n`,
    );
    return 0;
  } finally {
    await database.close();
  }
}

/** One line per key: name, scope, and its dates. */
function describeKey(k: ApiKeyRow): string {
  const scope = k.organizations === 'all' ? 'all organizations' : k.organizations.join(', ');
  return [
    k.name,
    `organizations: ${scope}`,
    `created ${k.createdAt}`,
    `last used ${k.lastUsedAt ?? 'never'}`,
    k.expiresAt === null ? 'no expiry' : `expires ${k.expiresAt}`,
    ...(k.revokedAt === null ? [] : [`revoked ${k.revokedAt}`]),
  ].join('  ');
}
