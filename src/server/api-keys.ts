/** Bearer API keys for the access API: random, shown once, stored as a SHA-256 hash. */
import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { RosterError } from '../core/errors.js';

const hash = (key: string) => createHash('sha256').update(key, 'utf8').digest();

/** Creates a key; the returned text is the only copy. */
export async function createApiKey(pool: pg.Pool, name: string): Promise<string> {
  if (!/^[a-z0-9][a-z0-9._-]{0,62}$/.test(name)) {
    throw new RosterError(
      'usage',
      `an API key name is lowercase letters, digits, ".", "_" or "-", not "${name}"`,
    );
  }
  const key = `rk_${randomBytes(32).toString('base64url')}`;
  try {
    await pool.query('INSERT INTO api_keys (name, key_hash) VALUES ($1, $2)', [name, hash(key)]);
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
export async function revokeApiKey(pool: pg.Pool, name: string): Promise<boolean> {
  const { rowCount } = await pool.query(
    'UPDATE api_keys SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL',
    [name],
  );
  return (rowCount ?? 0) > 0;
}

/** Lists keys (names and dates, never the keys). */
export async function listApiKeys(
  pool: pg.Pool,
): Promise<{ name: string; createdAt: string; revokedAt: string | null }[]> {
  const { rows } = await pool.query(
    'SELECT name, created_at, revoked_at FROM api_keys ORDER BY name',
  );
  return rows.map((r) => ({
    name: r.name,
    createdAt: r.created_at.toISOString(),
    revokedAt: r.revoked_at?.toISOString() ?? null,
  }));
}

/**
 * Checks bearer keys, remembering answers for a few seconds so that the access API does not pay a
 * query per request; a revoked key stops working within `ttlMs`.
 */
export class ApiKeyVerifier {
  private readonly cache = new Map<string, { name: string | null; until: number }>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly ttlMs = 10_000,
  ) {}

  /** The name of the key, or null if it is unknown or revoked. */
  async verify(key: string): Promise<string | null> {
    if (!/^rk_[A-Za-z0-9_-]{43}$/.test(key)) return null;
    const digest = hash(key).toString('hex');
    const cached = this.cache.get(digest);
    const now = Date.now();
    if (cached !== undefined && cached.until > now) return cached.name;
    const { rows } = await this.pool.query(
      'SELECT name FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL',
      [Buffer.from(digest, 'hex')],
    );
    const name: string | null = rows[0]?.name ?? null;
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(digest, { name, until: now + this.ttlMs });
    return name;
  }
}
