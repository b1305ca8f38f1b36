/** Parsing of option values shared by the commands. */
import { UsageError } from '../core/errors.js';

/** Checks `--format` against the formats a command supports. */
export function parseFormat<const F extends string>(
  value: string | undefined,
  allowed: readonly F[],
): F {
  const format = value ?? allowed[0];
  if (!allowed.includes(format as F)) {
    throw new UsageError(`--format must be one of ${allowed.join(', ')}, not "${format}"`);
  }
  return format as F;
}

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  kib: 1024,
  mb: 1e6,
  mib: 1024 ** 2,
  gb: 1e9,
  gib: 1024 ** 3,
};

/** `8MiB`, `500kb`, `1048576` -> bytes. */
export function parseSize(value: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value.trim());
  const unit = UNITS[(match?.[2] ?? '').toLowerCase()];
  if (match === null || unit === undefined) {
    throw new UsageError(`${flag} must be a size such as 8MiB or 500KB, not "${value}"`);
  }
  return Math.floor(Number(match[1]) * unit);
}

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** `30s`, `2m`, `500ms`, `1h`, `90d`, or a plain number of seconds -> milliseconds. */
export function parseDuration(value: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/i.exec(value.trim());
  if (match === null) {
    throw new UsageError(`${flag} must be a duration such as 30s, 2m or 500ms, not "${value}"`);
  }
  const unit = DURATION_UNITS[(match[2] ?? 's').toLowerCase()] ?? 1000;
  return Math.round(Number(match[1]) * unit);
}

/** `90d` (from `now`), `2027-06-30` (midnight UTC) or an ISO 8601 timestamp -> a future date. */
export function parseExpiry(value: string, flag: string, now: Date): Date {
  const text = value.trim();
  let at: Date;
  if (/^\d+(?:\.\d+)?\s*(ms|s|m|h|d)?$/i.test(text)) {
    at = new Date(now.getTime() + parseDuration(text, flag));
  } else if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)) {
    at = new Date(/^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : text);
  } else {
    at = new Date(Number.NaN);
  }
  if (Number.isNaN(at.getTime())) {
    throw new UsageError(
      `${flag} must be a duration such as 90d or a date such as 2027-06-30, not "${value}"`,
    );
  }
  if (at.getTime() <= now.getTime()) {
    throw new UsageError(`${flag} must be in the future, not "${value}"`);
  }
  return at;
}
