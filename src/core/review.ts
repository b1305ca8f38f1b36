/**
 * An access review of one organization, as a page and as CSV: who has access, through what
 * (owner, membership, grant, group, delegation), since when, until when, and whether Roster
 * manages it (access made in the application is flagged). Pure.
 */
import { escapeHtml } from './messages.js';

/** One line of the review: one way one person has access (the store reads them). */
export interface ReviewRow {
  readonly user: string;
  /** owner, membership, grant, group, or delegation. */
  readonly via: string;
  readonly role: string | null;
  readonly resource: string | null;
  /** The group (via group), or for whom (via delegation). */
  readonly detail: string | null;
  readonly status: string;
  /** Since when: joined, or created when not joined yet; a delegation's start. */
  readonly since: string;
  /** When it lapses (a grant's or a delegation's expiry). */
  readonly until: string | null;
  /** Who manages it; null: made in the application, outside Roster (flagged in a review). */
  readonly managedBy: string | null;
}

const COLUMNS = [
  'user',
  'via',
  'role',
  'resource',
  'group or on behalf of',
  'status',
  'since',
  'until',
  'last used',
  'managed by',
] as const;

/** The cells of a row, in the order of `COLUMNS`; "last used" is not tracked per person. */
function cells(r: ReviewRow): string[] {
  return [
    r.user,
    r.via,
    r.role ?? '',
    r.resource ?? '',
    r.detail ?? '',
    r.status,
    r.since.slice(0, 10),
    r.until?.slice(0, 10) ?? '',
    'unknown',
    r.managedBy ?? 'UNMANAGED',
  ];
}

/**
 * RFC 4180 CSV. A cell a spreadsheet would run as a formula (= + - @, tab, CR) is prefixed with
 * an apostrophe (OWASP, CSV injection): addresses and names come from people.
 */
export function reviewCsv(rows: readonly ReviewRow[]): string {
  const cell = (value: string) => {
    const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
    return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
  };
  return [COLUMNS, ...rows.map(cells)].map((row) => row.map(cell).join(',')).join('\r\n') + '\r\n';
}

/** The review as a standalone HTML page. */
export function reviewHtml(
  org: string,
  rows: readonly ReviewRow[],
  generatedAt: Date,
  cut: boolean,
): string {
  const unmanaged = rows.filter((r) => r.managedBy === null).length;
  const people = new Set(rows.map((r) => r.user)).size;
  const body = rows
    .map(
      (r) =>
        `<tr${r.managedBy === null ? ' class="unmanaged"' : ''}>${cells(r)
          .map((c) => `<td>${escapeHtml(c)}</td>`)
          .join('')}</tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Access review of ${escapeHtml(org)}</title>
<style>
body { font-family: system-ui, sans-serif; color: #1f2328; margin: 24px; }
table { border-collapse: collapse; font-size: 14px; }
th, td { border-bottom: 1px solid #d0d7de; padding: 6px 10px; text-align: left; }
th { background: #f6f8fa; position: sticky; top: 0; }
tr.unmanaged td { background: #fff8c5; }
.summary { color: #59636e; }
</style></head>
<body>
<h1>Access review of ${escapeHtml(org)}</h1>
<p class="summary">${people} ${people === 1 ? 'person' : 'people'}, ${rows.length} access${rows.length === 1 ? '' : 'es'}; <strong>${unmanaged} unmanaged</strong> (made in the application, not declared: highlighted). Generated ${escapeHtml(generatedAt.toISOString())}.${cut ? ` Only the first ${rows.length} accesses are shown: the organization has more.` : ''}</p>
<table>
<thead><tr>${COLUMNS.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr></thead>
<tbody>
${body}
</tbody>
</table>
</body></html>
`;
}
