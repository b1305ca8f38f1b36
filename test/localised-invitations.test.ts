/**
 * Invitations in the organization's (or the person's) language and time zone, under its brand
 * or the platform's: applied with the real `roster`, mailed over real SMTP, the pages served
 * over real HTTP; a platform's catalogue adds a language, and a bad one stops the apply before
 * anything is written.
 */
import type { ParsedMail } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Messages } from '../src/core/messages.js';
import { createTestDatabase, tableCounts, type TestDatabase } from './support/database.js';
import { startTestServer, type TestServer } from './support/http-server.js';
import { linkOf, recipientOf, startSmtp, type CapturingSmtp } from './support/smtp.js';
import { createWorkspace, doc, TEAM_PLAN, type Workspace } from './support/workspace.js';

let db: TestDatabase;
let ws: Workspace;
let smtp: CapturingSmtp;
let server: TestServer;

const GERMAN = `apiVersion: roster.dev/v1alpha1
kind: Messages
locale: de
messages:
  mail.subject.organization: Einladung zu {org}
  mail.hello: Hallo,
  mail.invitedBy: '{inviter} lädt Sie ein {what}.'
  mail.what.organization: 'zu {org} als {role}'
  page.heading: '{org} beitreten'
`;

const MANIFESTS = [
  TEAM_PLAN,
  doc('Organization', 'atelier', {
    displayName: 'Atelier Nord',
    plan: 'team',
    owner: 'sophie@atelier.fr',
    locale: 'fr',
    timeZone: 'Europe/Paris',
    branding: {
      productName: 'Nordmail',
      senderName: 'Atelier Nord',
      logoUrl: 'https://cdn.nordmail.fr/logo.png',
      accentColor: '#AA3300',
    },
    members: [
      { user: 'chloe@atelier.fr', role: 'developer' },
      { user: 'tom@atelier.fr', role: 'developer' },
    ],
  }),
  doc('User', 'tom', { email: 'tom@atelier.fr', locale: 'en' }),
  doc('Organization', 'hafen', {
    plan: 'team',
    owner: 'anna@hafen.de',
    locale: 'de',
    members: [{ user: 'jonas@hafen.de', role: 'developer' }],
  }),
  doc('Organization', 'plain', {
    plan: 'team',
    owner: 'ann@plain.io',
    members: [{ user: 'bo@plain.io', role: 'developer' }],
  }),
].join('---\n');

const env = () => ({
  SMTP_URL: smtp.url,
  ROSTER_PUBLIC_URL: server.base,
  ROSTER_MAIL_FROM: 'Roster <noreply@platform.test>',
  ROSTER_MESSAGES: 'catalogues',
  ROSTER_PRODUCT_NAME: 'PlatformCo',
});
const mailTo = (address: string): ParsedMail => {
  const mail = smtp.messages.find((m) => recipientOf(m) === address);
  if (mail === undefined) throw new Error(`no mail to ${address}`);
  return mail;
};

beforeAll(async () => {
  db = await createTestDatabase();
  ws = createWorkspace(db.url);
  smtp = await startSmtp();
  server = await startTestServer(db.pool, {
    messages: new Messages(new Map([['de', { 'page.heading': '{org} beitreten' }]])),
    branding: { productName: 'PlatformCo' },
  });
  ws.write('catalogues/de.yaml', GERMAN);
  ws.write('access.yaml', MANIFESTS);
});
afterAll(async () => {
  await server.close();
  await smtp.close();
  ws.dispose();
  await db.drop();
});

