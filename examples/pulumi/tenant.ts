/**
 * Onboarding one tenant with Pulumi: its organization, owner, members and billing contacts, on
 * a plan. The SDK is the packed npm package (npm run package at the repository root).
 */
import * as pulumi from '@pulumi/pulumi';
import * as roster from '@roster-dev/pulumi-roster';

/** What onboarding needs to know about a tenant. */
export interface Tenant {
  readonly name: string;
  readonly displayName: string;
  readonly owner: string;
  readonly sites: readonly string[];
  readonly members: readonly { user: string; role: string }[];
  readonly billingContacts: readonly string[];
}

/** Declares the tenant; returns its organization and the invitation state of each member. */
export function onboardTenant(
  tenant: Tenant,
  plan: roster.Plan,
  opts: pulumi.CustomResourceOptions = {},
) {
  const org = new roster.Organization(
    tenant.name,
    {
      name: tenant.name,
      displayName: tenant.displayName,
      plan: plan.name,
      owner: tenant.owner,
      resources: tenant.sites.map((site) => ({ type: 'site', name: site })),
    },
    opts,
  );
  const memberships = tenant.members.map(
    (m) =>
      new roster.Membership(
        `${tenant.name}-${m.user}`,
        { org: org.name, user: m.user, role: m.role },
        { ...opts, parent: org },
      ),
  );
  for (const email of tenant.billingContacts) {
    new roster.Contact(
      `${tenant.name}-${email}`,
      { org: org.name, email, categories: ['billing'] },
      { ...opts, parent: org },
    );
  }
  const invitationStates = pulumi
    .all(memberships.map((m) => pulumi.all([m.user, m.invitationState])))
    .apply((pairs) => Object.fromEntries(pairs));
  return { org, memberships, invitationStates };
}
