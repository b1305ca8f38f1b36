/**
 * Who can do what, since when, and who changed it, from the command line: `roster members`,
 * `roster orgs`, `roster contacts`, `roster check` and `roster audit`. The same data as the
 * access API's routes (the same store functions), as text or JSON (`--format json`).
 */
import { parseArgs } from 'node:util';
import { RosterError, UsageError } from '../../core/errors.js';
import { startInstant } from '../../core/expiry.js';
import type { CliIo } from '../../command/io.js';
import { parseFormat } from '../../command/options.js';
import { whoAmI } from '../../command/session.js';
import { renderTable } from '../../command/table.js';
import {
  checkAccess,
  checkDelegatedAccess,
  contactsOf,
  organizationsOfUser,
} from '../../store/access.js';
import { openAccessDatabase } from '../../store/connect.js';
import { accessReview, listAudit, listMembers, MAX_VIEW_PAGE } from '../../store/views.js';
import { reviewCsv, reviewHtml } from '../../core/review.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const PAGING = `--limit N (default 100, at most ${MAX_VIEW_PAGE}) rows at a time; the next page is --after
the cursor it prints (JSON: "next").`;

/** Help of `roster members`. */
export const MEMBERS_HELP = `Usage: roster members --org ORG [--limit N] [--after CURSOR] [--format text|json]

The members of an organization, by address: role, seat, status, when they joined, who invited
them, who manages the record, and its last change with its source (file:line, custom resource,
Pulumi URN). ${PAGING}
`;
/** Help of `roster orgs`. */
export const ORGS_HELP = `Usage: roster orgs --user EMAIL [--format text|json]

The organizations a person can switch to (any of their addresses): as a member, through groups,
or through grants on single resources, with the role each gives.
`;
/** Help of `roster contacts`. */
export const CONTACTS_HELP = `Usage: roster contacts --org ORG [--category CATEGORY] [--format text|json]

Who receives the organization's mail (of one category): its contacts, or its owner when no
contact covers it.
`;
/** Help of `roster check`. */
export const CHECK_HELP = `Usage: roster check USER PERMISSION --org ORG [--resource TYPE/NAME] [--acting-as EMAIL]
                    [--format text|json]

May USER do PERMISSION in ORG (on one resource)? The decision and its reason, as the access API
answers it. Exit code 0 when allowed, 3 when denied. With --acting-as, USER acts for that member
under a Delegation: the use is written to the audit log, as through the API.
`;
/** Help of `roster audit`. */
export const AUDIT_HELP = `Usage: roster audit [--org ORG] [--user EMAIL] [--since TIME] [--until TIME]
                    [--limit N] [--after CURSOR] [--format text|json]

Who changed what and when, newest first: every change applied (its actor and source) and every
delegated access check (act-as). --user selects the entries about that person; --since and
--until take a date or an RFC 3339 time. ${PAGING}
`;

/** Help of `roster review`. */
export const REVIEW_HELP = `Usage: roster review --org ORG [-o DIR]

