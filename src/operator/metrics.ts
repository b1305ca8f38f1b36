/** The operator's Prometheus metrics. */
import { Counter, Histogram } from '../telemetry/metrics.js';

/** A value that goes up and down, read when scraped. */
export class Gauge {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => number,
  ) {}

  render(): string {
    return [
      `# HELP ${this.name} ${this.help}`,
      `# TYPE ${this.name} gauge`,
      `${this.name} ${this.read()}`,
    ].join('\n');
  }
}

export class OperatorMetrics {
  readonly reconciles = new Counter(
    'roster_operator_reconciles_total',
    'Reconciles by kind and result (applied, unchanged, error, terminal).',
  );
  readonly errors = new Counter(
    'roster_operator_reconcile_errors_total',
    'Failed reconciles by kind and reason.',
  );
  readonly duration = new Histogram(
    'roster_operator_reconcile_duration_seconds',
    'Reconcile latency by kind.',
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  );
  readonly rowsWritten = new Counter(
    'roster_operator_rows_written_total',
    'Rows the operator wrote to the access database.',
  );
  readonly invitationsSent = new Counter(
    'roster_operator_invitations_sent_total',
    'Invitation e-mails the operator sent.',
  );
  readonly watchRestarts = new Counter(
    'roster_operator_watch_restarts_total',
    'Watches restarted after an error, by kind.',
  );
  private readonly gauges: Gauge[];

  constructor(queueDepth: () => number, leader: () => boolean) {
    this.gauges = [
      new Gauge('roster_operator_queue_depth', 'Keys waiting or being reconciled.', queueDepth),
      new Gauge('roster_operator_leader', '1 when this replica is the leader.', () =>
        leader() ? 1 : 0,
      ),
    ];
  }

  render(): string {
    return `${[
      this.reconciles,
      this.errors,
      this.duration,
      this.rowsWritten,
      this.invitationsSent,
      this.watchRestarts,
      ...this.gauges,
    ]
      .map((m) => m.render())
      .join('\n')}\n`;
  }
}
