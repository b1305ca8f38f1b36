/**
 * What an invitation is to, from its resource column: the organization (a membership), one
 * resource (a grant, `type/name`), or a group (`group/NAME`, subject `group`). One reading for the
 * e-mail and the accept page.
 */
export type InvitationTarget =
  | { readonly kind: 'organization' }
  | { readonly kind: 'group'; readonly group: string }
  | { readonly kind: 'resource'; readonly resource: string };

/** Reads an invitation's resource (`null` for a membership). */
export function invitationTarget(resource: string | null): InvitationTarget {
  if (resource === null) return { kind: 'organization' };
  if (resource.startsWith('group/')) return { kind: 'group', group: resource.slice(6) };
  return { kind: 'resource', resource };
}
