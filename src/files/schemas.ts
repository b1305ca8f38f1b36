/** Every kind of file Roster reads, as published for editors in `schemas/` (see core/schema/published.ts). */
import { accessTestSchema } from '../core/access-test.js';
import { publishedSchemaFiles, type PublishedKind } from '../core/schema/published.js';
import { KINDS } from '../core/schema/index.js';
import { LINT_RULES_SCHEMA } from './lint-rules.js';
import { MESSAGES_SCHEMA } from './messages.js';

/** The manifest kinds, then access tests, a platform's lint rules and message catalogues. */
export const PUBLISHED_KINDS: readonly PublishedKind[] = [
  ...KINDS.map(({ kind, schema }) => ({ kind, schema })),
  { kind: 'AccessTest', schema: accessTestSchema },
  { kind: 'LintRules', schema: LINT_RULES_SCHEMA },
  { kind: 'Messages', schema: MESSAGES_SCHEMA },
];

/** `schemas/` as file name → text. */
export function schemaFiles(): Map<string, string> {
  return publishedSchemaFiles(PUBLISHED_KINDS);
}
