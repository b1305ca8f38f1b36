import { describe, expect, it } from 'vitest';
import { planChanges, type Plan } from './plan.js';
import type { DesiredRecord } from './records.js';
import { renderPlanMarkdown, renderPlanText } from './render-plan.js';

function planFor(users: string[]): Plan {
  const desired: DesiredRecord[] = users.map((user, i) => ({
    id: { kind: 'membership', org: `org-${i % 50}`, user },
    fields: { role: 'developer', seat: 'paid', suspended: false },
  }));
  return planChanges(
    desired,
    { records: [] },
    {
      manager: 'roster-cli',
      prune: false,
      maxOrgRemovalRatio: 0.25,
      now: new Date('2026-11-22T00:00:00Z'),
      scope: 'all',
    },
  );
}

describe('renderPlanText', () => {
  it('says "No changes." plainly', () => {
    expect(renderPlanText(planFor([]))).toBe(
      'No changes. The access database matches the input.\n',
    );
  });

  it('lists only the symbols the plan uses', () => {
    const text = renderPlanText(planFor(['a@x.io']));
    expect(text).toContain('  + create\n');
    expect(text).not.toContain('- delete');
    expect(text).not.toContain('~ update');
  });
});

describe('renderPlanMarkdown', () => {
  it('stays under the size limit with a truncation note', () => {
    const big = planFor(Array.from({ length: 3000 }, (_, i) => `user${i}@example.com`));
    const md = renderPlanMarkdown(big, 20_000);
    expect(md.length).toBeLessThanOrEqual(20_000);
    expect(md).toMatch(/Truncated: \d+ more sections? not shown/);
    expect(renderPlanMarkdown(planFor(['a@x.io']))).not.toContain('Truncated');
  });

  it('keeps hostile addresses from breaking out of code blocks and tables', () => {
    const md = renderPlanMarkdown(planFor(['a```|<b>@x.io']));
    expect(md).toContain('````diff\n');
    expect(md).toContain('a\\`\\`\\`\\|&lt;b&gt;@x.io');
  });
});
