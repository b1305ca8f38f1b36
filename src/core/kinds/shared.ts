/** Small helpers the kind files share. */
import { emailIdentity } from '../email.js';
import type { Fields } from './kind.js';

/** A string field of a spec, or undefined. */
export function text(spec: Readonly<Record<string, unknown>>, key: string): string | undefined {
  const value = spec[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** An address field of a spec as an identity (trimmed, lowercased), or undefined. */
export function address(spec: Readonly<Record<string, unknown>>, key: string): string | undefined {
  const value = text(spec, key);
  return value === undefined ? undefined : emailIdentity(value);
}

/** Values sorted, so that a list compares structurally. */
export const sorted = (values: Iterable<string>): string[] => [...values].sort();

/** `spec.invitations` from a plan's or organization's fields, if any is set. */
export function invitationPolicy(f: Fields): Record<string, number> | undefined {
  const policy = {
    ...(typeof f.invitationExpiryDays === 'number' && { expiresInDays: f.invitationExpiryDays }),
    ...(typeof f.invitationMaxResends === 'number' && { maxResends: f.invitationMaxResends }),
  };
  return Object.keys(policy).length === 0 ? undefined : policy;
}

/** `{ [key]: value }` unless the value is null. */
export const optional = (key: string, value: unknown): Record<string, unknown> =>
  value === null || value === undefined ? {} : { [key]: value };
