import { Writable } from 'node:stream';
/**
 * Invitations end to end: apply -> real SMTP on loopback -> the link -> the accept page over real
 * HTTP -> active; and everything that must not work (used, expired, revoked, unknown tokens).
 */
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deliverOutbox } from '../src/mail/deliver.js';
import { jsonLogger } from '../src/telemetry/log.js';
import { smtpTransport } from '../src/mail/transport.js';
import { createApiKey } from '../src/store/api-keys.js';
import { startTestServer, type TestServer } from './support/http-server.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { linkOf, recipientOf, startSmtp, type CapturingSmtp } from './support/smtp.js';
import { createWorkspace, doc, TEAM_PLAN, tenant, type Workspace } from './support/workspace.js';

let db: TestDatabase;
let ws: Workspace;
let smtp: CapturingSmtp;
let server: TestServer;
let base: string;
const logs: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startTestServer(db.pool, {
    appUrl: 'https://app.example.com/switch',
    log: jsonLogger(
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          logs.push(chunk.toString());
          done();
        },
      }),
    ),
  });
  base = server.base;
});
afterAll(async () => {
  await server.close();
  await db.drop();
});
beforeEach(async () => {
  await db.pool.query(
    'TRUNCATE plans, roles, role_permissions, users, organizations, resources, memberships, grants, contacts, invitations, invitation_tokens, outbox, audit_log, api_keys, input_files CASCADE',
  );
  smtp = await startSmtp();
  ws = createWorkspace(db.url);
});
afterEach(async () => {
  ws.dispose();
  await smtp.close();
});

const env = () => ({ SMTP_URL: smtp.url, ROSTER_PUBLIC_URL: base, ROSTER_RETRY_BASE_MS: '0' });
const apply = (file = 't.yaml') => ws.rosterAsync(['apply', '-f', file, '--yes'], env());
const mailTo = (user: string) => {
  const mails = smtp.messages.filter((m) => recipientOf(m) === user);
  const last = mails.at(-1);
  if (last === undefined) throw new Error(`no mail to ${user}`);
  return last;
};
const memberStatus = async (user: string) =>
  (
    await db.pool.query(
      `SELECT m.status, m.joined_at FROM memberships m JOIN users USING (user_id) WHERE email = $1`,
      [user],
    )
  ).rows[0];
const acceptUrl = (link: string) => `${link}/accept`;
const post = (url: string) => fetch(url, { method: 'POST', redirect: 'manual' });

