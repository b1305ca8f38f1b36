/**
 * Leader election on a `coordination.k8s.io/v1` Lease, as client-go's leaderelection does: the
 * leader renews `renewTime` every `retryPeriod`; a candidate takes the Lease over once it has not
 * been renewed for `leaseDuration`. Every write carries the Lease's resourceVersion, so two
 * candidates racing for it cannot both win (the API server answers the loser 409 Conflict).
 */
import type { CoordinationV1Api, V1Lease } from '@kubernetes/client-node';
import { describeApiError, statusCodeOf } from './api-errors.js';
import type { Logger } from '../telemetry/log.js';

/**
 * A Lease's `acquireTime` and `renewTime` are metav1.MicroTime: kube-apiserver parses them with
 * RFC3339Micro ("2006-01-02T15:04:05.000000Z07:00", exactly six fractional digits) and answers 400
 * to the three digits of Date#toISOString. client-node serialises Date fields with toJSON, so
 * this Date writes six.
 */
export class MicroTime extends Date {
  override toISOString(): string {
    return super.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
  }
  override toJSON(): string {
    return this.toISOString();
  }
}

export interface LeaderElectionOptions {
  readonly namespace: string;
  readonly name: string;
  /** This replica's identity (pod name + random suffix). */
  readonly identity: string;
  readonly leaseDurationSeconds: number;
  /** How often the leader renews, and a candidate retries (ms). */
  readonly retryPeriodMs: number;
  /** The leader gives up if it could not renew for this long (ms); below the lease duration. */
  readonly renewDeadlineMs: number;
}

export const DEFAULT_LEADER_ELECTION = {
  name: 'roster-operator',
  leaseDurationSeconds: 15,
  retryPeriodMs: 2_000,
  renewDeadlineMs: 10_000,
} as const;

export class LeaderElector {
  private timer: NodeJS.Timeout | undefined;
  private leading = false;
  private stopped = false;
  private lastRenewal = 0;

  constructor(
    private readonly api: CoordinationV1Api,
    private readonly options: LeaderElectionOptions,
    private readonly log: Logger,
    private readonly callbacks: { onStartedLeading: () => void; onStoppedLeading: () => void },
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  /** Why the last attempt to read or write the Lease failed; null once one succeeds. */
  leaseError: string | null = null;

  /** Starts campaigning; returns at once. */
  start(): void {
    void this.tick();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), this.options.retryPeriodMs);
  }

  private async tick(): Promise<void> {
    try {
      const held = await this.tryAcquireOrRenew();
      this.leaseError = null;
      if (held) {
        this.lastRenewal = Date.now();
        if (!this.leading && !this.stopped) {
          this.leading = true;
          this.log.info('became the leader', {
            lease: this.options.name,
            identity: this.options.identity,
          });
          this.callbacks.onStartedLeading();
        }
      } else if (this.leading) {
        this.lose('another replica holds the lease');
        return;
      }
    } catch (error) {
      this.leaseError = describeApiError(error);
      this.log.warn('could not reach the lease', { error: this.leaseError });
      if (this.leading && Date.now() - this.lastRenewal > this.options.renewDeadlineMs) {
        this.lose('could not renew the lease in time');
        return;
      }
    }
    this.schedule();
  }

  private lose(why: string): void {
    this.leading = false;
    this.stopped = true;
    this.log.error('lost the leadership', { reason: why });
    this.callbacks.onStoppedLeading();
  }

  /** True when this replica holds the lease after the call. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity, leaseDurationSeconds } = this.options;
    const now = new MicroTime();
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace });
    } catch (error) {
      if (statusCodeOf(error) !== 404) throw error;
      try {
        await this.api.createNamespacedLease({
          namespace,
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name, namespace },
            spec: {
              holderIdentity: identity,
              leaseDurationSeconds,
              acquireTime: now,
              renewTime: now,
              leaseTransitions: 0,
            },
          },
        });
        return true;
      } catch (createError) {
        if (statusCodeOf(createError) === 409) return false;
        throw createError;
      }
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const renewed = spec.renewTime ? new Date(spec.renewTime).getTime() : 0;
    const duration = (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000;
    const expired = holder === '' || renewed + duration < now.getTime();
    if (holder !== identity && !expired) return false;
    const body: V1Lease = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: identity,
        leaseDurationSeconds,
        renewTime: now,
        ...(holder !== identity && {
          acquireTime: now,
          leaseTransitions: (spec.leaseTransitions ?? 0) + 1,
        }),
      },
    };
    try {
      await this.api.replaceNamespacedLease({ name, namespace, body });
      return true;
    } catch (error) {
      if (statusCodeOf(error) === 409) return false;
      throw error;
    }
  }

  /** Stops campaigning; a leader hands the lease back so that another replica takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (!this.leading) return;
    this.leading = false;
    const { namespace, name } = this.options;
    try {
      const lease = await this.api.readNamespacedLease({ name, namespace });
      if (lease.spec?.holderIdentity !== this.options.identity) return;
      await this.api.replaceNamespacedLease({
        name,
        namespace,
        body: {
          ...lease,
          spec: {
            ...lease.spec,
            holderIdentity: '',
            leaseDurationSeconds: 1,
            renewTime: new MicroTime(),
          },
        },
      });
      this.log.info('released the lease', { lease: name });
    } catch (error) {
      this.log.warn('could not release the lease', { error: String(error) });
    }
  }
}
