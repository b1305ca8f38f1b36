/** The invitation e-mail: readable as text and as HTML. Pure. */
import { invitationTarget } from '../core/invitation-target.js';

/** What an invitation e-mail says. */
export interface InvitationMailDetails {
  readonly to: string;
  readonly orgName: string;
  readonly orgDisplayName: string | null;
  readonly role: string;
  /** `site/shop` for a grant on one resource; `group/NAME` for a group. */
  readonly resource: string | null;
  /** Who invites: the organization's owner. */
  readonly inviter: string | null;
  readonly link: string;
  readonly expiresAt: Date;
}

/** A composed e-mail. */
export interface ComposedMail {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** Made once: `toLocaleDateString` builds a formatter on every call (a tenth of a delivery's CPU). */
const EXPIRY_DAY = new Intl.DateTimeFormat('en-GB', {
  day: 'numeric',
  month: 'long',
  year: 'numeric',
  timeZone: 'UTC',
});

/** `30 November 2026 at 14:05 UTC`. */
export function formatExpiry(date: Date): string {
  const day = EXPIRY_DAY.format(date);
  const time = date.toISOString().slice(11, 16);
  return `${day} at ${time} UTC`;
}

/** The role of a group invitation when the group gives no organization role. */
const GROUP_WITHOUT_ROLE = 'member';

/** Composes the e-mail of an invitation. */
export function composeInvitation(details: InvitationMailDetails): ComposedMail {
  const org = details.orgDisplayName ?? details.orgName;
  const target = invitationTarget(details.resource);
  const what =
    target.kind === 'organization'
      ? `to join ${org} as ${details.role}`
      : target.kind === 'group'
        ? `to join ${org} in the group ${target.group}${details.role === GROUP_WITHOUT_ROLE ? '' : ` as ${details.role}`}`
        : `to work on ${target.resource} of ${org} as ${details.role}`;
  const who = details.inviter === null ? 'You are invited' : `${details.inviter} invites you`;
  const expires = formatExpiry(details.expiresAt);
  const subject =
    target.kind === 'resource'
      ? `Invitation to ${target.resource} of ${org}`
      : `Invitation to join ${org}`;
  const text = [
    `Hello,`,
    ``,
    `${who} ${what}.`,
    ``,
    `Open this link to accept the invitation:`,
    details.link,
    ``,
    `The link works once and expires on ${expires}.`,
    `If you did not expect this invitation, ignore this e-mail: nothing happens until you accept.`,
    ``,
    `This invitation was sent to ${details.to}.`,
  ].join('\n');
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head>
<body style="font-family: system-ui, sans-serif; line-height: 1.5; color: #1f2328; max-width: 560px; margin: 24px auto;">
<p>Hello,</p>
<p>${escapeHtml(who)} ${escapeHtml(what)}.</p>
<p><a href="${escapeHtml(details.link)}" style="display: inline-block; padding: 10px 18px; background: #1f6feb; color: #fff; border-radius: 6px; text-decoration: none;">Review the invitation</a></p>
<p>Or open this link: <a href="${escapeHtml(details.link)}">${escapeHtml(details.link)}</a></p>
<p>The link works once and expires on ${escapeHtml(expires)}.<br>
If you did not expect this invitation, ignore this e-mail: nothing happens until you accept.</p>
<p style="color: #59636e; font-size: 13px;">This invitation was sent to ${escapeHtml(details.to)}.</p>
</body></html>
`;
  return { subject, text, html };
}
