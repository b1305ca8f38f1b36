/** A small Prometheus registry: counters and histograms, rendered in the text exposition format. */

type Labels = Readonly<Record<string, string>>;

const labelText = (labels: Labels) => {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  return `{${entries.map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')}}`;
};

/** A counter with labels. */
export class Counter {
  private readonly values = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    const key = labelText(labels);
    const entry = this.values.get(key) ?? { labels, value: 0 };
    entry.value += by;
    this.values.set(key, entry);
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const { labels, value } of this.values.values()) {
      lines.push(`${this.name}${labelText(labels)} ${value}`);
    }
    return lines.join('\n');
  }
}

/** A histogram with fixed buckets (seconds). */
export class Histogram {
  private readonly series = new Map<
    string,
    { labels: Labels; counts: number[]; sum: number; count: number }
  >();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[] = [
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
    ],
  ) {}

  observe(value: number, labels: Labels = {}): void {
    const key = labelText(labels);
    const entry = this.series.get(key) ?? {
      labels,
      counts: this.buckets.map(() => 0),
      sum: 0,
      count: 0,
    };
    this.buckets.forEach((bound, i) => {
      if (value <= bound) entry.counts[i] = (entry.counts[i] ?? 0) + 1;
    });
    entry.sum += value;
    entry.count += 1;
    this.series.set(key, entry);
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const { labels, counts, sum, count } of this.series.values()) {
      this.buckets.forEach((bound, i) => {
        lines.push(
          `${this.name}_bucket${labelText({ ...labels, le: String(bound) })} ${counts[i] ?? 0}`,
        );
      });
      lines.push(`${this.name}_bucket${labelText({ ...labels, le: '+Inf' })} ${count}`);
      lines.push(`${this.name}_sum${labelText(labels)} ${sum}`);
      lines.push(`${this.name}_count${labelText(labels)} ${count}`);
    }
    return lines.join('\n');
  }
}

/** The server's metrics. */
export class ServerMetrics {
  readonly requests = new Counter(
    'roster_http_requests_total',
    'HTTP requests by route and status.',
  );
  readonly duration = new Histogram(
    'roster_http_request_duration_seconds',
    'HTTP request latency by route.',
  );
  readonly accepted = new Counter('roster_invitations_accepted_total', 'Invitations accepted.');
  readonly delivered = new Counter('roster_invitations_sent_total', 'Invitation e-mails sent.');
  readonly deliveryFailures = new Counter(
    'roster_invitation_send_failures_total',
    'Invitation e-mails that failed and will be retried.',
  );

  private pool: (() => { busy: number; idle: number; waiting: number }) | undefined;

  /** Reports the database pool's connections by state and the callers waiting for one. */
  watchPool(sample: () => { busy: number; idle: number; waiting: number }): void {
    this.pool = sample;
  }

  render(): string {
    const parts = [
      this.requests,
      this.duration,
      this.accepted,
      this.delivered,
      this.deliveryFailures,
    ].map((m) => m.render());
    if (this.pool !== undefined) {
      const { busy, idle, waiting } = this.pool();
      parts.push(
        [
          '# HELP roster_db_pool_connections Database connections of the pool by state.',
          '# TYPE roster_db_pool_connections gauge',
          `roster_db_pool_connections{state="busy"} ${busy}`,
          `roster_db_pool_connections{state="idle"} ${idle}`,
          '# HELP roster_db_pool_waiting Requests waiting for a database connection.',
          '# TYPE roster_db_pool_waiting gauge',
          `roster_db_pool_waiting ${waiting}`,
        ].join('\n'),
      );
    }
    return `${parts.join('\n')}\n`;
  }
}
