/**
 * E-mail addresses are identities in Roster (a user is their address), so they are normalised
 * once, deliberately: the whole address is compared case-insensitively, an internationalised
 * domain is stored in its ASCII (punycode) form, and a non-ASCII local part is refused rather
 * than guessed at, since mail servers and look-alike characters make it ambiguous.
 */
import { domainToASCII } from 'node:url';

/** A normalised address, or why the input is not one. */
export type EmailResult =
  | { readonly ok: true; readonly email: string; readonly warning?: string }
  | { readonly ok: false; readonly reason: string };

const LOCAL_PART = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const DOMAIN_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** Normalises an e-mail address: lowercase, ASCII domain; refuses what is not an address. */
export function normalizeEmail(input: string): EmailResult {
  const at = input.lastIndexOf('@');
  if (at <= 0 || at === input.length - 1) {
    return { ok: false, reason: 'is not an e-mail address (expected name@domain)' };
  }
  const local = input.slice(0, at).toLowerCase();
  const rawDomain = input.slice(at + 1).normalize('NFC');
  if (/[^\x20-\x7e]/.test(local)) {
    return {
      ok: false,
      reason:
        'has non-ASCII characters before the @; Roster accepts ASCII local parts only, since they cannot be compared reliably',
    };
  }
  if (local.length > 64 || !LOCAL_PART.test(local)) {
    return { ok: false, reason: `has an invalid part before the @ ("${local}")` };
  }
  const domain = domainToASCII(rawDomain.toLowerCase());
  if (domain === '' || domain.length > 253) {
    return { ok: false, reason: `has an invalid domain ("${rawDomain}")` };
  }
  const labels = domain.split('.');
  if (labels.length < 2 || !labels.every((l) => DOMAIN_LABEL.test(l))) {
    return {
      ok: false,
      reason: `has an invalid domain ("${rawDomain}"): expected e.g. example.com`,
    };
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1] ?? '')) {
    return { ok: false, reason: `has a numeric top-level domain ("${rawDomain}")` };
  }
  const email = `${local}@${domain}`;
  if (email.length > 254) return { ok: false, reason: 'is longer than 254 characters' };
  const warning =
    domain !== rawDomain.toLowerCase()
      ? `has an internationalised domain, stored as ${domain}; check that "${rawDomain}" is not a look-alike of another domain`
      : undefined;
  return warning === undefined ? { ok: true, email } : { ok: true, email, warning };
}

/**
 * The identity an address given at a boundary (an API parameter, a command-line flag, a custom
 * resource) stands for: its normalised form, the one stored. Input that is not an address is
 * kept trimmed and lowercased; it matches no stored user.
 */
export function emailIdentity(input: string): string {
  const result = normalizeEmail(input.trim());
  return result.ok ? result.email : input.trim().toLowerCase();
}
