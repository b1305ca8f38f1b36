/**
 * Checks one parsed document against the JSON Schema of its kind (ajv, all errors at once,
 * unknown fields rejected) and turns each violation into a finding at the offending node.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { didYouMean } from './closest-match.js';
import type { Finding } from './findings.js';
import type { ParsedDocument, PathSegment } from './parse.js';
import {
  API_VERSION,
  findKind,
  KINDS,
  PATTERN_DESCRIPTIONS,
  type RosterDocument,
} from './schema/index.js';

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, verbose: true });
for (const keyword of [
  'x-kubernetes-validations',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
]) {
  ajv.addKeyword(keyword);
}

const validators = new Map<string, ValidateFunction>();

function validatorFor(kind: string): ValidateFunction | undefined {
  let validate = validators.get(kind);
  if (validate === undefined) {
    const definition = findKind(kind);
    if (definition === undefined) return undefined;
    validate = ajv.compile(definition.schema);
    validators.set(kind, validate);
  }
  return validate;
}

/** A document that passed its schema, with defaults filled in. */
export interface CheckedDocument {
  readonly parsed: ParsedDocument;
  readonly document: RosterDocument;
}

/** Checks a document's envelope and schema; returns it typed, or the findings against it. */
export function checkDocument(parsed: ParsedDocument): CheckedDocument | Finding[] {
  const value = parsed.value;
  const at = (path: PathSegment[], message: string, code: string, key = false): Finding => ({
    severity: 'error',
    code,
    message,
    location: parsed.locate(path, key),
  });

  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return [
      at(
        [],
        'a Roster document is a mapping with apiVersion, kind, metadata and spec',
        'not-a-document',
      ),
    ];
  }
  const record = value as Record<string, unknown>;
  const envelope: Finding[] = [];
  if (record.apiVersion === undefined) {
    envelope.push(at([], `missing apiVersion: write "apiVersion: ${API_VERSION}"`, 'api-version'));
  } else if (record.apiVersion !== API_VERSION) {
    envelope.push(
      at(
        ['apiVersion'],
        `apiVersion ${JSON.stringify(record.apiVersion)} is not supported: write "${API_VERSION}"`,
        'api-version',
      ),
    );
  }
  const kinds = KINDS.map((k) => k.kind);
  if (record.kind === undefined) {
    envelope.push(at([], `missing kind: one of ${kinds.join(', ')}`, 'unknown-kind'));
    return envelope;
  }
  const validate = typeof record.kind === 'string' ? validatorFor(record.kind) : undefined;
  if (validate === undefined) {
    envelope.push(
      at(
        ['kind'],
        `unknown kind ${JSON.stringify(record.kind)}: expected one of ${kinds.join(', ')}.${didYouMean(String(record.kind), kinds)}`,
        'unknown-kind',
      ),
    );
    return envelope;
  }
  if (validate(value) && envelope.length === 0) {
    return { parsed, document: value as RosterDocument };
  }
  const errors = (validate.errors ?? []).filter(
    (e) => !(e.keyword === 'const' && e.instancePath === '/apiVersion'),
  );
  return [...envelope, ...describeSchemaErrors(errors, record.kind as string, parsed)];
}

/** Compiles a JSON Schema with the validator documents are checked with (strict, all errors). */
export function compileSchema(schema: object): ValidateFunction {
  return ajv.compile(schema);
}

/**
 * The findings of a schema's violations, each at the offending node; `label` names the whole
 * value in messages (a kind, or a file's purpose).
 */
export function describeSchemaErrors(
  errors: readonly ErrorObject[],
  label: string,
  parsed: ParsedDocument,
): Finding[] {
  return dedupe(errors.map((e) => describeSchemaError(e, label, parsed)));
}

function describeSchemaError(error: ErrorObject, kind: string, parsed: ParsedDocument): Finding {
  const path = pointerToPath(error.instancePath);
  const where = path.length === 0 ? kind : formatPath(path);
  const value = valueAt(parsed.value, path);
  const finding = (message: string, code: string, key = false, at = path): Finding => ({
    severity: 'error',
    code,
    message,
    location: parsed.locate(at, key),
  });
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties': {
      const field = String(params.additionalProperty);
      const allowed = Object.keys(
        (error.parentSchema as { properties?: object } | undefined)?.properties ?? {},
      );
      return finding(
        `${where}: unknown field "${field}".${didYouMean(field, allowed)} Allowed: ${allowed.join(', ')}`,
        'unknown-field',
        true,
        [...path, field],
      );
    }
    case 'required':
      return finding(
        `${where}: missing required field "${String(params.missingProperty)}"`,
        'missing-field',
      );
    case 'type':
      return finding(
        `${where}: must be ${article(String(params.type))} ${String(params.type)}, not ${describeValue(value)}`,
        'wrong-type',
      );
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map(String);
      return finding(
        `${where}: ${describeValue(value)} is not one of ${allowed.join(', ')}.${didYouMean(String(value), allowed)}`,
        'not-allowed',
      );
    }
    case 'const':
      return finding(
        `${where}: must be ${JSON.stringify(params.allowedValue)}, not ${describeValue(value)}`,
        'not-allowed',
      );
    case 'pattern': {
      const description = PATTERN_DESCRIPTIONS[String(params.pattern)] ?? error.message;
      return finding(`${where}: ${describeValue(value)} is not valid: ${description}`, 'invalid');
    }
    case 'uniqueItems': {
      const second = Math.max(Number(params.i), Number(params.j));
      const items = Array.isArray(value) ? value : [];
      return finding(
        `${where}: ${describeValue(items[second])} is listed twice`,
        'duplicate-item',
        false,
        [...path, second],
      );
    }
    default:
      return finding(`${where}: ${error.message ?? 'is invalid'}`, 'invalid');
  }
}

function dedupe(findings: Finding[]): Finding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const key = `${f.location?.line}:${f.location?.column}:${f.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** `/spec/members/0/role` -> ['spec', 'members', 0, 'role']. */
export function pointerToPath(pointer: string): PathSegment[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^(0|[1-9][0-9]*)$/.test(s) ? Number(s) : s));
}

/** ['spec', 'members', 0, 'role'] -> `spec.members[0].role`. */
export function formatPath(path: readonly PathSegment[]): string {
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

function valueAt(value: unknown, path: readonly PathSegment[]): unknown {
  let current = value;
  for (const segment of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string | number, unknown>)[segment];
  }
  return current;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}..."` : text;
}

function article(word: string): string {
  return /^[aeiou]/.test(word) ? 'an' : 'a';
}

/** `Kind/name` of a document that failed its checks, if it has that much shape. */
export function declaredName(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { kind, metadata } = value as { kind?: unknown; metadata?: { name?: unknown } };
  const name = typeof metadata === 'object' && metadata !== null ? metadata.name : undefined;
  return typeof kind === 'string' && typeof name === 'string' ? `${kind}/${name}` : undefined;
}
