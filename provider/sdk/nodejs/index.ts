/**
 * The Roster SDK for Pulumi programs: `new roster.Membership("bob", { org, user, role })`.
 * Input types are derived from Roster's JSON Schemas, like everything else; outputs add what
 * Roster computes (a member's status and invitation state).
 */
import * as pulumi from '@pulumi/pulumi';
import type { FromSchema, JSONSchema } from 'json-schema-to-ts';
import type { contactSpecSchema } from '../../../src/core/schema/contact.js';
import type { grantSpecSchema } from '../../../src/core/schema/grant.js';
import type { membershipSpecSchema } from '../../../src/core/schema/membership.js';
import type { organizationSpecSchema } from '../../../src/core/schema/organization.js';
import type { planSpecSchema } from '../../../src/core/schema/plan.js';
import type { roleSpecSchema } from '../../../src/core/schema/role.js';

type Spec<S extends JSONSchema> = FromSchema<S, { keepDefaultedPropertiesOptional: true }>;
/** Every property of T as a Pulumi input. */
type Inputs<T> = { [K in keyof T]: pulumi.Input<T[K]> };
/** Every property of T as a Pulumi output. */
type Outputs<T> = { readonly [K in keyof T]-?: pulumi.Output<T[K]> };

/** Inputs of a Plan. */
export type PlanArgs = Inputs<{ name: string } & Spec<typeof planSpecSchema>>;
/** Inputs of a Role. */
export type RoleArgs = Inputs<{ name: string } & Spec<typeof roleSpecSchema>>;
/** Inputs of an Organization (members and contacts are their own resources here). */
export type OrganizationArgs = Inputs<
  { name: string } & Omit<Spec<typeof organizationSpecSchema>, 'members' | 'contacts'>
>;
/** Inputs of a Membership. */
export type MembershipArgs = Inputs<Spec<typeof membershipSpecSchema>>;
/** Inputs of a Grant. */
export type GrantArgs = Inputs<Spec<typeof grantSpecSchema>>;
/** Inputs of a Contact. */
export type ContactArgs = Inputs<Spec<typeof contactSpecSchema>>;

/** What Roster tells about a member or a grantee. */
export interface InvitationOutputs {
  /** `invited`, `active` or `suspended`. */
  readonly status: pulumi.Output<string>;
  /** `Pending`, `Accepted`, `Expired` or `Revoked`; empty when no invitation was needed. */
  readonly invitationState: pulumi.Output<string>;
}

/** Declares a resource class of the provider. */
function resource<Args extends object, Extra extends object>(
  token: string,
  outputs: readonly string[],
) {
  type Instance = pulumi.CustomResource &
    Outputs<{ [K in keyof Args]: pulumi.Unwrap<Args[K]> }> &
    Extra;
  return class extends pulumi.CustomResource {
    constructor(name: string, args: Args, opts?: pulumi.CustomResourceOptions) {
      const props: pulumi.Inputs = { ...(args as pulumi.Inputs) };
      for (const output of outputs) props[output] = undefined;
      super(token, name, props, opts);
    }

    /** Reads an existing resource's state by its id (as `pulumi import` and refresh do). */
    static get(name: string, id: pulumi.Input<pulumi.ID>, opts?: pulumi.CustomResourceOptions) {
      return new this(name, {} as Args, { ...opts, id });
    }
  } as unknown as {
    new (name: string, args: Args, opts?: pulumi.CustomResourceOptions): Instance;
    get(name: string, id: pulumi.Input<pulumi.ID>, opts?: pulumi.CustomResourceOptions): Instance;
  };
}

/** A plan: seat limits, a resource limit and feature flags. */
export const Plan = resource<PlanArgs, object>('roster:index:Plan', []);
/** A plan resource. */
export type Plan = InstanceType<typeof Plan>;
/** A custom role. */
export const Role = resource<RoleArgs, object>('roster:index:Role', []);
/** A role resource. */
export type Role = InstanceType<typeof Role>;
/** An organization with its plan, its one owner and its resources. */
export const Organization = resource<OrganizationArgs, object>('roster:index:Organization', []);
/** An organization resource. */
export type Organization = InstanceType<typeof Organization>;
/** A user in an organization with a role; Roster e-mails an invitation when needed. */
export const Membership = resource<
  MembershipArgs,
  InvitationOutputs & { readonly joinedAt: pulumi.Output<string> }
>('roster:index:Membership', ['status', 'invitationState', 'joinedAt']);
/** A membership resource. */
export type Membership = InstanceType<typeof Membership>;
/** A user with a role on one resource of an organization. */
export const Grant = resource<GrantArgs, InvitationOutputs>('roster:index:Grant', [
  'status',
  'invitationState',
]);
/** A grant resource. */
export type Grant = InstanceType<typeof Grant>;
/** Someone who receives mail of some categories. */
export const Contact = resource<ContactArgs, object>('roster:index:Contact', []);
/** A contact resource. */
export type Contact = InstanceType<typeof Contact>;

/** Settings of the Roster provider; `databaseUrl` and `smtpUrl` are kept secret. */
export interface ProviderArgs {
  readonly databaseUrl?: pulumi.Input<string>;
  readonly smtpUrl?: pulumi.Input<string>;
  readonly publicUrl?: pulumi.Input<string>;
  readonly mailFrom?: pulumi.Input<string>;
}

/** An explicit Roster provider (otherwise the default one reads `roster:*` config). */
export class Provider extends pulumi.ProviderResource {
  constructor(name: string, args: ProviderArgs = {}, opts?: pulumi.ResourceOptions) {
    super(
      'roster',
      name,
      {
        ...args,
        databaseUrl: args.databaseUrl === undefined ? undefined : pulumi.secret(args.databaseUrl),
        smtpUrl: args.smtpUrl === undefined ? undefined : pulumi.secret(args.smtpUrl),
      },
      opts,
    );
  }
}
