/** Mail settings from the environment, shared by apply, deliver, invitations and serve. */
import type { DeliveryOptions } from '../invitations/deliver.js';
import { transportFromEnv } from '../invitations/transport.js';
import type { CliIo } from './io.js';

/** The address links in e-mails point to, when ROSTER_PUBLIC_URL is not set. */
export const DEFAULT_PUBLIC_URL = 'http://localhost:8080';

/**
 * Delivery options: SMTP_URL (or .eml files), ROSTER_PUBLIC_URL, ROSTER_MAIL_FROM, and the tuning
 * knobs ROSTER_RETRY_BASE_MS, ROSTER_DELIVERY_LEASE_MS and ROSTER_DELIVERY_CONCURRENCY.
 */
export function deliveryOptionsFrom(io: CliIo): DeliveryOptions {
  const number = (name: string, min: number) => {
    const text = io.env[name];
    const value = Number(text ?? '');
    return text !== undefined && text !== '' && Number.isFinite(value) && value >= min
      ? value
      : undefined;
  };
  const retryBaseMs = number('ROSTER_RETRY_BASE_MS', 0);
  const leaseMs = number('ROSTER_DELIVERY_LEASE_MS', 1);
  const concurrency = number('ROSTER_DELIVERY_CONCURRENCY', 1);
  return {
    transport: transportFromEnv(io.env, io.cwd),
    publicUrl: io.env.ROSTER_PUBLIC_URL || DEFAULT_PUBLIC_URL,
    from: io.env.ROSTER_MAIL_FROM || 'Roster <roster@localhost>',
    ...(retryBaseMs !== undefined && { retryBaseMs }),
    ...(leaseMs !== undefined && { leaseMs }),
    ...(concurrency !== undefined && { concurrency: Math.floor(concurrency) }),
  };
}
