/**
 * Generates one `apiextensions.k8s.io/v1` CustomResourceDefinition per kind from the kinds'
 * JSON Schemas, the single source of truth. Pure: `scripts/generate-crds.ts` writes the result to
 * `crds/`, and a test fails when the checked-in files differ from it.
 */
import { stringify } from 'yaml';
import {
  API_GROUP,
  API_VERSION_NAME,
  KINDS,
  type Kind,
  type KindDefinition,
} from '../core/schema/index.js';

/** A column of `kubectl get`. */
interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'date' | 'boolean';
  jsonPath: string;
  description?: string;
  priority?: number;
}

const READY: PrinterColumn = {
  name: 'Ready',
  type: 'string',
  jsonPath: '.status.conditions[?(@.type=="Ready")].status',
};
const AGE: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

/** What `kubectl get` shows, and the short names it accepts, per kind. */
const PRESENTATION: Record<Kind, { shortNames: string[]; columns: PrinterColumn[] }> = {
  Plan: {
    shortNames: ['rplan'],
    columns: [
      { name: 'Paid', type: 'integer', jsonPath: '.spec.seats.paid' },
      { name: 'Free', type: 'integer', jsonPath: '.spec.seats.free' },
      { name: 'Max-Resources', type: 'integer', jsonPath: '.spec.maxResources' },
      READY,
      AGE,
    ],
  },
  Role: {
    shortNames: ['rrole'],
    columns: [{ name: 'Scope', type: 'string', jsonPath: '.spec.scope' }, READY, AGE],
  },
  User: {
    shortNames: ['ruser'],
    columns: [
      { name: 'Email', type: 'string', jsonPath: '.spec.email' },
      { name: 'Aliases', type: 'string', jsonPath: '.spec.aliases' },
      READY,
      AGE,
    ],
  },
  Organization: {
    shortNames: ['org'],
    columns: [
      { name: 'Plan', type: 'string', jsonPath: '.spec.plan' },
      { name: 'Owner', type: 'string', jsonPath: '.spec.owner' },
      { name: 'Members', type: 'integer', jsonPath: '.status.members' },
      READY,
      AGE,
    ],
  },
  Membership: {
    shortNames: ['mship'],
    columns: [
      { name: 'Org', type: 'string', jsonPath: '.spec.org' },
      { name: 'User', type: 'string', jsonPath: '.spec.user' },
      { name: 'Role', type: 'string', jsonPath: '.spec.role' },
      { name: 'Status', type: 'string', jsonPath: '.status.memberStatus' },
      { name: 'Invitation', type: 'string', jsonPath: '.status.invitation.state', priority: 1 },
      READY,
      AGE,
    ],
  },
  Grant: {
    shortNames: ['rgrant'],
    columns: [
      { name: 'Org', type: 'string', jsonPath: '.spec.org' },
      { name: 'User', type: 'string', jsonPath: '.spec.user' },
      { name: 'Resource', type: 'string', jsonPath: '.spec.resource' },
      { name: 'Role', type: 'string', jsonPath: '.spec.role' },
      { name: 'Expires', type: 'string', jsonPath: '.spec.expires' },
      { name: 'Invitation', type: 'string', jsonPath: '.status.invitation.state', priority: 1 },
      READY,
      AGE,
    ],
  },
  Group: {
    shortNames: ['rgroup'],
    columns: [
      { name: 'Org', type: 'string', jsonPath: '.spec.org' },
      { name: 'Role', type: 'string', jsonPath: '.spec.role' },
      READY,
      AGE,
    ],
  },
  Delegation: {
    shortNames: ['rdelegation'],
    columns: [
      { name: 'Org', type: 'string', jsonPath: '.spec.org' },
      { name: 'Delegate', type: 'string', jsonPath: '.spec.delegate' },
      { name: 'On-Behalf-Of', type: 'string', jsonPath: '.spec.onBehalfOf' },
      { name: 'Expires', type: 'string', jsonPath: '.spec.expires' },
      READY,
      AGE,
    ],
  },
  Contact: {
    shortNames: ['rcontact'],
    columns: [
      { name: 'Org', type: 'string', jsonPath: '.spec.org' },
      { name: 'Email', type: 'string', jsonPath: '.spec.email' },
      READY,
      AGE,
    ],
  },
};

