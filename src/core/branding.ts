/**
 * An organization's or the platform's brand in invitations: the product name, the sender's name,
 * a logo and an accent colour (the consoles Roster replaces invite under their own brand). The
 * organization's, field by field, over the platform's. Pure.
 */

/** What a brand may set; each part optional. */
export interface Branding {
  readonly productName?: string;
  readonly senderName?: string;
  readonly logoUrl?: string;
  readonly accentColor?: string;
}

/** `#1f6feb`: six hex digits, nothing CSS could read otherwise. */
export const ACCENT_COLOR_PATTERN = '^#[0-9a-fA-F]{6}$';
/** An https URL without quotes, angle brackets or spaces (it goes in an attribute and the CSP). */
export const LOGO_URL_PATTERN = '^https://[^\\s"\'<>\\\\]+$';
/** A name in a From: header: no control characters, quotes or angle brackets. */
export const SENDER_NAME_PATTERN = '^[^\\u0000-\\u001f\\u007f"<>\\\\]+$';

/** The default accent colour (the pages' and e-mail's button). */
export const DEFAULT_ACCENT_COLOR = '#1f6feb';

/** The organization's brand over the platform's, field by field. */
export function effectiveBranding(org: Branding, platform: Branding): Branding {
  return {
    ...platform,
    ...Object.fromEntries(Object.entries(org).filter(([, v]) => v !== undefined && v !== null)),
  };
}

/** The From: header with the brand's sender name: `"Pixel Forge" <noreply@host>`. */
export function fromWithSender(from: string, senderName: string | undefined): string {
  if (senderName === undefined) return from;
  const address = /<([^<>]+)>\s*$/.exec(from)?.[1] ?? from.trim();
  return `"${senderName}" <${address}>`;
}

/** The origin a logo is loaded from, for a page's Content-Security-Policy `img-src`. */
export function logoOrigin(logoUrl: string | undefined): string | undefined {
  if (logoUrl === undefined) return undefined;
  try {
    return new URL(logoUrl).origin;
  } catch {
    return undefined;
  }
}
