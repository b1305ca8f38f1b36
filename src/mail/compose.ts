/**
 * The invitation e-mail: readable as text and as HTML, in the chosen language (core/messages.ts)
 * and under the organization's or the platform's brand (core/branding.ts). Pure.
 */
import { DEFAULT_ACCENT_COLOR, type Branding } from '../core/branding.js';
import { invitationTarget } from '../core/invitation-target.js';
import { escapeHtml, Html, Messages, type MessageKey, type Translator } from '../core/messages.js';

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

/** English, UTC: what an e-mail says when nothing else is chosen. */
export const ENGLISH_UTC: Translator = new Messages().for(['en'], 'UTC');

/** The role of a group invitation when the group gives no organization role. */
const GROUP_WITHOUT_ROLE = 'member';

/** The invitation's "what" (to join X as Y...) and the keys of its sentence, for mail or page. */
export function invitationPhrase(
  t: Translator,
  details: Pick<InvitationMailDetails, 'orgName' | 'orgDisplayName' | 'role' | 'resource'>,
  where: 'mail' | 'page',
  html: boolean,
): string | Html {
  const org = details.orgDisplayName ?? details.orgName;
  const target = invitationTarget(details.resource);
  const values = {
    org,
    role: details.role,
    ...(target.kind === 'group' && { group: target.group }),
    ...(target.kind === 'resource' && { resource: target.resource }),
  };
  const key: MessageKey =
    target.kind === 'organization'
      ? `${where}.what.organization`
      : target.kind === 'resource'
        ? `${where}.what.resource`
        : where === 'mail' && details.role !== GROUP_WITHOUT_ROLE
          ? 'mail.what.groupRole'
          : `${where}.what.group`;
  return html ? t.html(key, values, ['group', 'resource']) : t.text(key, values);
}

/** Composes the e-mail of an invitation. */
export function composeInvitation(
  details: InvitationMailDetails,
  t: Translator = ENGLISH_UTC,
  brand: Branding = {},
): ComposedMail {
  const org = details.orgDisplayName ?? details.orgName;
  const target = invitationTarget(details.resource);
  const subject =
    target.kind === 'resource'
      ? t.text('mail.subject.resource', { org, resource: target.resource })
      : t.text('mail.subject.organization', { org });
  const expires = t.date(details.expiresAt);
  const sentence = (html: boolean) => {
    const what = invitationPhrase(t, details, 'mail', html);
    const key = details.inviter === null ? 'mail.invited' : 'mail.invitedBy';
    const values = { what, ...(details.inviter !== null && { inviter: details.inviter }) };
    return html ? t.html(key, values).html : t.text(key, values);
  };
  const footer = (html: boolean) =>
    brand.productName === undefined
      ? []
      : [
          html
            ? t.html('mail.sentBy', { product: brand.productName }).html
            : t.text('mail.sentBy', { product: brand.productName }),
        ];
  const text = [
    t.text('mail.hello'),
    ``,
    sentence(false),
    ``,
    t.text('mail.open'),
    details.link,
    ``,
    t.text('mail.expires', { expires }),
    t.text('mail.ignore'),
    ``,
    t.text('mail.sentTo', { email: details.to }),
    ...footer(false),
  ].join('\n');
  const h = (key: MessageKey, values = {}) => t.html(key, values).html;
  const accent = brand.accentColor ?? DEFAULT_ACCENT_COLOR;
  const logo =
    brand.logoUrl === undefined
      ? ''
      : `<p><img src="${escapeHtml(brand.logoUrl)}" alt="${escapeHtml(brand.productName ?? org)}" style="max-height: 48px;"></p>\n`;
  const html = `<!doctype html>
<html lang="${escapeHtml(t.locale)}"><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head>
<body style="font-family: system-ui, sans-serif; line-height: 1.5; color: #1f2328; max-width: 560px; margin: 24px auto;">
${logo}<p>${h('mail.hello')}</p>
<p>${sentence(true)}</p>
<p><a href="${escapeHtml(details.link)}" style="display: inline-block; padding: 10px 18px; background: ${accent}; color: #fff; border-radius: 6px; text-decoration: none;">${h('mail.button')}</a></p>
<p>${h('mail.orOpen')} <a href="${escapeHtml(details.link)}">${escapeHtml(details.link)}</a></p>
<p>${h('mail.expires', { expires })}<br>
${h('mail.ignore')}</p>
<p style="color: #59636e; font-size: 13px;">${h('mail.sentTo', { email: details.to })}${footer(true)
    .map((line) => `<br>\n${line}`)
    .join('')}</p>
</body></html>
`;
  return { subject, text, html };
}
