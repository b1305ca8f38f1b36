/** Mail settings from the environment, shared by apply, deliver, invitations and serve. */
import { envNumber } from '../core/env-number.js';
import type { DeliveryOptions } from '../mail/deliver.js';
import { transportFromEnv } from '../mail/transport.js';
import type { CliIo } from './io.js';
import { localizationFrom, type Localization } from './localization.js';

/** The address links in e-mails point to, when ROSTER_PUBLIC_URL is not set. */
export const DEFAULT_PUBLIC_URL = 'http://localhost:8080';

/**
 * Delivery options: SMTP_URL (or .eml files), ROSTER_PUBLIC_URL, ROSTER_MAIL_FROM, the language
 * and brand of invitations (command/localization.ts), and the tuning knobs ROSTER_RETRY_BASE_MS, ROSTER_DELIVERY_LEASE_MS and ROSTER_DELIVERY_CONCURRENCY.
 */
export async function deliveryOptionsFrom(
  io: CliIo,
  /** Already read by the caller (apply checks it before writing); read here otherwise. */
  localization?: Localization,
): Promise<DeliveryOptions> {
  const { messages, branding } = localization ?? (await localizationFrom(io.env, io.cwd));
  const retryBaseMs = envNumber(io.env, 'ROSTER_RETRY_BASE_MS', (n) => n >= 0);
  const leaseMs = envNumber(io.env, 'ROSTER_DELIVERY_LEASE_MS', (n) => n >= 1);
  const concurrency = envNumber(io.env, 'ROSTER_DELIVERY_CONCURRENCY', (n) => n >= 1);
  return {
    transport: transportFromEnv(io.env, io.cwd),
    publicUrl: io.env.ROSTER_PUBLIC_URL || DEFAULT_PUBLIC_URL,
    from: io.env.ROSTER_MAIL_FROM || 'Roster <roster@localhost>',
    messages,
    branding,
    ...(retryBaseMs !== undefined && { retryBaseMs }),
    ...(leaseMs !== undefined && { leaseMs }),
    ...(concurrency !== undefined && { concurrency: Math.floor(concurrency) }),
  };
}
