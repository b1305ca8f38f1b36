/** `roster db migrate`: applies pending migrations (every command also does so on first use). */
import { UsageError } from '../../core/errors.js';
import { openAccessDatabase } from '../../store/connect.js';
import { migrate } from '../../store/migrate.js';
import type { CliIo } from '../../command/io.js';
import { whoAmI } from '../../command/session.js';

/** Help text of the command. */
export const DB_HELP = `Usage: roster db migrate

Applies the access database migrations not applied yet, each in its own transaction.
Running it twice changes nothing. Uses DATABASE_URL, or the embedded PostgreSQL.
`;

/** Runs the command; returns the exit code. */
export async function dbCommand(args: string[], io: CliIo): Promise<number> {
  if (args[0] === '--help' || args[0] === '-h') {
    io.stdout.write(DB_HELP);
    return 0;
  }
  if (args[0] !== 'migrate' || args.length > 1) throw new UsageError('usage: roster db migrate');
  const database = await openAccessDatabase({
    env: io.env,
    cwd: io.cwd,
    applicationName: `roster db migrate (${whoAmI()})`,
    migrate: false,
  });
  try {
    const applied = await migrate(database.pool);
    io.stdout.write(
      applied.length === 0
        ? `The database is up to date (${database.description}).\n`
        : `Applied ${applied.length} migration${applied.length === 1 ? '' : 's'} to ${database.description}: ${applied.join(', ')}\n`,
    );
    return 0;
  } finally {
    await database.close();
  }
}
