/**
 * Bearer API keys for the access API: random, shown once, stored as a SHA-256 hash, scoped to the
 * organizations they name (or, made so on purpose, to all), optionally expiring.
 */
import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { RosterError } from '../core/errors.js';
import { run, statement } from './sql/statement.js';

const hash = (key: string) => createHash('sha256').update(key, 'utf8').digest();

/** Which organizations a key reads. */
export type KeyOrganizations = readonly string[] | 'all';

/** What a key may read, once verified. */
export interface ApiKeyScope {
  readonly name: string;
  readonly organizations: ReadonlySet<string> | 'all';
}

/** Whether `scope` covers organization `org`. */
export function keyCovers(scope: ApiKeyScope, org: string): boolean {
  return scope.organizations === 'all' || scope.organizations.has(org);
}

const API_KEY_KEY = `jsonb_build_object('kind', 'api-key', 'name', k.name)::text`;

const CREATE_API_KEY = statement(
  'create-api-key',
  `WITH k AS (
       INSERT INTO api_keys (name, key_hash, all_organizations, organizations, expires_at)
       VALUES ($1, $2, $3, $4, $5)
       RETURNING name, all_organizations, organizations, expires_at)
   INSERT INTO audit_log (actor, action, record, record_key, after)
   SELECT $6, 'api-key-created', 'api-key', ${API_KEY_KEY},
          jsonb_build_object('organizations', CASE WHEN k.all_organizations THEN to_jsonb('all'::text)
                                                   ELSE to_jsonb(k.organizations) END,
                             'expiresAt', k.expires_at)
     FROM k`,
);

const REVOKE_API_KEY = statement(
  'revoke-api-key',
  `WITH k AS (
       UPDATE api_keys SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL
       RETURNING name)
   INSERT INTO audit_log (actor, action, record, record_key)
   SELECT $2, 'api-key-revoked', 'api-key', ${API_KEY_KEY} FROM k`,
);

const LIST_API_KEYS = statement(
  'list-api-keys',
  `SELECT name, all_organizations, organizations, created_at, last_used_at, expires_at, revoked_at
       FROM api_keys ORDER BY name`,
);

const LOOK_UP_API_KEY = statement(
  'look-up-api-key',
  `SELECT key_id::text, name, all_organizations, organizations, expires_at
         FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL`,
  { prepare: true },
);

const NOTE_API_KEY_USE = statement(
  'note-api-key-use',
  // The first use of a day is audited: how often a key is used, not each request.
  `WITH before AS (SELECT last_used_at FROM api_keys WHERE key_id = $1),
        k AS (UPDATE api_keys SET last_used_at = now() WHERE key_id = $1 RETURNING name)
   INSERT INTO audit_log (actor, action, record, record_key)
   SELECT k.name, 'api-key-used', 'api-key', ${API_KEY_KEY}
     FROM k, before
    WHERE before.last_used_at IS NULL
       OR date_trunc('day', before.last_used_at AT TIME ZONE 'UTC') < date_trunc('day', now() AT TIME ZONE 'UTC')`,
);

/** Creates a key; the returned text is the only copy. */
export async function createApiKey(
  pool: pg.Pool,
  name: string,
  options: {
    readonly organizations: KeyOrganizations;
    readonly expiresAt?: Date;
    /** Who creates it, for the audit log. */
    readonly actor?: string;
  },
): Promise<string> {
  if (!/^[a-z0-9][a-z0-9._-]{0,62}$/.test(name)) {
    throw new RosterError(
      'usage',
      `an API key name is lowercase letters, digits, ".", "_" or "-", not "${name}"`,
    );
  }
  if (options.organizations !== 'all' && options.organizations.length === 0) {
    throw new RosterError(
      'usage',
      'an API key needs --org ORG (repeatable) for the organizations it may read, or --all-organizations',
    );
  }
  const key = `rk_${randomBytes(32).toString('base64url')}`;
  try {
    await run(pool, CREATE_API_KEY, [
      name,
      hash(key),
      options.organizations === 'all',
      options.organizations === 'all' ? [] : [...new Set(options.organizations)].sort(),
      options.expiresAt ?? null,
      options.actor ?? 'roster',
    ]);
  } catch (error) {
    if ((error as { code?: string }).code === '23505') {
      throw new RosterError(
        'api-key-exists',
        `an API key named "${name}" exists; revoke it or choose another name`,
      );
    }
    throw error;
  }
  return key;
}

