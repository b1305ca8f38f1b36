/** The invitation pages: plain HTML, no script, a form that POSTs. Pure. */
import { invitationTarget } from '../core/invitation-target.js';
import { formatExpiry } from '../mail/compose.js';
import type { InvitationView } from '../store/accept-invitation.js';

const escape = (text: string) => text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escape(title)}</title>
<style>
body { font-family: system-ui, sans-serif; background: #f6f8fa; color: #1f2328; margin: 0; }
main { max-width: 480px; margin: 10vh auto; background: #fff; border: 1px solid #d1d9e0; border-radius: 12px; padding: 32px; }
h1 { font-size: 22px; margin-top: 0; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 6px 16px; }
dt { color: #59636e; }
button { font-size: 16px; padding: 10px 22px; border: 0; border-radius: 6px; background: #1f883d; color: #fff; cursor: pointer; }
.muted { color: #59636e; font-size: 14px; }
</style>
</head>
<body><main>
${body}
</main></body>
</html>
`;
}

/** The page a link opens: the invitation and an Accept button, or why it cannot be used. */
export function invitationPage(
  view: InvitationView,
  acceptPath: string,
): { status: number; html: string } {
  if (view.state !== 'pending') return unusablePage(view.state);
  const org = view.orgDisplayName ?? view.org;
  const target = invitationTarget(view.resource);
  return {
    status: 200,
    html: page(
      `Invitation to ${org}`,
      `<h1>Join ${escape(org)}</h1>
<p>${view.inviter === null ? 'You are invited' : `${escape(view.inviter)} invites you`} ${target.kind === 'organization' ? 'to join this organization' : target.kind === 'group' ? `to join this organization in the group <strong>${escape(target.group)}</strong>` : `to work on <strong>${escape(target.resource)}</strong>`}.</p>
<dl>
<dt>Organization</dt><dd>${escape(org)}</dd>
<dt>Role</dt><dd>${escape(view.role)}</dd>
${target.kind === 'resource' ? `<dt>Resource</dt><dd>${escape(target.resource)}</dd>\n` : target.kind === 'group' ? `<dt>Group</dt><dd>${escape(target.group)}</dd>\n` : ''}<dt>Invited</dt><dd>${escape(view.email)}</dd>
<dt>Expires</dt><dd>${escape(formatExpiry(view.expiresAt))}</dd>
</dl>
<form method="post" action="${escape(acceptPath)}">
<button type="submit">Accept invitation</button>
</form>
<p class="muted">Nothing happens until you press Accept. If you did not expect this invitation, close this page.</p>`,
    ),
  };
}

const REASONS = {
  accepted: [
    'This invitation was already accepted',
    'Each invitation link works once. If you accepted it, you already have access.',
  ],
  revoked: [
    'This invitation was withdrawn',
    'The organization withdrew it. Ask them for a new invitation if you expected access.',
  ],
  expired: ['This invitation has expired', 'Ask the organization to send a new invitation.'],
  unknown: [
    'This invitation link is not valid',
    'Check that the whole link was copied from the e-mail, or ask for a new invitation.',
  ],
} as const;

/** Why a link cannot be used. The same page whoever the invitation was for. */
export function unusablePage(state: keyof typeof REASONS): { status: number; html: string } {
  const [title, text] = REASONS[state];
  return {
    status: state === 'unknown' ? 404 : 410,
    html: page(title, `<h1>${escape(title)}</h1>\n<p>${escape(text)}</p>`),
  };
}

/** Shown after accepting when no application URL is configured: the organization's display name. */
export function welcomePage(org: string): string {
  return page(
    'Invitation accepted',
    `<h1>Welcome to ${escape(org)}</h1>\n<p>Your invitation is accepted. You can close this page and sign in.</p>`,
  );
}

/** Shown when the access database cannot answer: nothing happened, try again. */
export function unavailablePage(): string {
  return page(
    'Try again in a moment',
    `<h1>Try again in a moment</h1>\n<p>The service is busy or briefly unavailable. Nothing was changed: reload this page in a few seconds. Your invitation link still works.</p>`,
  );
}
