/**
 * The store's liveness probe and its notification channel: accepting an invitation notifies
 * `INVITATION_CHANNEL` (in the same statement), and drivers that show member status listen.
 */
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
