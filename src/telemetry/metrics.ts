/**
 * Prometheus metrics, on prom-client (the Node.js client the Prometheus community maintains; see
 * docs/adr/0005-one-model-per-kind.md): one registry per server, with the process's default
 * metrics (CPU, memory, event-loop lag, GC) beside Roster's own.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** A registry with the process's default metrics. */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** What the pool of database connections looks like now. */
export interface PoolSample {
  readonly busy: number;
  readonly idle: number;
  readonly waiting: number;
}

/** `roster serve`'s metrics. */
export class ServerMetrics {
  readonly registry = createRegistry();
  readonly requests = new Counter({
    name: 'roster_http_requests_total',
    help: 'HTTP requests by route and status.',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: 'roster_http_request_duration_seconds',
    help: 'HTTP request latency by route.',
    labelNames: ['route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly accepted = new Counter({
    name: 'roster_invitations_accepted_total',
    help: 'Invitations accepted.',
    registers: [this.registry],
  });
  readonly delivered = new Counter({
    name: 'roster_invitations_sent_total',
    help: 'Invitation e-mails sent.',
    registers: [this.registry],
  });
  readonly accessCache = new Counter({
    name: 'roster_access_cache_requests_total',
    help: 'Access checks answered from memory (hit) or from the database (miss).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly deliveryFailures = new Counter({
    name: 'roster_invitation_send_failures_total',
    help: 'Invitation e-mails that failed and will be retried.',
    registers: [this.registry],
  });
  readonly reads = new Counter({
    name: 'roster_database_reads_total',
    help: 'API reads by the server they went to: the replica (DATABASE_READ_URL) or the primary.',
    labelNames: ['target'] as const,
    registers: [this.registry],
  });
  readonly replicaLag = new Gauge({
    name: 'roster_read_replica_lag_seconds',
    help: 'How far the read replica is behind the primary, by its last heartbeat (-1: none seen).',
    registers: [this.registry],
  });

  /** Reports the database pool's connections by state and the callers waiting for one. */
  watchPool(sample: () => PoolSample): void {
    new Gauge({
      name: 'roster_db_pool_connections',
      help: 'Database connections of the pool by state.',
      labelNames: ['state'] as const,
      registers: [this.registry],
      collect() {
        const { busy, idle } = sample();
        this.set({ state: 'busy' }, busy);
        this.set({ state: 'idle' }, idle);
      },
    });
    new Gauge({
      name: 'roster_db_pool_waiting',
      help: 'Requests waiting for a database connection.',
      registers: [this.registry],
      collect() {
        this.set(sample().waiting);
      },
    });
  }
}
