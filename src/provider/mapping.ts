/**
 * Resource inputs <-> Roster documents and records. Check runs the same schema and the same
 * single-document rules as `roster validate`, with the same messages.
 */
import type { LeastPrivilegePolicy } from '../core/least-privilege.js';
import { checkDocument } from '../core/check-document.js';
import { buildDesiredState, expiryInstant } from '../core/desired-state.js';
import { startInstant } from '../core/expiry.js';
import type { Finding } from '../core/findings.js';
import { kindOfDocument, orgOf as orgOfRecord } from '../core/kinds/index.js';
import { inMemoryDocument } from '../core/parse.js';
import type { ActualState } from '../core/plan.js';
import { desiredRecords, recordKey, type DesiredRecord, type RecordId } from '../core/records.js';
import { emailIdentity } from '../core/email.js';
import { checkRules } from '../core/rules.js';
import { API_VERSION } from '../core/schema/index.js';
import { containsUnknown, type Properties } from './properties.js';
import type { ResourceType } from './resources.js';

/** Rules that a single resource's inputs can break; the others need the database (checked at apply). */
const SINGLE_RESOURCE_RULES = new Set([
  'invalid-email',
  'invalid-date',
  'grant-expired',
  'owner-role',
  'built-in-role',
  'unknown-permission',
  'no-seats',
  'duplicate',
  'role-scope',
  'least-privilege',
]);

/** A failed check of one input. */
export interface CheckFailure {
  readonly property: string;
  readonly reason: string;
}

function documentOf(type: ResourceType, inputs: Properties): Record<string, unknown> {
  const { name, ...spec } = inputs;
  return {
    apiVersion: API_VERSION,
    kind: type.kind,
    metadata: { name: type.hasName ? name : 'pulumi-resource' },
    spec: type.hasName ? spec : inputs,
  };
}

/** The property a finding is about: `spec.role` -> `role`, `metadata.name` -> `name`. */
function propertyOf(finding: Finding): string {
  const path = finding.location?.path ?? [];
  const missing = /missing required field "([^"]+)"/.exec(finding.message)?.[1];
  if (path[0] === 'metadata') return 'name';
  const rest = path[0] === 'spec' ? path.slice(1) : path;
  const property = rest
    .map((p) => (typeof p === 'number' ? `[${p}]` : p))
    .join('.')
    .replace(/\.\[/g, '[');
  return missing !== undefined && property === '' ? missing : property;
}

/**
 * Checks inputs as `roster validate` checks a document. Unknown values (during preview) are not
 * judged. Returns the inputs with defaults filled in, and the failures.
 */
export function checkInputs(
  type: ResourceType,
  news: Properties,
  now = new Date(),
  leastPrivilege?: LeastPrivilegePolicy,
): { inputs: Properties; failures: CheckFailure[] } {
  const unknown = new Set(Object.keys(news).filter((k) => containsUnknown(news[k])));
  const known = Object.fromEntries(Object.entries(news).filter(([k]) => !unknown.has(k)));
  const failures: CheckFailure[] = [];
  for (const omitted of type.omitted) {
    if (known[omitted] !== undefined) {
      failures.push({
        property: omitted,
        reason: `${omitted} is not an input of ${type.token}: declare roster.${{ members: 'Membership', groups: 'Group' }[omitted] ?? 'Contact'} resources instead`,
      });
      delete known[omitted];
    }
  }
  const document = documentOf(type, known);
  const result = checkDocument(inMemoryDocument(type.token, document));
  let findings: Finding[];
  if (Array.isArray(result)) {
    findings = result;
  } else {
    const { state, findings: built } = buildDesiredState([result]);
    const context = { now, ...(leastPrivilege !== undefined && { leastPrivilege }) };
    findings = [...built, ...checkRules(state, context)].filter((f) =>
      SINGLE_RESOURCE_RULES.has(f.code),
    );
  }
  for (const finding of findings) {
    if (finding.severity !== 'error') continue;
    const property = propertyOf(finding);
    if (unknown.has(property)) continue;
    failures.push({ property, reason: finding.message });
  }
  const spec = (document.spec ?? {}) as Properties;
  const inputs: Properties = { ...(type.hasName ? { name: known.name } : {}), ...spec };
  for (const key of unknown) inputs[key] = news[key];
  return { inputs, failures };
}

