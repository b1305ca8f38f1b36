/** Mail settings from the environment, shared by apply, deliver, invitations and serve. */
import type { DeliveryOptions } from '../invitations/deliver.js';
import { transportFromEnv } from '../invitations/transport.js';
import type { CliIo } from './io.js';

/** The address links in e-mails point to, when ROSTER_PUBLIC_URL is not set. */
export const DEFAULT_PUBLIC_URL = 'http://localhost:8080';

/** Delivery options: SMTP_URL (or .eml files), ROSTER_PUBLIC_URL, ROSTER_MAIL_FROM. */
export function deliveryOptionsFrom(io: CliIo): DeliveryOptions {
  const retry = Number(io.env.ROSTER_RETRY_BASE_MS ?? '');
  return {
    transport: transportFromEnv(io.env, io.cwd),
    publicUrl: io.env.ROSTER_PUBLIC_URL || DEFAULT_PUBLIC_URL,
    from: io.env.ROSTER_MAIL_FROM || 'Roster <roster@localhost>',
    ...(retry >= 0 && io.env.ROSTER_RETRY_BASE_MS !== undefined && { retryBaseMs: retry }),
  };
}
