/**
 * Saved plans are signed: `roster plan -o` adds an HMAC-SHA256 of the plan's canonical JSON under
 * a key kept in the access database (`roster_settings`), and `roster apply plan.json` refuses a
 * file whose signature does not match, so an edited plan (a role changed by hand) is never
 * applied. Whoever can read the database could sign a plan, but could also change the database
 * itself: the signature protects the file on its way through CI artifacts and reviews.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { RosterError } from '../core/errors.js';
import { run, statement, type Queryable } from './sql/statement.js';

const PREFIX = 'hmac-sha256:';

/** JSON with object keys sorted at every level: the same value always gives the same text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const READ_PLAN_SIGNING_KEY = statement(
  'read-plan-signing-key',
  `SELECT value FROM roster_settings WHERE name = 'plan-signing-key'`,
);

async function signingKey(db: Queryable): Promise<Buffer> {
  const { rows } = await run<{ value: Buffer }>(db, READ_PLAN_SIGNING_KEY);
  const key = rows[0]?.value;
  if (key === undefined) {
    throw new RosterError(
      'saved-plan',
      'the database has no plan-signing key: run "roster db migrate"',
    );
  }
  return key;
}

/** The signature of a plan as it will be written (its JSON form, without a signature). */
export async function signPlan(db: Queryable, plan: object): Promise<string> {
  const { signature: _ignored, ...content } = JSON.parse(JSON.stringify(plan)) as {
    signature?: unknown;
  };
  const mac = createHmac('sha256', await signingKey(db)).update(canonicalJson(content));
  return `${PREFIX}${mac.digest('hex')}`;
}

/** Throws unless `saved` (a parsed plan file) carries the signature of its content. */
export async function verifyPlanSignature(
  db: Queryable,
  saved: Record<string, unknown>,
  path: string,
): Promise<void> {
  const signature = saved.signature;
  if (typeof signature !== 'string' || !signature.startsWith(PREFIX)) {
    throw new RosterError(
      'saved-plan-unsigned',
      `${path} has no signature: only a plan written by "roster plan -o" against this database can be applied; make a new one`,
    );
  }
  const expected = Buffer.from(await signPlan(db, saved));
  const actual = Buffer.from(signature);
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) {
    throw new RosterError(
      'saved-plan-tampered',
      `${path} was changed after "roster plan -o" wrote it, or was made against another database (its signature does not match): nothing was applied; make a new plan`,
    );
  }
}