/** JSON Schema keywords a structural CRD schema may carry, besides `x-kubernetes-*`. */
const STRUCTURAL_KEYWORDS = new Set([
  'type',
  'description',
  'title',
  'properties',
  'items',
  'required',
  'enum',
  'default',
  'pattern',
  'format',
  'minimum',
  'maximum',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'nullable',
  'additionalProperties',
]);

/**
 * Rewrites a JSON Schema into a structural CRD schema: `const` becomes a one-value `enum`,
 * `uniqueItems` becomes `x-kubernetes-list-type: set` (CRDs forbid `uniqueItems`), and
 * `additionalProperties: false` is dropped (the API server prunes unknown fields instead).
 */
export function toStructuralSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toStructuralSchema);
  if (typeof schema !== 'object' || schema === null) return schema;
  const source = schema as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(source)) {
    if (key === 'const') {
      out.enum = [value];
    } else if (key === 'uniqueItems') {
      if (value === true && source['x-kubernetes-list-type'] === undefined) {
        out['x-kubernetes-list-type'] = 'set';
      }
    } else if (key === 'additionalProperties') {
      if (typeof value === 'object') out.additionalProperties = toStructuralSchema(value);
    } else if (key === 'properties') {
      out.properties = Object.fromEntries(
        Object.entries(value as Record<string, unknown>).map(([k, v]) => [
          k,
          toStructuralSchema(v),
        ]),
      );
    } else if (key === 'default' || key === 'enum' || key === 'required') {
      out[key] = value;
    } else if (key.startsWith('x-kubernetes-')) {
      out[key] = value;
    } else if (STRUCTURAL_KEYWORDS.has(key)) {
      out[key] = toStructuralSchema(value);
    }
  }
  return out;
}

/**
 * A field only the operator reads (not part of Roster's document format): what deleting the
 * custom resource does to its records in the access database.
 */
export const DELETION_POLICY_SCHEMA = {
  type: 'string',
  enum: ['Delete', 'Orphan'],
  default: 'Delete',
  description:
    'What the operator does with the records when this resource is deleted: Delete removes them from the access database; Orphan leaves them there, no longer managed.',
} as const;

/** The CustomResourceDefinition of one kind. */
export function customResourceDefinition(definition: KindDefinition): Record<string, unknown> {
  const { kind, plural, schema, statusSchema } = definition;
  const presentation = PRESENTATION[kind];
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${plural}.${API_GROUP}`,
      labels: { 'app.kubernetes.io/name': 'roster', 'app.kubernetes.io/component': 'crd' },
    },
    spec: {
      group: API_GROUP,
      names: {
        kind,
        listKind: `${kind}List`,
        plural,
        singular: kind.toLowerCase(),
        shortNames: presentation.shortNames,
        categories: ['roster'],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: API_VERSION_NAME,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: presentation.columns,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: `A Roster ${kind}, generated from Roster's JSON Schema of the kind.`,
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: withDeletionPolicy(toStructuralSchema(schema.properties.spec)),
                status: toStructuralSchema(statusSchema),
              },
            },
          },
        },
      ],
    },
  };
}

function withDeletionPolicy(spec: unknown): unknown {
  const s = spec as { properties: Record<string, unknown> };
  return { ...s, properties: { ...s.properties, deletionPolicy: DELETION_POLICY_SCHEMA } };
}

/** Every CRD as the YAML text checked in under `crds/`, by file name. */
export function generateCrdFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const definition of KINDS) {
    const crd = customResourceDefinition(definition);
    const header = `# Generated by "npm run generate" from src/core/schema; do not edit.\n`;
    files.set(
      `${API_GROUP}_${definition.plural}.yaml`,
      header + stringify(crd, { lineWidth: 0, aliasDuplicateObjects: false }),
    );
  }
  return files;
}
