/** The Pulumi program: `pulumi up` in this directory, with `roster:databaseUrl` set as a secret. */
import * as roster from '@roster-dev/pulumi-roster';
import { onboardTenant } from './tenant.js';

const plan = new roster.Plan('growth', {
  name: 'growth',
  seats: { paid: 25, free: 5 },
  maxResources: 10,
  features: ['members', 'resourceGrants'],
});

const tenant = onboardTenant(
  {
    name: 'northwind',
    displayName: 'Northwind Traders',
    owner: 'nadia@northwind.example',
    sites: ['shop', 'blog'],
    members: [
      { user: 'omar@northwind.example', role: 'administrator' },
      { user: 'li@northwind.example', role: 'developer' },
    ],
    billingContacts: ['ap@northwind.example'],
  },
  plan,
);

export const organization = tenant.org.name;
export const invitationStates = tenant.invitationStates;
