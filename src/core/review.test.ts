import { describe, expect, it } from 'vitest';
import { reviewCsv, reviewHtml, type ReviewRow } from './review.js';

const row = (user: string, detail: string | null = null): ReviewRow => ({
  user,
  via: 'group',
  role: 'billing',
  resource: null,
  detail,
  status: 'active',
  since: '2026-11-24T07:00:00.000Z',
  until: null,
  managedBy: null,
});

describe('the access review', () => {
  it('quotes CSV cells as RFC 4180 says, and neutralises formulas', () => {
    const csv = reviewCsv([row('a@x.io', 'compta, "north"'), row('+1@x.io', '@sum')]);
    expect(csv.split('\r\n').slice(1, 3)).toEqual([
      'a@x.io,group,billing,,"compta, ""north""",active,2026-11-24,,unknown,UNMANAGED',
      "'+1@x.io,group,billing,,'@sum,active,2026-11-24,,unknown,UNMANAGED",
    ]);
  });

  it('escapes what people wrote in the page', () => {
    const html = reviewHtml(
      'acme',
      [row('a@x.io', '<img src=x onerror=alert(1)>')],
      new Date(0),
      false,
    );
    expect(html).not.toContain('<img');
    expect(html).toContain('&#60;img src=x onerror=alert(1)&#62;');
  });
});
