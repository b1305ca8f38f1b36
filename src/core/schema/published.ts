/**
 * The JSON Schemas published for editors (`schemas/`, written by `npm run generate`): one per
 * kind and one for a file of any kinds, from the same schemas the loader validates with and the
 * CRDs are generated from.
 *
 * yaml-language-server (VS Code's YAML extension, Neovim, Helix...) reads a modeline
 * `# yaml-language-server: $schema=PATH` and applies the schema to every document of a
 * multi-document file; `roster.json` chooses the kind's schema by `kind`. Draft-07: what
 * yaml-language-server supports best. Keywords for Kubernetes (`x-kubernetes-*`) are left out:
 * editors do not read them, and the loader enforces the same rules in `core/rules.ts`.
 */
import { API_VERSION, API_VERSION_NAME } from './common.js';

/** Where the schemas are published; each `$id` is under it. */
export const SCHEMA_BASE_URL = `https://roster.dev/schemas/${API_VERSION_NAME}/`;

/** The schema of a file of any kinds, named in the examples' modelines. */
export const ANY_KIND_SCHEMA_FILE = 'roster.json';

const DRAFT_07 = 'http://json-schema.org/draft-07/schema#';

/** A kind to publish: its name and its whole-document schema. */
export interface PublishedKind {
  readonly kind: string;
  readonly schema: object;
}

/** The file name of a kind's schema: `organization.json`. */
export function schemaFileName(kind: string): string {
  return `${kind.replace(/[A-Z]/g, (c, at: number) => (at === 0 ? '' : '-') + c.toLowerCase())}.json`;
}

/** `schemas/` as file name → text, every file ending in a newline. */
export function publishedSchemaFiles(kinds: readonly PublishedKind[]): Map<string, string> {
  const files = new Map<string, string>();
  const text = (schema: object) => `${JSON.stringify(schema, null, 2)}\n`;
  for (const { kind, schema } of kinds) {
    files.set(
      schemaFileName(kind),
      text({
        $schema: DRAFT_07,
        $id: `${SCHEMA_BASE_URL}${schemaFileName(kind)}`,
        ...forEditors(schema),
        title: `Roster ${kind} (${API_VERSION})`,
      }),
    );
  }
  const names = kinds.map((k) => k.kind);
  files.set(
    ANY_KIND_SCHEMA_FILE,
    text({
      $schema: DRAFT_07,
      $id: `${SCHEMA_BASE_URL}${ANY_KIND_SCHEMA_FILE}`,
      title: `A Roster document (${API_VERSION}): ${names.join(', ')}`,
      type: 'object',
      required: ['apiVersion', 'kind'],
      properties: {
        apiVersion: { type: 'string', const: API_VERSION },
        kind: { type: 'string', enum: names },
      },
      // if/then rather than oneOf: an editor reports the errors of the document's own kind, not
      // of every kind it is not.
      allOf: kinds.map(({ kind, schema }) => ({
        if: { properties: { kind: { const: kind } }, required: ['kind'] },
        then: forEditors(schema),
      })),
    }),
  );
  return files;
}

/** A deep copy without `$id` (each file sets its own) and without Kubernetes' keywords. */
function forEditors(schema: unknown): Record<string, unknown> {
  return strip(schema) as Record<string, unknown>;
}

function strip(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(strip);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => key !== '$id' && !key.startsWith('x-kubernetes-'))
      .map(([key, inner]) => [key, strip(inner)]),
  );
}
