/** When a grant lapses, or a delegation starts and lapses, from the date or instant a person wrote. */
/**
 * The instant a grant lapses, as an ISO timestamp: a date means the end of that day (UTC), so
 * `2027-06-30` lapses at `2027-07-01T00:00:00.000Z`. Undefined for a date that does not exist.
 */
export function expiryInstant(expires: string): string | undefined {
  const dateOnly = /^(\d{4})-(\d{2})-(\d{2})$/.exec(expires);
  if (dateOnly !== null) {
    const [year, month, day] = dateOnly.slice(1).map(Number) as [number, number, number];
    const date = new Date(Date.UTC(year, month - 1, day));
    if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return undefined;
    return new Date(Date.UTC(year, month - 1, day + 1)).toISOString();
  }
  const [, year, month, day] = /^(\d{4})-(\d{2})-(\d{2})/.exec(expires)?.map(Number) ?? [];
  const instant = new Date(expires);
  if (Number.isNaN(instant.getTime()) || year === undefined) return undefined;
  const probe = new Date(Date.UTC(year, (month ?? 1) - 1, day));
  if (probe.getUTCMonth() !== (month ?? 1) - 1) return undefined;
  return instant.toISOString();
}

/**
 * The instant something starts, as an ISO timestamp: a date means the start of that day (UTC).
 * Undefined for a date that does not exist.
 */
export function startInstant(starts: string): string | undefined {
  const end = expiryInstant(starts);
  if (end === undefined || !/^\d{4}-\d{2}-\d{2}$/.test(starts)) return end;
  return new Date(Date.parse(end) - 86_400_000).toISOString();
}
