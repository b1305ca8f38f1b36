import { describe, expect, it } from 'vitest';
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
