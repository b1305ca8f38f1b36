/**
 * Generates the Pulumi package schema (`provider/schema.json`) from Roster's JSON Schemas, the
 * single source of truth; a test fails when the checked-in file differs.
 */
import { ROSTER_VERSION } from '../version.js';
import { RESOURCE_TYPES, specSchemaOf } from './resources.js';

type JsonSchema = Record<string, unknown>;
type PulumiProperty = Record<string, unknown>;

/** Names of the object types nested properties become. */
const TYPE_NAMES: Readonly<Record<string, string>> = {
  'Plan.seats': 'PlanSeats',
  'Plan.invitations': 'InvitationPolicy',
  'Organization.invitations': 'InvitationPolicy',
  'Organization.branding': 'Branding',
  'Organization.resources': 'OrganizationResource',
  'Group.grants': 'GroupGrant',
};

function toProperty(
  schema: JsonSchema,
  where: string,
  types: Record<string, unknown>,
): PulumiProperty {
  const description = [
    schema.description,
    Array.isArray(schema.enum) ? `One of: ${schema.enum.join(', ')}.` : undefined,
    typeof schema.pattern === 'string' && where.endsWith('.expires')
      ? 'A date (2027-06-30) or an RFC 3339 timestamp.'
      : undefined,
  ]
    .filter((d): d is string => typeof d === 'string')
    .join(' ');
  const withDescription = (p: PulumiProperty) => (description === '' ? p : { ...p, description });
  if (schema.type === 'array') {
    const items = schema.items as JsonSchema;
    const itemEnum = Array.isArray(items.enum) ? ` Each one of: ${items.enum.join(', ')}.` : '';
    const property = { type: 'array', items: toProperty(items, where, types) };
    return description === '' && itemEnum === ''
      ? property
      : { ...property, description: `${description}${itemEnum}`.trim() };
  }
  if (schema.type === 'object') {
    const name = TYPE_NAMES[where];
    if (name === undefined) throw new Error(`no Pulumi type name for ${where}`);
    types[`roster:index:${name}`] = {
      type: 'object',
      properties: Object.fromEntries(
        Object.entries(schema.properties as Record<string, JsonSchema>).map(([k, v]) => [
          k,
          toProperty(v, `${where}.${k}`, types),
        ]),
      ),
      ...(Array.isArray(schema.required) && { required: schema.required }),
    };
    return withDescription({ $ref: `#/types/roster:index:${name}` });
  }
  const property: PulumiProperty = {
    type: schema.type === 'integer' ? 'integer' : schema.type === 'boolean' ? 'boolean' : 'string',
  };
  if (schema.default !== undefined && !Array.isArray(schema.default)) {
    property.default = schema.default;
  }
  return withDescription(property);
}

/** The Pulumi package schema. */
export function pulumiSchema(): Record<string, unknown> {
  const types: Record<string, unknown> = {};
  const resources: Record<string, unknown> = {};
  for (const type of RESOURCE_TYPES) {
    const spec = specSchemaOf(type);
    const inputs: Record<string, PulumiProperty> = {};
    if (type.hasName) {
      inputs.name = {
        type: 'string',
        description: `The ${type.kind}'s name (its metadata.name in manifests).`,
      };
    }
    for (const [key, value] of Object.entries(spec.properties)) {
      inputs[key] = toProperty(value, `${type.kind}.${key}`, types);
    }
    const requiredInputs = [...(type.hasName ? ['name'] : []), ...spec.required];
    resources[type.token] = {
      description: type.description,
      inputProperties: inputs,
      requiredInputs,
      properties: { ...inputs, ...type.outputs },
      required: [...requiredInputs, ...Object.keys(type.outputs)],
    };
  }
  const config = {
    databaseUrl: {
      type: 'string',
      secret: true,
      description: 'PostgreSQL URL of the access database (or DATABASE_URL).',
    },
    smtpUrl: {
      type: 'string',
      secret: true,
      description:
        'SMTP server for invitations (or SMTP_URL); without it, .eml files under .roster/outbox/.',
    },
    publicUrl: {
      type: 'string',
      description:
        'Address of "roster serve", for the links in invitations (or ROSTER_PUBLIC_URL).',
    },
    mailFrom: { type: 'string', description: 'From: of invitation e-mails (or ROSTER_MAIL_FROM).' },
  };
  return {
    name: 'roster',
    displayName: 'Roster',
    version: ROSTER_VERSION,
    description:
      'Access as code: organizations, memberships, grants and contacts in a PostgreSQL access database, with e-mailed invitations.',
    keywords: ['pulumi', 'roster', 'access', 'category/utility', 'kind/native'],
    license: 'Apache-2.0',
    config: { variables: config },
    provider: { inputProperties: config },
    types,
    resources,
    language: {
      nodejs: {
        packageName: '@roster-dev/pulumi-roster',
        dependencies: { '@pulumi/pulumi': '^3.0.0' },
      },
    },
  };
}