describe('localised, branded invitations', () => {
  it('stops before applying anything when the platform catalogue is wrong, at its line', async () => {
    ws.write(
      'bad/de.yaml',
      `apiVersion: roster.dev/v1alpha1
kind: Messages
locale: de
messages:
  mail.helo: Hallo,
  mail.expires: 'Gültig bis {date}.'
`,
    );
    const run = await ws.rosterAsync(['apply', '-f', 'access.yaml', '--yes'], {
      ...env(),
      ROSTER_MESSAGES: 'bad',
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('ROSTER_MESSAGES: the message catalogues have errors:');
    expect(run.stderr).toMatch(
      /bad\/de\.yaml:5:3: "mail\.helo" is not a message Roster writes\. Did you mean "mail\.hello"\?/,
    );
    expect(run.stderr).toMatch(
      /bad\/de\.yaml:6:17: \{date\} is not a value of "mail\.expires"; it may use \{expires\}/,
    );
    expect((await tableCounts(db.pool)).organizations ?? 0).toBe(0);
    const badZone = await ws.rosterAsync(['apply', '-f', 'access.yaml', '--yes'], {
      ...env(),
      ROSTER_TIME_ZONE: 'Mars/Olympus',
    });
    expect(badZone.stderr).toContain(
      'roster: ROSTER_TIME_ZONE must be an IANA time zone such as Europe/Paris, not "Mars/Olympus"',
    );
  });

  it('refuses a time zone that does not exist, at its place', () => {
    ws.write(
      'zone/org.yaml',
      [
        TEAM_PLAN,
        doc('Organization', 'z', { plan: 'team', owner: 'a@z.io', timeZone: 'Europe/Pariss' }),
      ].join('---\n'),
    );
    const run = ws.roster(['validate', '-f', 'zone']);
    expect(run.status).toBe(1);
    expect(run.stdout + run.stderr).toMatch(
      /zone\/org\.yaml:\d+:\d+: error: "Europe\/Pariss" is not a time zone: use an IANA name/,
    );
  });

  it('mails each person in their language, dated in the organization’s time zone, under its brand', async () => {
    const run = await ws.rosterAsync(['apply', '-f', 'access.yaml', '--yes'], env());
    expect(run.status, run.stderr).toBe(0);
    expect(smtp.messages).toHaveLength(7);

    const chloe = mailTo('chloe@atelier.fr');
    expect(chloe.subject).toBe('Invitation à rejoindre Atelier Nord');
    expect(chloe.from?.value[0]).toEqual({
      name: 'Atelier Nord',
      address: 'noreply@platform.test',
    });
    expect(chloe.text).toContain(
      'sophie@atelier.fr vous invite à rejoindre Atelier Nord en tant que developer.',
    );
    // Paris time: UTC+1 in winter, UTC+2 in summer.
    expect(chloe.text).toMatch(/expire le \d{1,2} \S+ \d{4} à \d\d:\d\d UTC\+[12]\./);
    expect(chloe.text).toContain('Envoyé par Nordmail.');
    expect(chloe.html).toContain('<html lang="fr">');
    expect(chloe.html).toContain('<img src="https://cdn.nordmail.fr/logo.png" alt="Nordmail"');
    expect(chloe.html).toContain('background: #aa3300');

    // A person's own language comes first; the brand is still the organization's.
    const tom = mailTo('tom@atelier.fr');
    expect(tom.subject).toBe('Invitation to join Atelier Nord');
    expect(tom.text).toMatch(/expires on \d{1,2} \w+ \d{4} at \d\d:\d\d (CET|CEST)\./);
    expect(tom.from?.value[0]?.name).toBe('Atelier Nord');

    // A language from the platform's catalogue; the keys it leaves out are in English.
    const jonas = mailTo('jonas@hafen.de');
    expect(jonas.subject).toBe('Einladung zu hafen');
    expect(jonas.text).toContain('Hallo,');
    expect(jonas.text).toContain('anna@hafen.de lädt Sie ein zu hafen als developer.');
    expect(jonas.text).toContain('Open this link to accept the invitation:');
    // The platform's brand where the organization has none; its From: name unchanged.
    expect(jonas.text).toContain('Sent by PlatformCo.');
    expect(jonas.from?.value[0]).toEqual({ name: 'Roster', address: 'noreply@platform.test' });

    const bo = mailTo('bo@plain.io');
    expect(bo.subject).toBe('Invitation to join plain');
    expect(bo.text).toMatch(/expires on \d{1,2} \w+ \d{4} at \d\d:\d\d UTC\./);
  });

  it('shows the accept page in the invitation’s language and brand, the logo allowed by the CSP', async () => {
    const link = new URL(linkOf(mailTo('chloe@atelier.fr')));
    const page = await fetch(`${server.base}${link.pathname}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toMatch(
      /img-src https:\/\/cdn\.nordmail\.fr$/,
    );
    const html = await page.text();
    expect(html).toContain('<html lang="fr">');
    expect(html).toContain('<h1>Rejoindre Atelier Nord</h1>');
    expect(html).toContain('<button type="submit">Accepter l&#39;invitation</button>');
    expect(html).toContain('<img class="logo" src="https://cdn.nordmail.fr/logo.png"');
    expect(html).toMatch(/<dt>Expire le<\/dt><dd>\d{1,2} \S+ \d{4} à \d\d:\d\d UTC\+[12]<\/dd>/);

    const accepted = await fetch(`${server.base}${link.pathname}/accept`, {
      method: 'POST',
      redirect: 'manual',
    });
    expect(accepted.status).toBe(303);
    const welcome = await (await fetch(`${server.base}${link.pathname}/welcome`)).text();
    expect(welcome).toContain('<h1>Bienvenue dans Atelier Nord</h1>');
    // Used twice: the page says so in French too.
    const again = await fetch(`${server.base}${link.pathname}/accept`, { method: 'POST' });
    expect(again.status).toBe(410);
    expect(await again.text()).toContain('Cette invitation a déjà été acceptée');

    const german = new URL(linkOf(mailTo('jonas@hafen.de')));
    const hafen = await (await fetch(`${server.base}${german.pathname}`)).text();
    expect(hafen).toContain('<h1>hafen beitreten</h1>');
    expect(hafen).toContain('PlatformCo');
  });

  it('answers a link it does not know in the reader’s language, else the platform’s', async () => {
    const path = `/invitations/${'x'.repeat(43)}`;
    const french = await fetch(`${server.base}${path}`, {
      headers: { 'accept-language': 'fr-CH, fr;q=0.9, en;q=0.8' },
    });
    expect(french.status).toBe(404);
    expect(await french.text()).toContain('Ce lien d&#39;invitation n&#39;est pas valide');
    const plain = await fetch(`${server.base}${path}`);
    expect(await plain.text()).toContain('This invitation link is not valid');
  });

  it('exports the language, time zone and brand as declared', async () => {
    const run = await ws.rosterAsync(['export', '--org', 'atelier']);
    expect(run.stdout).toContain(
      [
        '  locale: fr',
        '  timeZone: Europe/Paris',
        '  branding:',
        '    productName: Nordmail',
        '    senderName: Atelier Nord',
        '    logoUrl: https://cdn.nordmail.fr/logo.png',
        '    accentColor: "#aa3300"',
      ].join('\n'),
    );
    const users = await ws.rosterAsync(['export']);
    expect(users.stdout).toMatch(/email: tom@atelier\.fr\n\s+locale: en/);
  });
});
