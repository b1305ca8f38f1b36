import { describe, expect, it } from 'vitest';
import { fromWithSender } from '../core/branding.js';
import { Messages } from '../core/messages.js';
import { composeInvitation } from './compose.js';

describe('composeInvitation', () => {
  const details = {
    to: 'bob@dev.io',
    orgName: 'acme',
    orgDisplayName: 'Acme <Agency> & Co',
    role: 'developer',
    resource: null,
    inviter: 'alice@acme.io',
    link: 'https://access.example.com/invitations/abc',
    expiresAt: new Date('2026-11-29T14:05:00Z'),
  };

  it('says who invites, to what, with which role, the link and the expiry', () => {
    const mail = composeInvitation(details);
    expect(mail.subject).toBe('Invitation to join Acme <Agency> & Co');
    expect(mail.text).toContain(
      'alice@acme.io invites you to join Acme <Agency> & Co as developer.',
    );
    expect(mail.text).toContain('https://access.example.com/invitations/abc');
    expect(mail.text).toContain('expires on 29 November 2026 at 14:05 UTC');
  });

  it('escapes names in HTML', () => {
    const mail = composeInvitation(details);
    expect(mail.html).toContain('Acme &#60;Agency&#62; &#38; Co');
    expect(mail.html).not.toContain('<Agency>');
  });

  it('names the resource of a grant', () => {
    const mail = composeInvitation({ ...details, resource: 'site/shop', inviter: null });
    expect(mail.subject).toBe('Invitation to site/shop of Acme <Agency> & Co');
    expect(mail.text).toContain(
      'You are invited to work on site/shop of Acme <Agency> & Co as developer.',
    );
  });

  it('names the group of a group invitation, and its role when it gives one', () => {
    const billing = composeInvitation({ ...details, resource: 'group/compta', role: 'billing' });
    expect(billing.subject).toBe('Invitation to join Acme <Agency> & Co');
    expect(billing.text).toContain(
      'alice@acme.io invites you to join Acme <Agency> & Co in the group compta as billing.',
    );
    const plain = composeInvitation({ ...details, resource: 'group/support', role: 'member' });
    expect(plain.text).toContain('to join Acme <Agency> & Co in the group support.');
  });
});

describe('composeInvitation in another language and under a brand', () => {
  const details = {
    to: 'chloe@atelier-nord.fr',
    orgName: 'atelier-nord',
    orgDisplayName: 'Atelier Nord',
    role: 'billing',
    resource: 'group/compta',
    inviter: 'sophie@atelier-nord.fr',
    link: 'https://acces.example.fr/invitations/abc',
    expiresAt: new Date('2026-11-29T14:05:00Z'),
  };
  const french = new Messages().for(['fr'], 'Europe/Paris');

  it('writes the text and HTML in French, with the date in the organization’s time zone', () => {
    const mail = composeInvitation(details, french);
    expect(mail.subject).toBe('Invitation à rejoindre Atelier Nord');
    expect(mail.text).toContain(
      'sophie@atelier-nord.fr vous invite à rejoindre Atelier Nord dans le groupe compta en tant que billing.',
    );
    expect(mail.text).toContain(
      "Le lien ne sert qu'une fois et expire le 29 novembre 2026 à 15:05 UTC+1.",
    );
    expect(mail.html).toContain('<html lang="fr">');
    expect(mail.html).toContain('dans le groupe <strong>compta</strong>');
    expect(mail.html).toContain('Voir l&#39;invitation');
  });

  it('shows the brand: logo, accent colour and product name; escapes them', () => {
    const mail = composeInvitation(details, french, {
      productName: 'Nord & Co <Mail>',
      logoUrl: 'https://cdn.example.fr/logo.png',
      accentColor: '#aa3300',
    });
    expect(mail.html).toContain(
      '<img src="https://cdn.example.fr/logo.png" alt="Nord &#38; Co &#60;Mail&#62;"',
    );
    expect(mail.html).toContain('background: #aa3300');
    expect(mail.text).toContain('Envoyé par Nord & Co <Mail>.');
    expect(mail.html).toContain('Envoyé par Nord &#38; Co &#60;Mail&#62;.');
    expect(mail.html).not.toContain('<Mail>');
  });

  it('writes the sender name of a brand in the From: header', () => {
    expect(fromWithSender('Roster <noreply@example.fr>', 'Atelier Nord')).toBe(
      '"Atelier Nord" <noreply@example.fr>',
    );
    expect(fromWithSender('noreply@example.fr', 'Atelier Nord')).toBe(
      '"Atelier Nord" <noreply@example.fr>',
    );
    expect(fromWithSender('Roster <noreply@example.fr>', undefined)).toBe(
      'Roster <noreply@example.fr>',
    );
  });
});
