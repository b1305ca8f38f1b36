/**
 * The invitation pages: plain HTML, no script, a form that POSTs; in the chosen language and
 * under the organization's or the platform's brand. Pure.
 */
import { DEFAULT_ACCENT_COLOR, type Branding } from '../core/branding.js';
import { invitationTarget } from '../core/invitation-target.js';
import { escapeHtml, type MessageKey, type Translator } from '../core/messages.js';
import { invitationPhrase } from '../mail/compose.js';
import type { InvitationView } from '../store/accept-invitation.js';

/** A page: its status and HTML. */
export interface Page {
  readonly status: number;
  readonly html: string;
}

function page(t: Translator, brand: Branding, title: string, body: string): string {
  const accent = brand.accentColor ?? DEFAULT_ACCENT_COLOR;
  const logo =
    brand.logoUrl === undefined
      ? ''
      : `<img class="logo" src="${escapeHtml(brand.logoUrl)}" alt="${escapeHtml(brand.productName ?? '')}">\n`;
  const product =
    brand.productName === undefined
      ? ''
      : `<p class="muted product">${escapeHtml(brand.productName)}</p>\n`;
  return `<!doctype html>
<html lang="${escapeHtml(t.locale)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)}</title>
<style>
body { font-family: system-ui, sans-serif; background: #f6f8fa; color: #1f2328; margin: 0; }
main { max-width: 480px; margin: 10vh auto; background: #fff; border: 1px solid #d1d9e0; border-top: 4px solid ${accent}; border-radius: 12px; padding: 32px; }
h1 { font-size: 22px; margin-top: 0; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 6px 16px; }
dt { color: #59636e; }
button { font-size: 16px; padding: 10px 22px; border: 0; border-radius: 6px; background: ${accent}; color: #fff; cursor: pointer; }
.muted { color: #59636e; font-size: 14px; }
.logo { max-height: 48px; margin-bottom: 16px; }
</style>
</head>
<body><main>
${logo}${body}
${product}</main></body>
</html>
`;
}

/** The page a link opens: the invitation and an Accept button, or why it cannot be used. */
export function invitationPage(
  view: InvitationView,
  acceptPath: string,
  t: Translator,
  brand: Branding,
): Page {
  if (view.state !== 'pending') return unusablePage(view.state, t, brand);
  const org = view.orgDisplayName ?? view.org;
  const target = invitationTarget(view.resource);
  const what = invitationPhrase(
    t,
    {
      orgName: view.org,
      orgDisplayName: view.orgDisplayName,
      role: view.role,
      resource: view.resource,
    },
    'page',
    true,
  );
  const sentence =
    view.inviter === null
      ? t.html('page.invited', { what })
      : t.html('page.invitedBy', { what, inviter: view.inviter });
  const row = (key: MessageKey, value: string) =>
    `<dt>${t.html(key).html}</dt><dd>${escapeHtml(value)}</dd>\n`;
  return {
    status: 200,
    html: page(
      t,
      brand,
      t.text('page.title', { org }),
      `<h1>${t.html('page.heading', { org }).html}</h1>
<p>${sentence.html}</p>
<dl>
${row('page.organization', org)}${row('page.role', view.role)}${target.kind === 'resource' ? row('page.resource', target.resource) : target.kind === 'group' ? row('page.group', target.group) : ''}${row('page.email', view.email)}${row('page.expires', t.date(view.expiresAt))}</dl>
<form method="post" action="${escapeHtml(acceptPath)}">
<button type="submit">${t.html('page.accept').html}</button>
</form>
<p class="muted">${t.html('page.nothingHappens').html}</p>`,
    ),
  };
}

/** Why a link cannot be used. The same page whoever the invitation was for. */
export function unusablePage(
  state: 'accepted' | 'revoked' | 'expired' | 'unknown',
  t: Translator,
  brand: Branding,
): Page {
  const title = t.text(`page.${state}.title`);
  return {
    status: state === 'unknown' ? 404 : 410,
    html: page(
      t,
      brand,
      title,
      `<h1>${escapeHtml(title)}</h1>\n<p>${t.html(`page.${state}.text`).html}</p>`,
    ),
  };
}

/** Shown after accepting when no application URL is configured: the organization's display name. */
export function welcomePage(org: string, t: Translator, brand: Branding): string {
  return page(
    t,
    brand,
    t.text('page.welcome.title'),
    `<h1>${t.html('page.welcome.heading', { org }).html}</h1>\n<p>${t.html('page.welcome.text').html}</p>`,
  );
}

/** Shown when the access database cannot answer: nothing happened, try again. */
export function unavailablePage(t: Translator, brand: Branding): string {
  const title = t.text('page.unavailable.title');
  return page(
    t,
    brand,
    title,
    `<h1>${escapeHtml(title)}</h1>\n<p>${t.html('page.unavailable.text').html}</p>`,
  );
}
