/**
 * Whether the server's connection pool still makes progress. A pool whose every connection is
 * checked out, with none handed back for a while, serves nothing: readiness says so at once (the
 * load balancer sends traffic elsewhere) and liveness after a longer stall (the kubelet restarts a
 * process that cannot recover by itself).
 */
import type pg from 'pg';

/** Thresholds of `PoolHealth`. */
export interface PoolHealthOptions {
  /** Connections the pool may open; all of them busy is the precondition of a stall. */
  readonly max: number;
  /** Busy with no connection returned for this long: not ready (default 2 s). */
  readonly readyStallMs?: number;
  /** Busy with no connection returned for this long: not alive (default 60 s). */
  readonly liveStallMs?: number;
}

/** Watches a pool's acquire and release events. */
export class PoolHealth {
  private lastProgress = Date.now();
  private readonly readyStallMs: number;
  private readonly liveStallMs: number;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: PoolHealthOptions,
  ) {
    this.readyStallMs = options.readyStallMs ?? 2_000;
    this.liveStallMs = options.liveStallMs ?? 60_000;
    const progress = () => {
      this.lastProgress = Date.now();
    };
    pool.on('acquire', progress);
    pool.on('release', progress);
    pool.on('remove', progress);
  }

  /** Milliseconds for which every connection has been busy with none returned; 0 when not so. */
  stalledMs(now = Date.now()): number {
    const busy = this.pool.totalCount - this.pool.idleCount;
    if (busy < this.options.max) return 0;
    return Math.max(0, now - this.lastProgress);
  }

  /** Why the pool cannot serve traffic now, or null. */
  notReadyReason(now = Date.now()): string | null {
    const stalled = this.stalledMs(now);
    return stalled > this.readyStallMs
      ? `every database connection has been busy for ${(stalled / 1000).toFixed(1)} s (${this.pool.waitingCount} requests waiting)`
      : null;
  }

  /** Why the process should be restarted, or null. */
  deadReason(now = Date.now()): string | null {
    const stalled = this.stalledMs(now);
    return stalled > this.liveStallMs
      ? `no database connection has been returned to the pool for ${Math.round(stalled / 1000)} s`
      : null;
  }

  /** Gauges for /metrics: connections by state and callers waiting. */
  sample(): { busy: number; idle: number; waiting: number } {
    return {
      busy: this.pool.totalCount - this.pool.idleCount,
      idle: this.pool.idleCount,
      waiting: this.pool.waitingCount,
    };
  }
}
