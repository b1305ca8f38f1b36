/**
 * Access decisions kept in memory by `roster serve`, so that repeated questions skip the
 * database. An answer is forgotten when anything it reads changes: every write to memberships,
 * grants, resources, organizations, plans, roles, their permissions or users notifies
 * `roster_access` at commit (migration 000007, so writes made in SQL by hand count too), and a
 * notification clears the cache. While the listening connection is down the cache is off (every
 * check reads the database) and it starts empty once listening again. An answer resting on a
 * grant that lapses is kept no longer than the grant, and none longer than `ttlMs`.
 */
import type pg from 'pg';
import type { AccessDecision } from '../core/access.js';
import type { Logger } from '../telemetry/log.js';
import { ACCESS_CHANNEL, listenerClient, listenForAccessChanges } from '../store/notifications.js';

export interface AccessCacheOptions {
  /** Answers kept at most (the least recently used go first); default 100,000. */
  readonly maxEntries?: number;
  /** How long an answer is kept at most; default 60 s. */
  readonly ttlMs?: number;
  readonly now?: () => number;
}

export class AccessCache {
  private readonly entries = new Map<string, { decision: AccessDecision; until: number }>();
  private listening = false;
  /** Bumped on every clear: an answer read before a clear is not stored after it. */
  private generation = 0;
  private readonly maxEntries: number;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(options: AccessCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? 100_000;
    this.ttlMs = options.ttlMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  /** The cached answer, if any (none while not listening). */
  get(key: string): AccessDecision | undefined {
    if (!this.listening) return undefined;
    const entry = this.entries.get(key);
    if (entry === undefined || entry.until <= this.now()) {
      if (entry !== undefined) this.entries.delete(key);
      return undefined;
    }
    // Most recently used last: eviction takes the first.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.decision;
  }

  /** A token to pass to `set`: the answer is stored only if no clear came in between. */
  begin(): number {
    return this.generation;
  }

  set(key: string, decision: AccessDecision, validUntil: Date | null, token: number): void {
    if (!this.listening || token !== this.generation) return;
    const until = Math.min(this.now() + this.ttlMs, validUntil?.getTime() ?? Infinity);
    this.entries.set(key, { decision, until });
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  /** Forgets every answer. */
  clear(): void {
    this.generation += 1;
    this.entries.clear();
  }

  /** Listening again (after a clear) or not (cleared, off until then). */
  setListening(listening: boolean): void {
    this.clear();
    this.listening = listening;
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * Keeps a connection listening on `roster_access` and clears `cache` on each notification;
 * reconnects with backoff. Returns a function that stops it.
 */
export function keepCacheFresh(
  pool: pg.Pool,
  cache: AccessCache,
  log?: Logger,
): () => Promise<void> {
  let stopped = false;
  let client: pg.Client | undefined;
  let attempt = 0;
  let timer: NodeJS.Timeout | undefined;
  const connect = async () => {
    if (stopped) return;
    const next = listenerClient(pool);
    client = next;
    const lost = (error?: unknown) => {
      if (client !== next) return;
      client = undefined;
      cache.setListening(false);
      next.end().catch(() => undefined);
      if (stopped) return;
      if (error !== undefined) {
        log?.warn('access cache off: lost the notification connection; reconnecting', {
          error: String(error),
        });
      }
      const delay = Math.min(30_000, 250 * 2 ** attempt++);
      timer = setTimeout(() => void connect(), delay);
      timer.unref();
    };
    next.on('error', lost);
    next.on('end', () => lost());
    next.on('notification', (message) => {
      if (message.channel === ACCESS_CHANNEL) cache.clear();
    });
    try {
      await next.connect();
      await listenForAccessChanges(next);
      if (client !== next) return;
      attempt = 0;
      cache.setListening(true);
    } catch (error) {
      lost(error);
    }
  };
  void connect();
  return async () => {
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
    cache.setListening(false);
    const open = client;
    client = undefined;
    await open?.end().catch(() => undefined);
  };
}
