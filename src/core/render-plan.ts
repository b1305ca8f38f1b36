/**
 * Renders a plan for people: text like a mature IaC tool, and Markdown for a pull-request
 * comment. Rendering is separate from planning; the JSON form is the plan itself.
 */
import { describeRecord, type FieldValue } from './records.js';
import type { DriftItem, Plan, PlannedChange, UnmanagedAccess } from './plan.js';

const SYMBOLS = { create: '+', update: '~', delete: '-' } as const;
const VERBS = { create: 'create', update: 'update in place', delete: 'delete' } as const;

/** `"developer"`, `3`, `["a", "b"]`, `null`. */
function show(value: FieldValue | unknown): string {
  return JSON.stringify(value ?? null);
}

/** The one summary line. */
export function summaryLine(plan: Plan): string {
  if (plan.changes.length === 0) return 'No changes. The access database matches the input.';
  const { add, change, destroy } = plan.summary;
  return `Plan: ${add} to add, ${change} to change, ${destroy} to destroy.`;
}

/** Changes grouped: plans and roles first (""), then each organization. */
function groupByOrg(changes: readonly PlannedChange[]): Map<string, PlannedChange[]> {
  const groups = new Map<string, PlannedChange[]>();
  const global = changes.filter((c) => c.org === null);
  if (global.length > 0) groups.set('', global);
  const orgs = [
    ...new Set(changes.map((c) => c.org).filter((o): o is string => o !== null)),
  ].sort();
  for (const org of orgs) {
    groups.set(
      org,
      changes.filter((c) => c.org === org),
    );
  }
  return groups;
}

function changeLines(c: PlannedChange, indent: string): string[] {
  const head = `${indent}${SYMBOLS[c.action]} ${describeRecord(c.id)}`;
  const notes: string[] = [];
  if (c.manage === 'adopt') notes.push('made outside Roster; Roster manages it from now on');
  if (c.drift && c.action !== 'create') {
    notes.push('changed outside Roster; set back to the declared value');
  }
  if (c.note !== undefined) notes.push(c.note);
  const lines = [head, ...notes.map((n) => `${indent}    # ${n}`)];
  if (c.action === 'update') {
    for (const f of c.fields) {
      lines.push(`${indent}    ~ ${f.name}: ${show(f.before)} -> ${show(f.after)}`);
    }
  } else if (c.action === 'create') {
    for (const f of c.fields) lines.push(`${indent}      ${f.name}: ${show(f.after)}`);
  }
  return lines;
}

function driftLine(d: DriftItem): string {
  const where = d.org !== null && d.id.kind !== 'organization' ? ` in ${d.org}` : '';
  if (d.deleted !== undefined) {
    return `${describeRecord(d.id)}${where}: deleted outside Roster (applied by ${d.deleted.by} at ${d.deleted.lastAppliedAt}); will be created again`;
  }
  const fields = d.fields
    .map((f) => `${f.name} was ${show(f.applied)} when applied, is ${show(f.actual)} now`)
    .join('; ');
  return `${describeRecord(d.id)}${where}: ${fields}; ${d.corrected ? 'will be set back' : 'will be deleted'}`;
}