An access review of an organization: who has access, through what (owner, membership, grant,
group, delegation), since when, until when, and whether Roster manages it (access made in the
application is flagged UNMANAGED). Writes review-ORG.html and review-ORG.csv to DIR (default:
the working directory). "roster serve" shows the same page at /review/ORG to a holder of an API
key for that organization.
`;

/** The exit code of a denied `roster check`: distinct from errors (1) and changes (2). */
const DENIED = 3;

type Options = Record<string, { type: 'string' }>;

async function withDatabase<T>(
  io: CliIo,
  what: string,
  use: (pool: Awaited<ReturnType<typeof openAccessDatabase>>['pool']) => Promise<T>,
): Promise<T> {
  const database = await openAccessDatabase({
    env: io.env,
    cwd: io.cwd,
    applicationName: `roster ${what} (${whoAmI()})`,
  });
  try {
    return await use(database.pool);
  } finally {
    await database.close();
  }
}

function parse(args: string[], options: Options, positionals = false) {
  const parsed = parseArgs({
    args,
    allowPositionals: positionals,
    options: { ...options, format: { type: 'string', default: 'text' } },
  });
  const values = parsed.values as Record<string, string | undefined>;
  const format = parseFormat(values.format ?? 'text', ['text', 'json'] as const);
  return { positionals: parsed.positionals, format, values };
}

function needed(values: Record<string, string | undefined>, flag: string, command: string): string {
  const value = values[flag];
  if (value === undefined || value === '') {
    throw new UsageError(`${command} needs --${flag}`);
  }
  return value;
}

function pageOf(values: Record<string, string | undefined>) {
  const limit = values.limit;
  if (limit !== undefined && (!/^\d+$/.test(limit) || +limit < 1 || +limit > MAX_VIEW_PAGE)) {
    throw new UsageError(
      `--limit must be a whole number from 1 to ${MAX_VIEW_PAGE}, not "${limit}"`,
    );
  }
  return {
    ...(limit !== undefined && { limit: Number(limit) }),
    ...(values.after !== undefined && { after: values.after }),
  };
}

const more = (io: CliIo, next: string | null) => {
  if (next !== null) io.stdout.write(`More: the same command with --after ${next}\n`);
};
const json = (io: CliIo, value: unknown) => io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);

/** `roster members --org ORG`. */
export async function membersCommand(args: string[], io: CliIo): Promise<number> {
  const { values, format } = parse(args, {
    org: { type: 'string' },
    limit: { type: 'string' },
    after: { type: 'string' },
  });
  const org = needed(values, 'org', 'members');
  const page = await withDatabase(io, 'members', (pool) => listMembers(pool, org, pageOf(values)));
  if (page === null) throw new RosterError('not-found', `no organization "${org}"`);
  if (format === 'json') return (json(io, { members: page.items, next: page.next }), 0);
  const rows = page.items.map((m) => [
    m.user,
    m.role,
    m.seat,
    m.status,
    m.joinedAt?.slice(0, 10) ?? '-',
    m.invitedBy ?? '-',
    m.managedBy ?? '(app)',
    m.lastChange === null
      ? '-'
      : `${m.lastChange.at.slice(0, 19)}Z ${m.lastChange.action} by ${m.lastChange.actor}${sourceText(m.lastChange.source)}`,
  ]);
  io.stdout.write(
    renderTable([
      ['USER', 'ROLE', 'SEAT', 'STATUS', 'JOINED', 'INVITED BY', 'MANAGED BY', 'LAST CHANGE'],
      ...rows,
    ]),
  );
  more(io, page.next);
  return 0;
}

/** `roster orgs --user EMAIL`. */
export async function orgsCommand(args: string[], io: CliIo): Promise<number> {
  const { values, format } = parse(args, { user: { type: 'string' } });
  const user = needed(values, 'user', 'orgs');
  const orgs = await withDatabase(io, 'orgs', (pool) => organizationsOfUser(pool, user));
  if (format === 'json') return (json(io, { organizations: orgs }), 0);
  if (orgs.length === 0) {
    io.stdout.write(`${user} cannot switch to any organization.\n`);
    return 0;
  }
  io.stdout.write(
    renderTable([
      ['ORG', 'VIA', 'ROLE', 'GROUPS', 'RESOURCES'],
      ...orgs.map((o) => [
        o.org,
        o.via,
        o.role ?? '-',
        o.groups.map((g) => (g.role === null ? g.group : `${g.group} (${g.role})`)).join(', ') ||
          '-',
        o.resources.map((r) => `${r.resource} (${r.role})`).join(', ') || '-',
      ]),
    ]),
  );
  return 0;
}

/** `roster contacts --org ORG [--category C]`. */
export async function contactsCommand(args: string[], io: CliIo): Promise<number> {
  const { values, format } = parse(args, { org: { type: 'string' }, category: { type: 'string' } });
  const org = needed(values, 'org', 'contacts');
  const contacts = await withDatabase(io, 'contacts', (pool) =>
    contactsOf(pool, org, values.category ?? null),
  );
  if (contacts === null) throw new RosterError('not-found', `no organization "${org}"`);
  if (format === 'json') return (json(io, { contacts }), 0);
  io.stdout.write(
    renderTable([
      ['EMAIL', 'NAME', 'CATEGORIES', 'VIA'],
      ...contacts.map((c) => [c.email, c.name ?? '-', c.categories.join(', ') || '-', c.via]),
    ]),
  );
  return 0;
}

/** `roster check USER PERMISSION --org ORG`: exit 0 when allowed, 3 when denied. */
export async function checkCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals, format } = parse(
    args,
    { org: { type: 'string' }, resource: { type: 'string' }, 'acting-as': { type: 'string' } },
    true,
  );
  const [user, permission, ...extra] = positionals;
  if (user === undefined || permission === undefined || extra.length > 0) {
    throw new UsageError('check needs USER PERMISSION --org ORG');
  }
  const org = needed(values, 'org', 'check');
  const query = { user, permission, org, resource: values.resource ?? null };
  const actingAs = values['acting-as'];
  const decision = await withDatabase(io, 'check', (pool) =>
    actingAs === undefined
      ? checkAccess(pool, query)
      : checkDelegatedAccess(pool, { ...query, actingAs }, { via: 'cli', actor: whoAmI() }),
  );
  if (format === 'json') json(io, decision);
  else {
    const because = [
      decision.reason,
      ...(decision.role === undefined ? [] : [`role ${decision.role}`]),
      ...(decision.group === undefined ? [] : [`group ${decision.group}`]),
      ...(decision.delegation === undefined ? [] : [`delegation ${decision.delegation}`]),
    ].join(', ');
    io.stdout.write(`${decision.allowed ? 'allowed' : 'denied'}: ${because}\n`);
  }
  return decision.allowed ? 0 : DENIED;
}

/** `roster audit [--org] [--user] [--since] [--until]`. */
export async function auditCommand(args: string[], io: CliIo): Promise<number> {
  const { values, format } = parse(args, {
    org: { type: 'string' },
    user: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    limit: { type: 'string' },
    after: { type: 'string' },
  });
  const filter = {
    ...(values.org !== undefined && { org: values.org }),
    ...(values.user !== undefined && { user: values.user }),
    ...(values.since !== undefined && { since: instant(values.since, '--since') }),
    ...(values.until !== undefined && { until: instant(values.until, '--until') }),
  };
  const page = await withDatabase(io, 'audit', (pool) => listAudit(pool, filter, pageOf(values)));
  if (format === 'json') return (json(io, { entries: page.items, next: page.next }), 0);
  if (page.items.length === 0) {
    io.stdout.write('No entries.\n');
    return 0;
  }
  io.stdout.write(
    renderTable([
      ['AT', 'ORG', 'ACTOR', 'ACTION', 'RECORD', 'SOURCE'],
      ...page.items.map((e) => [
        `${e.at.slice(0, 19)}Z`,
        e.org ?? '-',
        e.actor,
        e.action,
        describeKey(e.record, e.key),
        sourceOf(e.source) ?? '-',
      ]),
    ]),
  );
  more(io, page.next);
  return 0;
}

/** A date (the start of that day, UTC) or an RFC 3339 time. */
function instant(text: string, flag: string): Date {
  const at = startInstant(text);
  if (at === undefined) {
    throw new UsageError(`${flag} takes a date (2026-11-01) or an RFC 3339 time, not "${text}"`);
  }
  return new Date(at);
}

/** `tenants/acme.yaml:12`, a custom resource, a Pulumi URN, or undefined. */
function sourceOf(source: Readonly<Record<string, unknown>> | null): string | undefined {
  if (source === null) return undefined;
  if (typeof source.file === 'string') {
    return typeof source.line === 'number' ? `${source.file}:${source.line}` : source.file;
  }
  const named = ['urn', 'resource', 'apiKey', 'via'].map((k) => source[k]);
  return named.find((v): v is string => typeof v === 'string');
}

/** ` (tenants/acme.yaml:12)`, or nothing. */
function sourceText(source: Readonly<Record<string, unknown>> | null): string {
  const where = sourceOf(source);
  return where === undefined ? '' : ` (${where})`;
}

/** `membership bob@x.io`, `grant dave@x.io on site/shop`, `delegation hugo-for-client`. */
function describeKey(record: string, key: Readonly<Record<string, unknown>>): string {
  const part = (name: string) => (typeof key[name] === 'string' ? (key[name] as string) : '');
  const subject = part('user') || part('email') || part('name') || part('delegation');
  return [record, subject, part('resource') === '' ? '' : `on ${part('resource')}`]
    .filter((p) => p !== '')
    .join(' ');
}

/** `roster review --org ORG [-o DIR]`: the review as HTML and CSV files. */
export async function reviewCommand(args: string[], io: CliIo): Promise<number> {
  const parsed = parseArgs({
    args,
    options: { org: { type: 'string' }, out: { type: 'string', short: 'o' } },
  });
  const values = parsed.values as Record<string, string | undefined>;
  const org = needed(values, 'org', 'review');
  const review = await withDatabase(io, 'review', (pool) => accessReview(pool, org));
  if (review === null) throw new RosterError('not-found', `no organization "${org}"`);
  const dir = resolve(io.cwd, values.out ?? '.');
  mkdirSync(dir, { recursive: true });
  const html = join(dir, `review-${org}.html`);
  const csv = join(dir, `review-${org}.csv`);
  writeFileSync(html, reviewHtml(org, review.lines, new Date(), review.cut));
  writeFileSync(csv, reviewCsv(review.lines));
  const unmanaged = review.lines.filter((l) => l.managedBy === null).length;
  io.stdout.write(
    `Wrote ${html} and ${csv}: ${review.lines.length} accesses, ${unmanaged} unmanaged.\n`,
  );
  if (review.cut) {
    io.stderr.write(`roster: only the first ${review.lines.length} accesses are in the review\n`);
  }
  return 0;
}
