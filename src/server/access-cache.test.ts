/** The access cache's own rules: no answer across a clear, none past its grant or TTL, bounded. */
import { describe, expect, it } from 'vitest';
import type { AccessDecision } from '../core/access.js';
import { AccessCache } from './access-cache.js';

const allowed: AccessDecision = { allowed: true, reason: 'role', role: 'developer' };

describe('AccessCache', () => {
  it('keeps nothing while not listening', () => {
    const cache = new AccessCache();
    cache.set('k', allowed, null, cache.begin());
    expect(cache.get('k')).toBeUndefined();
  });

  it('drops an answer read before a clear that came in while it was being read', () => {
    const cache = new AccessCache();
    cache.setListening(true);
    const token = cache.begin();
    cache.clear(); // a notification arrives while the database is being read
    cache.set('k', allowed, null, token);
    expect(cache.get('k')).toBeUndefined();
    cache.set('k', allowed, null, cache.begin());
    expect(cache.get('k')).toEqual(allowed);
  });

  it('keeps an answer no longer than its grant, nor than the TTL', () => {
    let now = 1_000;
    const cache = new AccessCache({ ttlMs: 60_000, now: () => now });
    cache.setListening(true);
    cache.set('grant', allowed, new Date(6_000), cache.begin());
    cache.set('role', allowed, null, cache.begin());
    now = 5_999;
    expect(cache.get('grant')).toEqual(allowed);
    now = 6_000;
    expect(cache.get('grant')).toBeUndefined();
    expect(cache.get('role')).toEqual(allowed);
    now = 61_000;
    expect(cache.get('role')).toBeUndefined();
  });

  it('forgets the least recently used answer beyond its size', () => {
    const cache = new AccessCache({ maxEntries: 2 });
    cache.setListening(true);
    cache.set('a', allowed, null, cache.begin());
    cache.set('b', allowed, null, cache.begin());
    cache.get('a');
    cache.set('c', allowed, null, cache.begin());
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toEqual(allowed);
    expect(cache.size).toBe(2);
  });
});
