/** The operator's Prometheus metrics. */
import { Counter, Gauge, Histogram } from 'prom-client';
import { createRegistry } from '../telemetry/metrics.js';

export class OperatorMetrics {
  readonly registry = createRegistry();
  readonly reconciles = new Counter({
    name: 'roster_operator_reconciles_total',
    help: 'Reconciles by kind and result (applied, unchanged, error, terminal).',
    labelNames: ['kind', 'result'] as const,
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'roster_operator_reconcile_errors_total',
    help: 'Failed reconciles by kind and reason.',
    labelNames: ['kind', 'reason'] as const,
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: 'roster_operator_reconcile_duration_seconds',
    help: 'Reconcile latency by kind.',
    labelNames: ['kind'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly rowsWritten = new Counter({
    name: 'roster_operator_rows_written_total',
    help: 'Rows the operator wrote to the access database.',
    registers: [this.registry],
  });
  readonly invitationsSent = new Counter({
    name: 'roster_operator_invitations_sent_total',
    help: 'Invitation e-mails the operator sent.',
    registers: [this.registry],
  });
  readonly watchRestarts = new Counter({
    name: 'roster_operator_watch_restarts_total',
    help: 'Watches restarted after an error, by kind.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  constructor(queueDepth: () => number, leader: () => boolean) {
    new Gauge({
      name: 'roster_operator_queue_depth',
      help: 'Keys waiting or being reconciled.',
      registers: [this.registry],
      collect() {
        this.set(queueDepth());
      },
    });
    new Gauge({
      name: 'roster_operator_leader',
      help: '1 when this replica is the leader.',
      registers: [this.registry],
      collect() {
        this.set(leader() ? 1 : 0);
      },
    });
  }

  /** The metrics in Prometheus' text format. */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}
