/**
 * The acceptance path, as a person would walk it, on the embedded defaults: apply the
 * examples (embedded PostgreSQL, invitations as .eml files), open a link in a real headless
 * Chromium, press Accept; then the plan and the access API show the member as active.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/store/scratch-postgres.js';
import { ROOT, runRosterAsync } from './support/run-roster.js';
import { linkOf, recipientOf } from './support/smtp.js';

const CHROMIUM = '/usr/bin/chromium';
const dir = mkdtempSync(join(tmpdir(), 'roster-browser-'));
chmodSync(dir, 0o755);
let serve: ChildProcess | undefined;
let browser: Browser | undefined;

afterAll(async () => {
  await browser?.close();
  if (serve !== undefined && serve.exitCode === null) {
    const exited = new Promise((resolve) => serve?.on('exit', resolve));
    serve.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

// Skipped only on a developer's machine without Chromium; CI installs it, and there a missing
// browser fails the test instead of skipping it.
describe.runIf(existsSync(CHROMIUM) || Boolean(process.env.CI))('accepting in a browser', () => {
  it('turns an invited member active, as the plan and the API show', async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`no Chromium at ${CHROMIUM}: .ci/run installs it (apt-get install chromium)`);
    }
    const port = await freePort();
    const env = { DATABASE_URL: '', ROSTER_PUBLIC_URL: `http://127.0.0.1:${port}` };
    const roster = (args: string[]) => runRosterAsync(args, { cwd: dir, env });
    cpSync(join(ROOT, 'examples'), join(dir, 'examples'), { recursive: true });

    const apply = await roster(['apply', '-f', 'examples/', '--yes']);
    expect(apply.status).toBe(0);
    const outbox = join(dir, '.roster', 'outbox');
    const files = readdirSync(outbox).filter((f) => f.endsWith('.eml'));
    expect(files).toHaveLength(29);

    const mails = await Promise.all(
      files.map(async (f) => simpleParser(readFileSync(join(outbox, f)))),
    );
    const index = mails.findIndex((m) => recipientOf(m) === 'priya@brightlane.app');
    const mail = mails[index];
    if (mail === undefined) throw new Error('no invitation for priya');
    // The link can be copied from the file as it is: not cut by quoted-printable line wrapping.
    expect(readFileSync(join(outbox, files[index] ?? '')).toString()).toContain(linkOf(mail));

    serve = spawn(
      process.execPath,
      [`${ROOT}bin/roster.js`, 'serve', '--port', String(port), '--delivery-interval', '0'],
      {
        cwd: dir,
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    await new Promise<void>((resolve, reject) => {
      serve?.stdout?.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('Roster is serving')) resolve();
      });
      serve?.on('exit', (code) => reject(new Error(`serve exited with ${code}`)));
    });

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-quic',
        '--no-first-run',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const page = await browser.newPage();
    await page.goto(linkOf(mail));
    await expect(page.locator('h1').textContent()).resolves.toBe('Join Brightlane Analytics');
    await expect(page.locator('dd').nth(1).textContent()).resolves.toBe('developer');
    await page.screenshot({ path: join(dir, 'invitation.png') });
    await Promise.all([
      page.waitForURL(/\/invitations\/[A-Za-z0-9_-]{43}\/welcome$/),
      page.getByRole('button', { name: 'Accept invitation' }).click(),
    ]);
    await expect(page.locator('h1').textContent()).resolves.toBe('Welcome to Brightlane Analytics');

    const plan = await roster(['plan', '-f', 'examples/']);
    expect(plan.stdout).toBe(
      'No changes. The access database matches the input.\n23 members and 4 grant holders have not accepted their invitation yet (roster invitations list).\n',
    );
    const list = JSON.parse(
      (await roster(['invitations', 'list', '--user', 'priya@brightlane.app', '--format', 'json']))
        .stdout,
    );
    expect(list.invitations).toMatchObject([{ org: 'brightlane', status: 'accepted' }]);

    const key = (
      await roster(['api-keys', 'create', 'browser-test', '--org', 'brightlane'])
    ).stdout.trim();
    const response = await fetch(
      `http://127.0.0.1:${port}/api/v1/users/priya@brightlane.app/organizations`,
      {
        headers: { authorization: `Bearer ${key}` },
      },
    );
    expect(await response.json()).toEqual({
      organizations: [
        {
          org: 'brightlane',
          displayName: 'Brightlane Analytics',
          via: 'membership',
          role: 'developer',
          resources: [],
          groups: [],
        },
      ],
    });

    // Pressing Accept again, or going back and re-submitting, does not work twice.
    await page.goBack();
    await page.reload();
    await expect(page.locator('h1').textContent()).resolves.toBe(
      'This invitation was already accepted',
    );

    // Atelier Nord declares French, Paris time and its brand (examples/email-provider): its
    // accountant's page is in French, and accepting it works the same way.
    const compta = mails.find((m) => recipientOf(m) === 'compta@atelier-nord.eu');
    if (compta === undefined) throw new Error('no invitation for compta@atelier-nord.eu');
    expect(compta.subject).toBe('Invitation à rejoindre Atelier Nord SARL');
    const french = await browser.newPage();
    await french.goto(linkOf(compta));
    await expect(french.locator('html').getAttribute('lang')).resolves.toBe('fr');
    await expect(french.locator('h1').textContent()).resolves.toBe('Rejoindre Atelier Nord SARL');
    await expect(french.locator('dt').allTextContents()).resolves.toEqual([
      'Organisation',
      'Rôle',
      'Invité(e)',
      'Expire le',
    ]);
    await expect(french.locator('dd').nth(3).textContent()).resolves.toMatch(
      /^\d{1,2} \S+ \d{4} à \d\d:\d\d UTC\+[12]$/,
    );
    // The brand's accent colour on the button, and its product name on the page.
    await expect(
      french
        .locator('button')
        .evaluate((b) => b.ownerDocument.defaultView?.getComputedStyle(b).backgroundColor),
    ).resolves.toBe('rgb(11, 110, 79)');
    await expect(french.locator('.product').textContent()).resolves.toBe('Nordmail');
    await french.screenshot({ path: join(dir, 'invitation-fr.png') });
    await Promise.all([
      french.waitForURL(/\/invitations\/[A-Za-z0-9_-]{43}\/welcome$/),
      french.getByRole('button', { name: "Accepter l'invitation" }).click(),
    ]);
    await expect(french.locator('h1').textContent()).resolves.toBe(
      'Bienvenue dans Atelier Nord SARL',
    );
  });
});
