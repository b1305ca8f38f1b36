/**
 * A platform's message catalogues (`ROSTER_MESSAGES=PATH`: a file, or a directory of them): a
 * language Roster does not speak, or its own wording of English or French. One document per
 * language, checked like a manifest — an unknown key (with the closest one), or a placeholder
 * the English message does not have, is an error at its line and column.
 *
 *     apiVersion: roster.dev/v1alpha1
 *     kind: Messages
 *     locale: de
 *     messages:
 *       mail.subject.organization: Einladung zu {org}
 *       mail.invitedBy: '{inviter} lädt Sie ein, {what}.'
 *
 * Keys a catalogue leaves out fall back to its language's built-in messages (for `fr-CA`, to
 * `fr`), then to English.
 */
import { compileSchema, describeSchemaErrors } from '../core/check-document.js';
import { didYouMean } from '../core/closest-match.js';
import type { Finding } from '../core/findings.js';
import { DEFAULT_LIMITS } from '../core/limits.js';
import {
  ENGLISH,
  LOCALE_PATTERN,
  placeholdersOf,
  type Catalogue,
  type MessageKey,
} from '../core/messages.js';
import { parseSource } from '../core/parse.js';
import { API_VERSION } from '../core/schema/index.js';
import { readSources } from './read-sources.js';

const message = { type: 'string', minLength: 1, maxLength: 2000 } as const;

/** The catalogue file's JSON Schema, as the loader checks it (unknown keys reported below). */
const CATALOGUE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['apiVersion', 'kind', 'locale', 'messages'],
  properties: {
    apiVersion: { const: API_VERSION },
    kind: { const: 'Messages' },
    locale: { type: 'string', maxLength: 35, pattern: LOCALE_PATTERN },
    messages: { type: 'object', additionalProperties: message },
  },
} as const;

/** The same for editors (schemas/messages.json): the keys listed, so that they complete. */
export const MESSAGES_SCHEMA = {
  ...CATALOGUE_SCHEMA,
  properties: {
    ...CATALOGUE_SCHEMA.properties,
    messages: {
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(
        Object.entries(ENGLISH).map(([key, english]) => [
          key,
          { ...message, description: english },
        ]),
      ),
    },
  },
};

const validate = compileSchema(CATALOGUE_SCHEMA);

/** What reading the catalogues gave: each by locale, or the findings that stop them. */
export interface CataloguesResult {
  readonly catalogues: ReadonlyMap<string, Catalogue>;
  readonly findings: readonly Finding[];
}

/** Reads every catalogue at `path` (a file, or a directory of `*.yaml`). */
export async function readMessageCatalogues(path: string, cwd: string): Promise<CataloguesResult> {
  const read = await readSources([path], { cwd });
  const findings: Finding[] = [...read.findings];
  const catalogues = new Map<string, Catalogue>();
  const declaredAt = new Map<string, string>();
  for (const source of read.sources) {
    const parsed = parseSource(source, DEFAULT_LIMITS);
    findings.push(...parsed.findings);
    for (const document of parsed.documents) {
      if (!validate(document.value)) {
        findings.push(...describeSchemaErrors(validate.errors ?? [], 'Messages', document));
        continue;
      }
      const { locale, messages } = document.value as {
        locale: string;
        messages: Record<string, string>;
      };
      const key = locale.toLowerCase();
      const first = declaredAt.get(key);
      const here = document.locate(['locale']);
      if (first !== undefined) {
        findings.push({
          severity: 'error',
          code: 'duplicate',
          message: `messages for "${locale}" are already declared at ${first}`,
          location: here,
        });
        continue;
      }
      declaredAt.set(key, `${here.file}:${here.line}:${here.column}`);
      const catalogue: Partial<Record<MessageKey, string>> = {};
      let clean = true;
      for (const [name, message] of Object.entries(messages)) {
        if (!(name in ENGLISH)) {
          clean = false;
          findings.push({
            severity: 'error',
            code: 'unknown-message',
            message: `"${name}" is not a message Roster writes.${didYouMean(name, Object.keys(ENGLISH))}`,
            location: document.locate(['messages', name], true),
          });
          continue;
        }
        const allowed = new Set(placeholdersOf(ENGLISH[name as MessageKey]));
        for (const placeholder of placeholdersOf(message)) {
          if (allowed.has(placeholder)) continue;
          clean = false;
          findings.push({
            severity: 'error',
            code: 'unknown-placeholder',
            message: `{${placeholder}} is not a value of "${name}"; it may use ${[...allowed].map((p) => `{${p}}`).join(', ') || 'none'}`,
            location: document.locate(['messages', name]),
          });
        }
        catalogue[name as MessageKey] = message;
      }
      if (clean) catalogues.set(key, catalogue);
    }
  }
  return { catalogues, findings };
}