/** The desired records of a resource's (checked, known) inputs. */
export function recordsOf(type: ResourceType, inputs: Properties): DesiredRecord[] {
  const result = checkDocument(inMemoryDocument(type.token, documentOf(type, inputs)));
  if (Array.isArray(result)) throw new Error(result.map((f) => f.message).join('; '));
  const { state, findings } = buildDesiredState([result]);
  const errors = findings.filter((f) => f.severity === 'error');
  if (errors.length > 0) throw new Error(errors.map((f) => f.message).join('; '));
  return desiredRecords(state).map(({ id, fields }) => ({ id, fields }));
}

/** The record a resource is about, from its identity inputs; throws if they do not name one. */
export function mainRecordId(type: ResourceType, inputs: Properties): RecordId {
  const id = kindOfDocument(type.kind).document.mainId(String(inputs.name ?? ''), inputs);
  if (id === undefined) {
    throw new Error(
      `${type.token}: ${kindOfDocument(type.kind).document.identityFields.join(', ')} do not name a record`,
    );
  }
  return id;
}

/** The id Pulumi tracks: the record's identity, its parts joined by `/`. */
export function idOf(type: ResourceType, inputs: Properties): string {
  const id = mainRecordId(type, inputs);
  return kindOfDocument(type.kind).key(id).join('/');
}

/** The organization whose records a resource touches, or null for plans and roles. */
export function orgOf(type: ResourceType, inputs: Properties): string | null {
  return orgOfRecord(mainRecordId(type, inputs));
}

/** The identity inputs of a Pulumi id, for `pulumi import`: the last part keeps any `/`. */
export function inputsFromId(type: ResourceType, id: string): Properties {
  const fields = kindOfDocument(type.kind).document.identityFields;
  const parts = id.split('/');
  return Object.fromEntries(
    fields.map((field, i) => [
      field,
      i === fields.length - 1 ? parts.slice(i).join('/') : (parts[i] ?? ''),
    ]),
  );
}

/** A value in a canonical form: lists sorted, e-mails lowercased, dates as instants. */
function canonical(key: string, value: unknown): string {
  if (Array.isArray(value)) return JSON.stringify(value.map((v) => canonical(key, v)).sort());
  if (typeof value === 'string') {
    if (key === 'expires') return expiryInstant(value) ?? value;
    if (key === 'starts') return startInstant(value) ?? value;
    if (['user', 'email', 'owner', 'members', 'aliases', 'delegate', 'onBehalfOf'].includes(key)) {
      return emailIdentity(value);
    }
  }
  if (typeof value === 'object' && value !== null) {
    return JSON.stringify(
      Object.fromEntries(
        Object.entries(value)
          .sort()
          .map(([k, v]) => [k, canonical(k, v)]),
      ),
    );
  }
  return JSON.stringify(value);
}

/**
 * Keeps the program's spelling of values that mean the same as what the database holds (an
 * e-mail's case, a date for its instant, a list's order), so that a refresh shows only real drift.
 */
export function preferProgramSpelling(fromDatabase: Properties, program: Properties): Properties {
  return Object.fromEntries(
    Object.entries(fromDatabase).map(([key, value]) => [
      key,
      key in program && canonical(key, program[key]) === canonical(key, value)
        ? program[key]
        : value,
    ]),
  );
}

/** Reads a resource's inputs back from the database's records; undefined if it is gone. */
export function inputsFromActual(
  type: ResourceType,
  id: RecordId,
  actual: ActualState,
): Properties | undefined {
  const key = recordKey(id);
  const record = actual.records.find((r) => recordKey(r.id) === key);
  if (record === undefined) return undefined;
  const org = orgOfRecord(id);
  const tenant = org === null ? [] : actual.records.filter((r) => orgOfRecord(r.id) === org);
  const spec = kindOfDocument(type.kind).document.spec(record, tenant);
  return type.hasName && 'name' in id ? { name: id.name, ...spec } : spec;
}
