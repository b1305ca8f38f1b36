/**
 * The platform's language, time zone, message catalogues and brand, from the environment, for
 * every driver that writes invitations (apply, deliver, serve, the operator, the provider):
 *
 *   ROSTER_LOCALE          default language of invitations (default en)
 *   ROSTER_TIME_ZONE       default time zone of their dates (default UTC)
 *   ROSTER_MESSAGES        a catalogue file, or a directory of them (kind: Messages)
 *   ROSTER_PRODUCT_NAME, ROSTER_SENDER_NAME, ROSTER_LOGO_URL, ROSTER_ACCENT_COLOR
 *                          the platform's brand, under each organization's spec.branding
 *
 * A bad value stops the command with the variable named; a bad catalogue, with its findings.
 */
import {
  ACCENT_COLOR_PATTERN,
  LOGO_URL_PATTERN,
  SENDER_NAME_PATTERN,
  type Branding,
} from '../core/branding.js';
import { RosterError, UsageError } from '../core/errors.js';
import { formatLocation } from '../core/findings.js';
import { isTimeZone, LOCALE_PATTERN, Messages, type Catalogue } from '../core/messages.js';
import { readMessageCatalogues } from '../files/messages.js';

/** What invitations are written in and look like, platform-wide. */
export interface Localization {
  readonly messages: Messages;
  readonly branding: Branding;
}

/** Reads and checks the platform's localisation and brand from `env`. */
export async function localizationFrom(env: NodeJS.ProcessEnv, cwd: string): Promise<Localization> {
  const value = (name: string, pattern?: string, what?: string): string | undefined => {
    const text = env[name];
    if (text === undefined || text === '') return undefined;
    if (pattern !== undefined && !new RegExp(pattern).test(text)) {
      throw new UsageError(`${name} must be ${what}, not "${text}"`);
    }
    return text;
  };
  const locale = value('ROSTER_LOCALE', LOCALE_PATTERN, 'a language tag such as fr or en') ?? 'en';
  const timeZone = value('ROSTER_TIME_ZONE') ?? 'UTC';
  if (!isTimeZone(timeZone)) {
    throw new UsageError(
      `ROSTER_TIME_ZONE must be an IANA time zone such as Europe/Paris, not "${timeZone}"`,
    );
  }
  const path = value('ROSTER_MESSAGES');
  let catalogues: ReadonlyMap<string, Catalogue> = new Map();
  if (path !== undefined) {
    const read = await readMessageCatalogues(path, cwd);
    const errors = read.findings.filter((f) => f.severity === 'error');
    if (errors.length > 0) {
      throw new RosterError(
        'usage',
        `ROSTER_MESSAGES: the message catalogues have errors:\n${errors
          .map(
            (f) =>
              `  ${f.location === undefined ? '' : `${formatLocation(f.location)}: `}${f.message}`,
          )
          .join('\n')}`,
      );
    }
    catalogues = read.catalogues;
  }
  const productName = value('ROSTER_PRODUCT_NAME');
  const senderName = value(
    'ROSTER_SENDER_NAME',
    SENDER_NAME_PATTERN,
    'a name without quotes or angle brackets',
  );
  const logoUrl = value('ROSTER_LOGO_URL', LOGO_URL_PATTERN, 'an https:// URL');
  const accentColor = value('ROSTER_ACCENT_COLOR', ACCENT_COLOR_PATTERN, 'a colour as #RRGGBB');
  return {
    messages: new Messages(catalogues, locale, timeZone),
    branding: {
      ...(productName !== undefined && { productName }),
      ...(senderName !== undefined && { senderName }),
      ...(logoUrl !== undefined && { logoUrl }),
      ...(accentColor !== undefined && { accentColor: accentColor.toLowerCase() }),
    },
  };
}
