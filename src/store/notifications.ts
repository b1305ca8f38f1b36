/**
 * The store's liveness probe and its notification channel: accepting an invitation notifies
 * `INVITATION_CHANNEL` (in the same statement), and drivers that show member status listen.
 */
import pg from 'pg';
import { INVITATION_CHANNEL } from './accept-invitation.js';
import { run, statement, type Queryable } from './sql/statement.js';

export { INVITATION_CHANNEL };

const PING = statement('ping', 'SELECT 1', { prepare: true });
/** Resolves when the database answers a query; rejects otherwise. */
export async function ping(db: Queryable): Promise<void> {
  await run(db, PING);
}

const LISTEN = statement('listen-invitations', `LISTEN ${INVITATION_CHANNEL}`);
/** Subscribes this connection to accepted invitations. */
export async function listenForInvitations(db: Queryable): Promise<void> {
  await run(db, LISTEN);
}

const UNLISTEN = statement('unlisten-invitations', `UNLISTEN ${INVITATION_CHANNEL}`);
/** Unsubscribes this connection. */
export async function stopListeningForInvitations(db: Queryable): Promise<void> {
  await run(db, UNLISTEN);
}

/** The channel on which any write to what an access decision reads is announced (migration 000007). */
export const ACCESS_CHANNEL = 'roster_access';

const LISTEN_ACCESS = statement('listen-access', `LISTEN ${ACCESS_CHANNEL}`);
/** Subscribes this connection to access changes. */
export async function listenForAccessChanges(db: Queryable): Promise<void> {
  await run(db, LISTEN_ACCESS);
}

/** A connection of its own, configured as the pool's, for a LISTEN that outlives any request. */
export function listenerClient(pool: pg.Pool): pg.Client {
  const { options } = pool as unknown as { options: pg.ClientConfig };
  return new pg.Client({ ...options, application_name: 'roster listener' });
}