/** The plan as text for a terminal or a CI log. */
export function renderPlanText(plan: Plan): string {
  const out: string[] = [];
  if (plan.changes.length > 0) {
    const used = (['create', 'update', 'delete'] as const).filter((a) =>
      plan.changes.some((c) => c.action === a),
    );
    out.push('Roster will perform the following actions. Symbols:');
    for (const a of used) out.push(`  ${SYMBOLS[a]} ${VERBS[a]}`);
    out.push('');
    for (const [org, changes] of groupByOrg(plan.changes)) {
      out.push(org === '' ? 'plans and roles' : `organization ${org}`);
      for (const c of changes) out.push(...changeLines(c, '  '));
      out.push('');
    }
  }
  if (plan.drift.length > 0) {
    out.push('Drift: changed outside Roster since the last apply');
    for (const d of plan.drift) out.push(`  ~ ${driftLine(d)}`);
    out.push('');
  }
  for (const line of unmanagedLines(plan)) out.push(line);
  if (plan.invitations.length > 0) {
    out.push(`Invitations to send: ${plan.invitations.length}`);
    for (const i of plan.invitations) {
      const on = i.resource === undefined ? '' : ` on ${i.resource}`;
      const why =
        i.reason === 'role-changed'
          ? ' (re-issued: role changed)'
          : i.reason === 'resumed'
            ? ' (resumed before joining)'
            : '';
      out.push(`  > ${i.user} to ${i.org} as ${i.role}${on}${why}`);
    }
    out.push('');
  }
  if (plan.refusals.length > 0) {
    out.push('Refused:');
    for (const r of plan.refusals) out.push(`  ! ${r.message}`);
    out.push('');
  }
  out.push(summaryLine(plan));
  out.push(...invitationNotes(plan));
  return `${out.join('\n')}\n`;
}

/** Per organization, at most this many unmanaged grants of access are listed in text. */
const UNMANAGED_SHOWN = 20;

/** One unmanaged membership or grant. */
function unmanagedLine(u: UnmanagedAccess): string {
  const what =
    u.kind === 'grant' ? `grant ${u.user} on ${u.resource ?? ''}` : `membership ${u.user}`;
  return `${what} as ${u.role}${u.status === null ? '' : ` (${u.status})`}`;
}

/** The section on access Roster does not manage, grouped by organization. */
function unmanagedLines(plan: Plan): string[] {
  const all = plan.unmanaged ?? [];
  if (all.length === 0) return [];
  const out = [
    `Access Roster does not manage: ${all.length} (made outside Roster, not in the input)`,
  ];
  const orgs = [...new Set(all.map((u) => u.org))];
  for (const org of orgs) {
    const items = all.filter((u) => u.org === org);
    out.push(`  organization ${org}`);
    for (const u of items.slice(0, UNMANAGED_SHOWN)) out.push(`    ? ${unmanagedLine(u)}`);
    if (items.length > UNMANAGED_SHOWN) {
      out.push(`    … and ${items.length - UNMANAGED_SHOWN} more (--format json lists them all)`);
    }
  }
  out.push('  Declare it to manage it, or plan with --prune to remove it.');
  out.push('');
  return out;
}

/**
 * Lines about invitations outside the plan: who has not accepted yet (members and grant holders
 * counted apart), and what the outbox still holds unsent.
 */
export function invitationNotes(plan: Plan): string[] {
  const notes: string[] = [];
  const { memberships, grants } = plan.awaitingAcceptanceBy ?? {
    memberships: plan.awaitingAcceptance,
    grants: 0,
  };
  const who = [
    ...(memberships > 0 ? [`${memberships} member${memberships === 1 ? '' : 's'}`] : []),
    ...(grants > 0 ? [`${grants} grant holder${grants === 1 ? '' : 's'}`] : []),
  ];
  if (who.length > 0) {
    notes.push(
      `${who.join(' and ')} ${memberships + grants === 1 ? 'has' : 'have'} not accepted their invitation yet (roster invitations list).`,
    );
  }
  const queued = plan.queuedInvitations ?? 0;
  if (queued > 0) {
    notes.push(
      `${queued} invitation${queued === 1 ? ' is' : 's are'} queued and not sent yet: "roster apply" sends them, or run "roster deliver".`,
    );
  }
  return notes;
}

/** GitHub rejects comments over 65,536 characters; stay well below. */
export const DEFAULT_MARKDOWN_LIMIT = 60_000;