describe('the invitation path', () => {
  beforeEach(() => {
    ws.write('t.yaml', [TEAM_PLAN, tenant('acme', 'alice@acme.io', ['bob@acme.io'])].join('---\n'));
  });

  it('mails a readable invitation, shows it on GET without accepting, and accepts on POST', async () => {
    const run = await apply();
    expect(run.status).toBe(0);
    expect(run.stdout).toContain(`2 invitations sent to SMTP 127.0.0.1:${smtp.port}.`);
    const mail = mailTo('bob@acme.io');
    expect(mail.subject).toBe('Invitation to join acme');
    expect(mail.text).toContain('alice@acme.io invites you to join acme as developer.');
    expect(mail.text).toMatch(/expires on \d+ \w+ \d{4} at \d\d:\d\d UTC/);
    expect(mail.html).toContain('Review the invitation');
    const link = linkOf(mail);
    expect(link.startsWith(`${base}/invitations/`)).toBe(true);

    // A mail scanner fetching the link changes nothing.
    const page = await fetch(link);
    expect(page.status).toBe(200);
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    const html = await page.text();
    expect(html).toContain('<dd>developer</dd>');
    expect(html).toContain('alice@acme.io invites you');
    expect(html).toContain('<button type="submit">Accept invitation</button>');
    expect((await memberStatus('bob@acme.io')).status).toBe('invited');

    const listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    const notified = new Promise<string>((resolve) =>
      listener.on('notification', (n) => resolve(n.payload ?? '')),
    );
    await listener.query('LISTEN roster_invitations');

    const accepted = await post(acceptUrl(link));
    expect(accepted.status).toBe(303);
    expect(accepted.headers.get('location')).toBe('https://app.example.com/switch?org=acme');
    const member = await memberStatus('bob@acme.io');
    expect(member.status).toBe('active');
    expect(member.joined_at).toBeInstanceOf(Date);
    expect(JSON.parse(await notified)).toEqual({
      event: 'accepted',
      org: 'acme',
      user: 'bob@acme.io',
      subject: 'membership',
      resource: null,
    });
    await listener.end();

    // Single use.
    const again = await post(acceptUrl(link));
    expect(again.status).toBe(410);
    expect(await again.text()).toContain('This invitation was already accepted');

    // The plan no longer counts bob as waiting; a re-apply sends nothing.
    expect((await ws.rosterAsync(['plan', '-f', 't.yaml'], env())).stdout).toBe(
      'No changes. The access database matches the input.\n1 member has not accepted their invitation yet (roster invitations list).\n',
    );
    const before = smtp.messages.length;
    const outbox = (await db.pool.query('SELECT count(*)::int AS n FROM outbox')).rows[0].n;
    expect((await apply()).stdout).toMatch(/^No changes\./);
    expect((await ws.rosterAsync(['deliver'], env())).stdout).toContain('0 invitations sent');
    expect(smtp.messages.length).toBe(before);
    expect((await db.pool.query('SELECT count(*)::int AS n FROM outbox')).rows[0].n).toBe(outbox);
  });

  it('keeps tokens out of the database and the logs', async () => {
    await apply();
    const tokens = smtp.messages.map((m) => linkOf(m).split('/').pop() ?? '');
    expect(tokens).toHaveLength(2);
    await fetch(linkOf(mailTo('bob@acme.io')));
    await post(acceptUrl(linkOf(mailTo('bob@acme.io'))));
    const tables = (
      await db.pool.query(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`,
      )
    ).rows.map((r) => r.table_name as string);
    for (const table of tables) {
      const dump = (
        await db.pool.query(`SELECT coalesce(string_agg(t::text, ' '), '') AS text FROM ${table} t`)
      ).rows[0].text as string;
      for (const token of tokens) expect(dump, table).not.toContain(token);
    }
    expect(logs.length).toBeGreaterThan(0);
    for (const token of tokens) expect(logs.join('\n')).not.toContain(token);
  });

  it('refuses an expired, a revoked and an unknown token with a clear page', async () => {
    ws.write(
      't.yaml',
      [TEAM_PLAN, tenant('acme', 'alice@acme.io', ['bob@acme.io', 'carol@acme.io'])].join('---\n'),
    );
    await apply();
    await db.pool.query(
      `UPDATE invitations SET expires_at = now() - interval '1 minute'
        WHERE user_id = (SELECT user_id FROM users WHERE email = 'bob@acme.io')`,
    );
    const expired = await fetch(linkOf(mailTo('bob@acme.io')));
    expect(expired.status).toBe(410);
    expect(await expired.text()).toContain('This invitation has expired');
    expect((await post(acceptUrl(linkOf(mailTo('bob@acme.io'))))).status).toBe(410);
    expect((await memberStatus('bob@acme.io')).status).toBe('invited');

    // Removing carol's membership revokes her pending invitation.
    ws.write('t.yaml', [TEAM_PLAN, tenant('acme', 'alice@acme.io', ['bob@acme.io'])].join('---\n'));
    expect((await apply()).status).toBe(0);
    const revoked = await post(acceptUrl(linkOf(mailTo('carol@acme.io'))));
    expect(revoked.status).toBe(410);
    expect(await revoked.text()).toContain('This invitation was withdrawn');

    for (const token of ['x'.repeat(43), 'short', "'; DROP TABLE invitations;--"]) {
      const unknown = await fetch(`${base}/invitations/${encodeURIComponent(token)}`);
      expect(unknown.status).toBe(404);
      expect(await unknown.text()).toContain('This invitation link is not valid');
    }
  });

  it('re-issues the invitation when the role of a pending member changes', async () => {
    await apply();
    const first = linkOf(mailTo('bob@acme.io'));
    ws.write(
      't.yaml',
      [
        TEAM_PLAN,
        tenant('acme', 'alice@acme.io', []).replace(
          '"members":[]',
          '"members":[{"user":"bob@acme.io","role":"billing"}]',
        ),
      ].join('---\n'),
    );
    const run = await apply();
    expect(run.stdout).toContain('> bob@acme.io to acme as billing (re-issued: role changed)');
    const second = linkOf(mailTo('bob@acme.io'));
    expect(second).not.toBe(first);
    expect(mailTo('bob@acme.io').text).toContain('as billing');
    expect((await post(acceptUrl(first))).status).toBe(410);
    expect((await post(acceptUrl(second))).status).toBe(303);
  });

  it('invites a membership created suspended once it is resumed, and it can be re-sent', async () => {
    const withCarol = (suspended: boolean) =>
      [
        TEAM_PLAN,
        tenant(
          'acme',
          'alice@acme.io',
          [],
          doc('Membership', 'carol', {
            org: 'acme',
            user: 'carol@acme.io',
            role: 'developer',
            suspended,
          }),
        ),
      ].join('---\n');
    ws.write('t.yaml', withCarol(true));
    expect((await apply()).status).toBe(0);
    expect(smtp.messages.map(recipientOf)).toEqual(['alice@acme.io']);

    ws.write('t.yaml', withCarol(false));
    const resumed = await apply();
    expect(resumed.status).toBe(0);
    expect(resumed.stdout).toContain(
      '> carol@acme.io to acme as developer (resumed before joining)',
    );
    const mail = mailTo('carol@acme.io');
    expect((await memberStatus('carol@acme.io')).status).toBe('invited');
    const resend = await ws.rosterAsync(
      ['invitations', 'resend', '--org', 'acme', '--user', 'carol@acme.io'],
      env(),
    );
    expect(resend.status, resend.stdout).toBe(0);
    // The re-sent link replaces the first (whose token is gone); accepting it makes carol active.
    expect((await post(acceptUrl(linkOf(mail)))).status).toBe(404);
    expect((await post(acceptUrl(linkOf(mailTo('carol@acme.io'))))).status).toBe(303);
    expect((await memberStatus('carol@acme.io')).status).toBe('active');
  });

  it('invites to a single resource through a grant, and accepts it', async () => {
    ws.write(
      't.yaml',
      [
        TEAM_PLAN,
        tenant(
          'acme',
          'alice@acme.io',
          [],
          doc('Grant', 'g', {
            org: 'acme',
            user: 'dev@freelance.io',
            resource: 'site/www',
            role: 'resource-developer',
          }),
        ),
      ].join('---\n'),
    );
    await apply();
    const mail = mailTo('dev@freelance.io');
    expect(mail.subject).toBe('Invitation to site/www of acme');
    expect((await post(acceptUrl(linkOf(mail)))).status).toBe(303);
    const { rows } = await db.pool.query(`SELECT status FROM grants`);
    expect(rows[0].status).toBe('active');
  });
});

describe('delivery that fails', () => {
  beforeEach(() => {
    ws.write('t.yaml', [TEAM_PLAN, tenant('acme', 'alice@acme.io', ['bob@acme.io'])].join('---\n'));
  });

  it('keeps an invitation queued while the SMTP server refuses, and sends it once later', async () => {
    smtp.refuse = true;
    const run = await apply();
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('0 invitations sent');
    expect(run.stdout).toContain('2 failed and will be retried');
    const list = await ws.rosterAsync(['invitations', 'list', '--format', 'json'], env());
    const rows = JSON.parse(list.stdout).invitations;
    expect(rows.map((r: { delivery: string }) => r.delivery)).toEqual([
      expect.stringMatching(/^retrying \(1 attempt, next at [0-9T:-]+Z\): .*451/),
      expect.stringMatching(/^retrying \(1 attempt, next at [0-9T:-]+Z\): .*451/),
    ]);
    // The tokens of mails that were refused are dropped, not kept for links nobody received.
    expect(
      (await db.pool.query('SELECT count(*)::int AS n FROM invitation_tokens')).rows[0].n,
    ).toBe(0);
    smtp.refuse = false;
    const retry = await ws.rosterAsync(['deliver'], env());
    expect(retry.status).toBe(0);
    expect(retry.stdout).toContain('2 invitations sent');
    expect(smtp.messages.map(recipientOf).sort()).toEqual(['alice@acme.io', 'bob@acme.io']);
    expect((await ws.rosterAsync(['deliver'], env())).stdout).toContain('0 invitations sent');
    expect(smtp.messages).toHaveLength(2);
  });

  it('loses nothing when the SMTP server is gone, and delivers when it is back', async () => {
    const port = smtp.port;
    await smtp.close();
    const run = await apply();
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('2 failed and will be retried');
    smtp = await startSmtp(port);
    expect((await ws.rosterAsync(['deliver'], env())).stdout).toContain('2 invitations sent');
    expect(smtp.messages).toHaveLength(2);
  });

  it('backs off between attempts', async () => {
    smtp.refuse = true;
    await ws.rosterAsync(['apply', '-f', 't.yaml', '--yes'], {
      ...env(),
      ROSTER_RETRY_BASE_MS: '600000',
    });
    smtp.refuse = false;
    expect((await ws.rosterAsync(['deliver'], env())).stdout).toContain('0 invitations sent');
    const { rows } = await db.pool.query(
      `SELECT min(available_at - now()) > interval '5 minutes' AS later FROM outbox`,
    );
    expect(rows[0].later).toBe(true);
  });
});

describe('expiry policy', () => {
  it('re-sends an expired invitation up to maxResends times, then marks it expired', async () => {
    ws.write(
      't.yaml',
      [
        TEAM_PLAN,
        tenant('acme', 'alice@acme.io', ['bob@acme.io']).replace(
          '"plan":"team"',
          '"plan":"team","invitations":{"expiresInDays":3,"maxResends":1}',
        ),
      ].join('---\n'),
    );
    expect((await apply()).status).toBe(0);
    // The expiry is fixed when the token is made, just before the server accepts the e-mail.
    const expiry = await db.pool.query(
      `SELECT round(extract(epoch FROM min(expires_at - sent_at)) / 3600)::int AS hours FROM invitations`,
    );
    expect(expiry.rows[0].hours).toBe(72);
    const expire = () =>
      db.pool.query(
        `UPDATE invitations SET expires_at = now() - interval '1 second' WHERE status = 'pending'`,
      );
    await expire();
    const first = linkOf(mailTo('bob@acme.io'));
    const resend = await ws.rosterAsync(['deliver'], env());
    expect(resend.stdout).toContain('2 invitations sent');
    expect(resend.stdout).toContain('2 expired re-sent');
    expect(linkOf(mailTo('bob@acme.io'))).not.toBe(first);
    expect((await post(acceptUrl(first))).status).toBe(404);
    await expire();
    expect((await ws.rosterAsync(['deliver'], env())).stdout).toContain('2 expired for good');
    const { rows } = await db.pool.query(`SELECT DISTINCT status FROM invitations`);
    expect(rows).toEqual([{ status: 'expired' }]);
  });
});

describe('roster invitations', () => {
  it('lists, re-sends and revokes by hand', async () => {
    ws.write('t.yaml', [TEAM_PLAN, tenant('acme', 'alice@acme.io', ['bob@acme.io'])].join('---\n'));
    await apply();
    const list = await ws.rosterAsync(['invitations', 'list', '--org', 'acme'], env());
    expect(list.stdout).toMatch(/^ORG +USER +ROLE +RESOURCE +STATUS +EXPIRES +DELIVERY\n/);
    expect(list.stdout).toContain('bob@acme.io');
    const old = linkOf(mailTo('bob@acme.io'));
    const resent = await ws.rosterAsync(
      ['invitations', 'resend', '--org', 'acme', '--user', 'BOB@acme.io'],
      env(),
    );
    expect(resent.status).toBe(0);
    expect(resent.stdout).toContain('1 invitation sent');
    expect((await fetch(old)).status).toBe(404);
    const fresh = linkOf(mailTo('bob@acme.io'));
    expect(
      (
        await ws.rosterAsync(
          ['invitations', 'revoke', '--org', 'acme', '--user', 'bob@acme.io'],
          env(),
        )
      ).stdout,
    ).toBe('Revoked 1 invitation.\n');
    expect((await post(acceptUrl(fresh))).status).toBe(410);
    expect(
      (
        await ws.rosterAsync(
          ['invitations', 'revoke', '--org', 'acme', '--user', 'bob@acme.io'],
          env(),
        )
      ).status,
    ).toBe(1);
  });
});

describe('the access API', () => {
  let key: string;
  beforeEach(async () => {
    ws.write(
      't.yaml',
      [
        TEAM_PLAN,
        tenant(
          'acme',
          'alice@acme.io',
          ['bob@acme.io'],
          [
            doc('Grant', 'g', {
              org: 'acme',
              user: 'dev@freelance.io',
              resource: 'site/www',
              role: 'resource-developer',
            }),
            doc('Contact', 'c', {
              org: 'acme',
              email: 'ap@acme.io',
              name: 'Accounts',
              categories: ['billing'],
            }),
            doc('Contact', 'd', { org: 'acme', email: 'ops@acme.io', categories: ['support'] }),
          ].join('---\n'),
        ),
      ].join('---\n'),
    );
    await apply();
    for (const user of ['bob@acme.io', 'dev@freelance.io']) {
      await post(acceptUrl(linkOf(mailTo(user))));
    }
    key = await createApiKey(db.pool, 'test', { organizations: 'all' });
  });
  const api = (path: string, token: string | null = key) =>
    fetch(
      `${base}${path}`,
      token === null ? {} : { headers: { authorization: `Bearer ${token}` } },
    );

  it('answers check with the reason', async () => {
    const check = async (query: string) => (await api(`/api/v1/check?${query}`)).json();
    expect(await check('user=bob@acme.io&permission=resources.manage&org=acme')).toEqual({
      allowed: true,
      reason: 'role',
      role: 'developer',
    });
    expect(await check('user=bob@acme.io&permission=billing.view&org=acme')).toEqual({
      allowed: false,
      reason: 'permission-not-granted',
      role: 'developer',
    });
    expect(await check('user=alice@acme.io&permission=billing.manage&org=acme')).toMatchObject({
      allowed: false,
      reason: 'invitation-pending',
    });
    expect(
      await check('user=dev@freelance.io&permission=resource.deploy&org=acme&resource=site/www'),
    ).toEqual({ allowed: true, reason: 'grant', role: 'resource-developer' });
    expect(
      await check('user=dev@freelance.io&permission=resource.deploy&org=acme&resource=site/blog'),
    ).toMatchObject({ allowed: false, reason: 'unknown-resource' });
    expect(await check('user=nobody@x.io&permission=billing.view&org=acme')).toEqual({
      allowed: false,
      reason: 'not-a-member',
    });
    // A plan that loses a feature takes the access with it at check time.
    await db.pool.query(`UPDATE plans SET features = array_remove(features, 'resourceGrants')`);
    expect(
      await check('user=dev@freelance.io&permission=resource.deploy&org=acme&resource=site/www'),
    ).toEqual({ allowed: false, reason: 'feature-not-in-plan', role: 'resource-developer' });
    await db.pool.query(`UPDATE plans SET features = array_append(features, 'resourceGrants')`);
    await db.pool.query(`UPDATE grants SET expires_at = now() - interval '1 day'`);
    expect(
      await check('user=dev@freelance.io&permission=resource.deploy&org=acme&resource=site/www'),
    ).toMatchObject({ allowed: false, reason: 'expired-grant' });
    await db.pool.query(`UPDATE memberships SET status = 'suspended' WHERE role = 'developer'`);
    expect(await check('user=bob@acme.io&permission=resources.manage&org=acme')).toMatchObject({
      allowed: false,
      reason: 'suspended',
    });
    const missing = await api('/api/v1/check?user=bob@acme.io&org=acme');
    expect(missing.status).toBe(400);
    expect(await missing.json()).toEqual({ error: 'the query parameter "permission" is required' });
  });

  it('lists the organizations a user can switch to, and the contacts of a category', async () => {
    expect(await (await api('/api/v1/users/bob@acme.io/organizations')).json()).toEqual({
      organizations: [
        {
          org: 'acme',
          displayName: null,
          via: 'membership',
          role: 'developer',
          resources: [],
          groups: [],
        },
      ],
    });
    expect(await (await api('/api/v1/users/dev@freelance.io/organizations')).json()).toEqual({
      organizations: [
        {
          org: 'acme',
          displayName: null,
          via: 'grant',
          role: null,
          resources: [{ resource: 'site/www', role: 'resource-developer' }],
          groups: [],
        },
      ],
    });
    expect(
      await (await api('/api/v1/organizations/acme/contacts?category=billing')).json(),
    ).toEqual({
      contacts: [
        { email: 'ap@acme.io', name: 'Accounts', categories: ['billing'], via: 'contact' },
      ],
    });
    expect(await (await api('/api/v1/organizations/acme/contacts')).json()).toEqual({
      contacts: [
        { email: 'ap@acme.io', name: 'Accounts', categories: ['billing'], via: 'contact' },
        { email: 'ops@acme.io', name: null, categories: ['support'], via: 'contact' },
      ],
    });
    // No contact covers domains: the owner gets that mail, and the answer says why.
    expect(
      await (await api('/api/v1/organizations/acme/contacts?category=domains')).json(),
    ).toEqual({ contacts: [{ email: 'alice@acme.io', name: null, categories: [], via: 'owner' }] });
    // Once a contact covers it, the owner is no longer named.
    await db.pool.query(
      `UPDATE contacts SET categories = categories || '{domains}' WHERE email = 'ops@acme.io'`,
    );
    expect(
      await (await api('/api/v1/organizations/acme/contacts?category=domains')).json(),
    ).toEqual({
      contacts: [
        { email: 'ops@acme.io', name: null, categories: ['support', 'domains'], via: 'contact' },
      ],
    });
    // An organization without contacts: the owner, whatever the category.
    await db.pool.query(`DELETE FROM contacts`);
    for (const path of ['/contacts', '/contacts?category=billing']) {
      expect(await (await api(`/api/v1/organizations/acme${path}`)).json()).toEqual({
        contacts: [{ email: 'alice@acme.io', name: null, categories: [], via: 'owner' }],
      });
    }
    expect((await api('/api/v1/organizations/nope/contacts')).status).toBe(404);
    expect((await api('/api/v1/organizations/nope/contacts?category=billing')).status).toBe(404);
  });

  it('requires a valid API key, stored only as a hash', async () => {
    expect((await api('/api/v1/check?user=a&permission=b&org=c', null)).status).toBe(401);
    expect(
      (await api('/api/v1/check?user=a&permission=b&org=c', `rk_${'A'.repeat(43)}`)).status,
    ).toBe(401);
    const stored = await db.pool.query(`SELECT key_hash FROM api_keys`);
    expect(stored.rows[0].key_hash).toHaveLength(32);
    expect(JSON.stringify(stored.rows)).not.toContain(key.slice(3));
    const openapi = (await (await fetch(`${base}/api/openapi.json`)).json()) as {
      openapi: string;
      paths: object;
    };
    expect(openapi.openapi).toBe('3.1.0');
    expect(Object.keys(openapi.paths)).toEqual([
      '/api/v1/check',
      '/api/v1/users/{email}/organizations',
      '/api/v1/organizations/{org}/contacts',
      '/api/v1/organizations/{org}/members',
      '/api/v1/audit',
    ]);
  });

  it('serves health, readiness and Prometheus metrics', async () => {
    expect(await (await fetch(`${base}/healthz`)).text()).toBe('ok\n');
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^roster_invitations_accepted_total \d+$/m);
    expect(metrics).toMatch(
      /^roster_http_requests_total\{route="\/invitations\/:token\/accept",status="303"\} \d+$/m,
    );
    // Label order carries no meaning in the exposition format (prom-client writes `le` first).
    expect(metrics).toMatch(
      /^roster_http_request_duration_seconds_bucket\{(?=[^}]*route="\/api\/v1\/check")(?=[^}]*le="0.005")[^}]*\} [1-9]\d*$/m,
    );
    // The process's own metrics come with prom-client's defaults.
    expect(metrics).toMatch(/^process_resident_memory_bytes \d+/m);
  });
});

describe('delivery through the library', () => {
  it('sends each queued invitation exactly once across concurrent workers', async () => {
    ws.write(
      't.yaml',
      [
        TEAM_PLAN,
        tenant('acme', 'alice@acme.io', ['a@acme.io', 'b@acme.io', 'c@acme.io', 'd@acme.io']),
      ].join('---\n'),
    );
    expect(
      (await ws.rosterAsync(['apply', '-f', 't.yaml', '--yes', '--no-deliver'], env())).status,
    ).toBe(0);
    const options = {
      transport: smtpTransport(smtp.url),
      publicUrl: base,
      from: 'x@y.io',
      batchSize: 2,
    };
    const reports = await Promise.all([
      deliverOutbox(db.pool, options),
      deliverOutbox(db.pool, options),
      deliverOutbox(db.pool, options),
    ]);
    options.transport.close();
    expect(reports.reduce((n, r) => n + r.sent, 0)).toBe(5);
    expect(smtp.messages.map(recipientOf).sort()).toEqual([
      'a@acme.io',
      'alice@acme.io',
      'b@acme.io',
      'c@acme.io',
      'd@acme.io',
    ]);
  });

  it('releases the batch it prepared ahead when the run stops: nothing stays held, no token lingers', async () => {
    const slow = await startSmtp(0, { acceptDelayMs: 5_000 });
    ws.write(
      't.yaml',
      [
        TEAM_PLAN,
        tenant(
          'acme',
          'alice@acme.io',
          Array.from({ length: 9 }, (_, i) => `m${i}@acme.io`),
        ),
      ].join('---\n'),
    );
    expect(
      (await ws.rosterAsync(['apply', '-f', 't.yaml', '--yes', '--no-deliver'], env())).status,
    ).toBe(0);
    const transport = smtpTransport(slow.url);
    try {
      const report = await deliverOutbox(db.pool, {
        transport,
        publicUrl: base,
        from: 'x@y.io',
        batchSize: 3,
        deadlineMs: 1_000,
      });
      expect(report).toMatchObject({ stopped: true, sent: 0, queued: 10, held: 0 });
      const { rows } = await db.pool.query(
        `SELECT (SELECT count(*)::int FROM outbox WHERE delivered_at IS NULL AND claimed_by IS NULL
                   AND available_at <= now()) AS due,
                (SELECT count(*)::int FROM invitation_tokens) AS tokens`,
      );
      expect(rows[0]).toEqual({ due: 10, tokens: 0 });
    } finally {
      transport.close();
      await slow.close();
    }
  });
});