/** Revokes a key by name; returns whether one was revoked. */
export async function revokeApiKey(
  pool: pg.Pool,
  name: string,
  actor = 'roster',
): Promise<boolean> {
  const { rowCount } = await run(pool, REVOKE_API_KEY, [name, actor]);
  return (rowCount ?? 0) > 0;
}

/** A key as `roster api-keys list` shows it (never the key). */
export interface ApiKeyRow {
  readonly name: string;
  readonly organizations: KeyOrganizations;
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
  readonly expiresAt: string | null;
  readonly revokedAt: string | null;
}

/** Lists keys: names, scopes and dates. */
export async function listApiKeys(pool: pg.Pool): Promise<ApiKeyRow[]> {
  const { rows } = await run(pool, LIST_API_KEYS);
  const iso = (value: Date | null) => value?.toISOString() ?? null;
  return rows.map((r) => ({
    name: r.name,
    organizations: r.all_organizations ? 'all' : r.organizations,
    createdAt: r.created_at.toISOString(),
    lastUsedAt: iso(r.last_used_at),
    expiresAt: iso(r.expires_at),
    revokedAt: iso(r.revoked_at),
  }));
}

interface CachedKey {
  readonly scope: ApiKeyScope | null;
  readonly keyId: string | null;
  readonly expiresAt: number;
  readonly until: number;
}

/**
 * Checks bearer keys, remembering answers for a few seconds so that the access API does not pay a
 * query per request; a revoked key stops working within `ttlMs`, an expired one at once. The last
 * use is written at most once a minute per key.
 */
export class ApiKeyVerifier {
  private readonly cache = new Map<string, CachedKey>();
  private readonly lastUseWritten = new Map<string, number>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly ttlMs = 10_000,
  ) {}

  /** What the key may read, or null if it is unknown, revoked or expired. */
  async verify(key: string): Promise<ApiKeyScope | null> {
    if (!/^rk_[A-Za-z0-9_-]{43}$/.test(key)) return null;
    const digest = hash(key).toString('hex');
    const now = Date.now();
    let entry = this.cache.get(digest);
    if (entry === undefined || entry.until <= now) {
      entry = await this.lookUp(digest, now);
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(digest, entry);
    }
    if (entry.scope === null || entry.expiresAt <= now) return null;
    this.noteUse(entry.keyId, now);
    return entry.scope;
  }

  private async lookUp(digest: string, now: number): Promise<CachedKey> {
    const { rows } = await run(this.pool, LOOK_UP_API_KEY, [Buffer.from(digest, 'hex')]);
    const row = rows[0];
    if (row === undefined) {
      return { scope: null, keyId: null, expiresAt: Infinity, until: now + this.ttlMs };
    }
    return {
      scope: {
        name: row.name,
        organizations: row.all_organizations ? 'all' : new Set<string>(row.organizations),
      },
      keyId: row.key_id,
      expiresAt: row.expires_at === null ? Infinity : row.expires_at.getTime(),
      until: now + this.ttlMs,
    };
  }

  /** Records the key's use, at most once a minute; a failure to record never fails a request. */
  private noteUse(keyId: string | null, now: number): void {
    if (keyId === null || now - (this.lastUseWritten.get(keyId) ?? 0) < 60_000) return;
    this.lastUseWritten.set(keyId, now);
    run(this.pool, NOTE_API_KEY_USE, [keyId]).catch(() => this.lastUseWritten.delete(keyId));
  }
}