function cell(text: string): string {
  return text.replace(/[|\\`*_<>[\]]/g, (ch) =>
    ch === '<' ? '&lt;' : ch === '>' ? '&gt;' : `\\${ch}`,
  );
}

/** A code fence longer than any run of backticks in the content, so the content cannot close it. */
function fenced(lines: readonly string[], language: string): string {
  // A loop, not Math.max(...lines): a plan of a million lines would overflow the stack.
  let longest = 0;
  for (const line of lines) {
    for (const run of line.match(/`+/g) ?? []) longest = Math.max(longest, run.length);
  }
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}${language}\n${lines.join('\n')}\n${fence}`;
}

/** The plan as Markdown for a pull-request comment, cut to `limit` characters with a note. */
export function renderPlanMarkdown(plan: Plan, limit = DEFAULT_MARKDOWN_LIMIT): string {
  const head: string[] = [];
  const title = plan.changes.length === 0 ? 'No changes' : summaryLine(plan).replace(/\.$/, '');
  head.push(`### Roster plan: ${title}`);
  head.push('');
  if (plan.refusals.length > 0) {
    head.push('> [!CAUTION]');
    head.push('> This plan is refused and cannot be applied:');
    for (const r of plan.refusals) head.push(`> - ${cell(r.message)}`);
    head.push('');
  }
  const groups = groupByOrg(plan.changes);
  const sections: string[] = [];
  if (groups.size > 0) {
    const table = ['| Organization | Add | Change | Destroy |', '|---|---:|---:|---:|'];
    for (const [org, changes] of groups) {
      const count = (a: PlannedChange['action']) => changes.filter((c) => c.action === a).length;
      table.push(
        `| ${org === '' ? '_plans and roles_' : cell(org)} | ${count('create')} | ${count('update')} | ${count('delete')} |`,
      );
    }
    sections.push(table.join('\n'));
    for (const [org, changes] of groups) {
      const lines = changes.flatMap((c) => changeLines(c, ''));
      sections.push(
        `<details><summary>${org === '' ? 'plans and roles' : cell(org)}: ${changes.length} change${changes.length === 1 ? '' : 's'}</summary>\n\n${fenced(lines, 'diff')}\n\n</details>`,
      );
    }
  }
  if (plan.drift.length > 0) {
    sections.push(
      `#### Drift: changed outside Roster\n\n${plan.drift.map((d) => `- ${cell(driftLine(d))}`).join('\n')}`,
    );
  }
  if (plan.invitations.length > 0) {
    const rows = plan.invitations.map(
      (i) =>
        `| ${cell(i.org)} | ${cell(i.user)} | ${cell(i.role)} | ${i.resource === undefined ? '' : cell(i.resource)} |`,
    );
    sections.push(
      `#### Invitations that will be sent (${plan.invitations.length})\n\n| Organization | User | Role | Resource |\n|---|---|---|---|\n${rows.join('\n')}`,
    );
  }

  const unmanaged = plan.unmanaged ?? [];
  if (unmanaged.length > 0) {
    const rows = unmanaged.map(
      (u) =>
        `| ${cell(u.org)} | ${u.kind} | ${cell(u.user)} | ${cell(u.role)} | ${u.resource === undefined ? '' : cell(u.resource)} | ${u.status ?? ''} |`,
    );
    sections.push(
      `#### Access Roster does not manage (${unmanaged.length})\n\nMade outside Roster and not declared in the input; it grants access all the same. Declare it to manage it, or plan with \`--prune\` to remove it.\n\n| Organization | Kind | User | Role | Resource | Status |\n|---|---|---|---|---|---|\n${rows.join('\n')}`,
    );
  }
  const notes = invitationNotes(plan);
  if (notes.length > 0) sections.push(notes.join('\n'));

  let body = head.join('\n');
  for (let i = 0; i < sections.length; i++) {
    const section = sections[i] ?? '';
    const note = `\n\n> [!NOTE]\n> Truncated: ${sections.length - i} more section${sections.length - i === 1 ? '' : 's'} not shown, to fit a pull-request comment. The full plan is in the job log (\`roster plan --format text\`).\n`;
    if (body.length + section.length + 2 + note.length > limit) {
      body += note;
      return body;
    }
    body += `\n\n${section}`;
  }
  return `${body}\n`;
}
