/**
 * The access review: `roster review` writes the page and the CSV, `roster serve` shows the page
 * to a holder of a key for the organization, and headless Chromium renders it with the
 * unmanaged access flagged.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../src/store/api-keys.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { startTestServer, type TestServer } from './support/http-server.js';
import { ROOT } from './support/run-roster.js';
import { createWorkspace, doc, type Workspace } from './support/workspace.js';

const CHROMIUM = '/usr/bin/chromium';
let db: TestDatabase;
let ws: Workspace;
let server: TestServer;
let key: string;
beforeAll(async () => {
  db = await createTestDatabase();
  ws = createWorkspace(db.url);
  const soon = new Date(Date.now() + 5 * 86_400_000).toISOString();
  ws.write(
    'acme.yaml',
    [
      doc('Plan', 'business', {
        seats: { paid: 20 },
        features: ['members', 'resourceGrants', 'delegation'],
      }),
      doc('Organization', 'acme', {
        plan: 'business',
        owner: 'alice@acme.io',
        resources: [{ type: 'site', name: 'shop' }],
        members: [
          { user: 'bob@acme.io', role: 'administrator' },
          { user: 'carol@acme.io', role: 'developer' },
        ],
        groups: [
          {
            name: 'compta',
            role: 'billing',
            members: ['erin@acme.io'],
            grants: [{ resource: 'site/shop', role: 'resource-developer' }],
          },
        ],
      }),
      doc('Grant', 'shop-dave', {
        org: 'acme',
        user: 'dave@x.io',
        resource: 'site/shop',
        role: 'resource-developer',
      }),
      doc('Delegation', 'bob-for-carol', {
        org: 'acme',
        delegate: 'bob@acme.io',
        onBehalfOf: 'carol@acme.io',
        expires: soon,
        reason: 'holiday cover',
      }),
    ].join('---\n'),
  );
  const applied = await ws.rosterAsync(['apply', '-f', '.', '--yes', '--no-deliver']);
  expect(applied.status, applied.stderr).toBe(0);
  // Someone given access in the application, outside Roster.
  await db.pool.query(`INSERT INTO users (email) VALUES ('=hyperlink(1)@evil.io')`);
  await db.pool.query(
    `INSERT INTO memberships (org_id, user_id, role, status)
     SELECT o.org_id, u.user_id, 'developer', 'active' FROM organizations o, users u
      WHERE o.name = 'acme' AND u.email = '=hyperlink(1)@evil.io'`,
  );
  server = await startTestServer(db.pool);
  key = await createApiKey(db.pool, 'acme-review', { organizations: ['acme'] });
});
afterAll(async () => {
  await server.close();
  ws.dispose();
  await db.drop();
});

describe('the access review', () => {
  it('is written as CSV and HTML, every path of access listed, unmanaged access flagged', async () => {
    const run = await ws.rosterAsync(['review', '--org', 'acme', '-o', 'out']);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/: 8 accesses, 1 unmanaged\.\n$/);
    const csv = readFileSync(join(ws.dir, 'out', 'review-acme.csv'), 'utf8').split('\r\n');
    expect(csv[0]).toBe(
      'user,via,role,resource,group or on behalf of,status,since,until,last used,managed by',
    );
    const rows = csv.slice(1, -1).map((line) => line.split(',').slice(0, 5).join(' '));
    expect(rows).toEqual([
      // A formula a spreadsheet would run is neutralised.
      "'=hyperlink(1)@evil.io membership developer  ",
      'alice@acme.io owner owner  ',
      'bob@acme.io delegation   carol@acme.io',
      'bob@acme.io membership administrator  ',
      'carol@acme.io membership developer  ',
      'dave@x.io grant resource-developer site/shop ',
      'erin@acme.io group billing  compta',
      'erin@acme.io group resource-developer site/shop compta',
    ]);
    expect(csv[1]).toMatch(/,UNMANAGED$/);
    expect(csv[2]).toMatch(/,roster-cli$/);
    const html = readFileSync(join(ws.dir, 'out', 'review-acme.html'), 'utf8');
    expect(html).toContain('<strong>1 unmanaged</strong>');
    expect(html).not.toContain('<script');
  });

  it('is shown by roster serve to a holder of a key for the organization only', async () => {
    const page = await fetch(`${server.base}/review/acme`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toContain('<h1>Access review of acme</h1>');
    expect((await fetch(`${server.base}/review/acme`)).status).toBe(401);
    const other = await fetch(`${server.base}/review/globex`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(other.status).toBe(403);
  });

  // Skipped only on a developer's machine without Chromium; CI installs it and fails without.
  it.runIf(existsSync(CHROMIUM) || Boolean(process.env.CI))(
    'renders in headless Chromium with the unmanaged line highlighted',
    async () => {
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu'],
      });
      try {
        const context = await browser.newContext({
          extraHTTPHeaders: { authorization: `Bearer ${key}` },
          viewport: { width: 1280, height: 520 },
        });
        const page = await context.newPage();
        const response = await page.goto(`${server.base}/review/acme`);
        expect(response?.status()).toBe(200);
        expect(await page.locator('tbody tr').count()).toBe(8);
        const flagged = page.locator('tr.unmanaged td').first();
        expect(await flagged.textContent()).toBe('=hyperlink(1)@evil.io');
        expect(
          await flagged.evaluate((cell) => {
            // Runs in the page: the DOM's getComputedStyle.
            const view = globalThis as unknown as {
              getComputedStyle(element: unknown): { backgroundColor: string };
            };
            return view.getComputedStyle(cell).backgroundColor;
          }),
        ).toBe('rgb(255, 248, 197)');
        // ROSTER_UPDATE_SCREENSHOTS=1 refreshes the one kept in docs/.
        const dir =
          process.env.ROSTER_UPDATE_SCREENSHOTS === '1'
            ? join(ROOT, 'docs')
            : join(ws.dir, 'shots');
        mkdirSync(dir, { recursive: true });
        await page.screenshot({ path: join(dir, 'review.png'), fullPage: true });
        expect(existsSync(join(dir, 'review.png'))).toBe(true);
      } finally {
        await browser.close();
      }
    },
  );
});
