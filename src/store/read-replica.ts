/**
 * Reads from a streaming replica (`DATABASE_READ_URL`) within a staleness bound. The primary
 * gets a heartbeat row every `heartbeatMs` (one per process, in roster_settings); the replica's
 * copy of it says how far its replay has come: every change committed before the heartbeat it
 * shows is visible there. A read goes to the replica only while that heartbeat is younger than
 * `maxLagMs`; otherwise, or while the replica does not answer, to the primary. So an answer is
 * never staler than the bound, even when replication stalls or the replica is far behind.
 */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';

/** What `ReadReplica` needs. */
export interface ReadReplicaOptions {
  /** The bound: reads go to the primary once the replica is this far behind. */
  readonly maxLagMs: number;
  /** How often the heartbeat is written and looked for (default: a quarter of the bound). */
  readonly heartbeatMs?: number;
  /** Told each time the lag is measured (for a metric). */
  readonly onLag?: (lagMs: number, usable: boolean) => void;
}

/** Chooses, per read, the replica when it is fresh enough, else the primary. */
export class ReadReplica {
  private readonly name = `replica-heartbeat:${randomBytes(6).toString('hex')}`;
  /** The newest heartbeat (ms since the epoch) the replica showed; 0: none yet. */
  private seen = 0;
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> = Promise.resolve();

  constructor(
    private readonly primary: pg.Pool,
    private readonly replica: pg.Pool,
    private readonly options: ReadReplicaOptions,
  ) {}

  /** Starts the heartbeat; resolves after the first beat was looked for. */
  async start(): Promise<void> {
    const every = this.options.heartbeatMs ?? Math.max(50, this.options.maxLagMs / 4);
    await this.beat();
    this.timer = setInterval(() => {
      this.beating = this.beating.then(() => this.beat());
    }, every);
    this.timer.unref();
  }

  /** Stops the heartbeat and removes its row. */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.beating;
    await this.primary
      .query(`DELETE FROM roster_settings WHERE name = $1`, [this.name])
      .catch(() => undefined);
  }

  /** The staleness bound. */
  get maxLagMs(): number {
    return this.options.maxLagMs;
  }

  /** How far behind the replica is now, in ms (Infinity before it showed a heartbeat). */
  lagMs(): number {
    return this.seen === 0 ? Infinity : Date.now() - this.seen;
  }

  /** The pool to read from now, and which one it is. */
  choose(): { pool: pg.Pool; replica: boolean } {
    return this.lagMs() <= this.options.maxLagMs
      ? { pool: this.replica, replica: true }
      : { pool: this.primary, replica: false };
  }

  private async beat(): Promise<void> {
    try {
      await this.primary.query(
        `INSERT INTO roster_settings (name, value) VALUES ($1, convert_to($2, 'UTF8'))
         ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value`,
        [this.name, String(Date.now())],
      );
    } catch {
      // The primary is away: reads still go where the replica's lag says.
    }
    try {
      const { rows } = await this.replica.query<{ at: string }>(
        `SELECT convert_from(value, 'UTF8') AS at FROM roster_settings WHERE name = $1`,
        [this.name],
      );
      const at = Number(rows[0]?.at ?? 0);
      if (at > this.seen) this.seen = at;
    } catch {
      // The replica does not answer: it is not used until it shows a fresh heartbeat again.
      this.seen = 0;
    }
    this.options.onLag?.(this.lagMs(), this.lagMs() <= this.options.maxLagMs);
  }
}
