/**
 * Database failures, mapped from PostgreSQL error codes in one place so that users read what
 * happened and what to do, not a driver's stack.
 */
import { RosterError } from '../core/errors.js';

/** A database failure Roster can explain. */
export class DatabaseError extends RosterError {}

/** Another apply holds the lock. */
export class LockHeldError extends RosterError {
  constructor(readonly holder: string) {
    super(
      'lock-held',
      `another apply is running (${holder}); wait for it to finish, then plan again`,
    );
  }
}

/** The database changed between a saved plan and its apply. */
export class StalePlanError extends RosterError {
  constructor() {
    super(
      'stale-plan',
      'the database changed since this plan was made: run "roster plan" again and review the new plan',
    );
  }
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE']);

/** The message of pg-pool's error when no client became free within `connectionTimeoutMillis`. */
const POOL_TIMEOUT = /timeout exceeded when trying to connect/i;

/**
 * Whether a failure means the database cannot serve now but may soon: unreachable, shutting down,
 * out of connections, a statement cancelled by its timeout, or no pooled connection free in time.
 * A server answers these with 503 and Retry-After instead of 500.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (error instanceof DatabaseError) return error.code === 'database-unavailable';
  const code = (error as { code?: string } | null)?.code ?? '';
  const message = error instanceof Error ? error.message : String(error);
  return (
    CONNECTION_CODES.has(code) ||
    /^(08|57P|53)/.test(code) ||
    code === '57014' ||
    POOL_TIMEOUT.test(message) ||
    /Connection terminated|connection timeout/i.test(message)
  );
}

/** Turns a driver error into a `DatabaseError` with a message a user can act on. */
export function explainDatabaseError(error: unknown): RosterError {
  if (error instanceof RosterError) return error;
  const code = (error as { code?: string } | null)?.code ?? '';
  const message = error instanceof Error ? error.message : String(error);
  if (CONNECTION_CODES.has(code) || /Connection terminated|connection timeout/i.test(message)) {
    return new DatabaseError(
      'database-unavailable',
      `cannot reach the database (${code || message}); nothing was changed. Check DATABASE_URL and that PostgreSQL is running`,
      { cause: error },
    );
  }
  switch (code) {
    case '57P01':
    case '57P02':
    case '57P03':
      return new DatabaseError(
        'database-unavailable',
        'the database shut down during the run; the transaction was rolled back, nothing was changed. Run the command again',
        { cause: error },
      );
    case '28P01':
    case '28000':
      return new DatabaseError(
        'database-auth',
        `the database refused the credentials: ${message}`,
        {
          cause: error,
        },
      );
    case '3D000':
      return new DatabaseError('database-missing', `${message}: create it, or fix DATABASE_URL`, {
        cause: error,
      });
    case '40001':
    case '40P01':
      return new DatabaseError(
        'database-conflict',
        'a concurrent change conflicted with this one; nothing was changed. Run the command again',
        { cause: error },
      );
    case '23P01':
      return new DatabaseError(
        'owner-conflict',
        'the change would leave an organization with more than one owner; nothing was changed',
        { cause: error },
      );
    case 'RA002':
      return new DatabaseError('audit-append-only', `${message}; nothing was changed`, {
        cause: error,
      });
    case 'RA001': {
      // Raised by migration 000010's trigger: an address is one person.
      const hint = (error as { hint?: string }).hint;
      return new DatabaseError(
        'alias-taken',
        `${message}${hint === undefined ? '' : `: ${hint}`}; nothing was changed`,
        { cause: error },
      );
    }
    default:
      return new DatabaseError('database-error', `database error ${code}: ${message}`, {
        cause: error,
      });
  }
}
