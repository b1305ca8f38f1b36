/**
 * The operator: informers over Roster's custom resources feed a work queue keyed by
 * organization; workers reconcile keys through `Reconciler` (the CLI's core); a LISTEN on
 * `roster_invitations` re-reads an organization as soon as someone accepts; the outbox worker
 * sends the invitations; a Lease makes one replica the leader; `/metrics`, `/healthz`, `/readyz`.
 */
import type { LeastPrivilegePolicy } from '../core/least-privilege.js';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  type Informer,
  type KubeConfig,
  type KubernetesObject,
  type ObjectCache,
} from '@kubernetes/client-node';
import type pg from 'pg';
import { emailIdentity } from '../core/email.js';
import { statusCodeOf } from './api-errors.js';
import { DEFAULT_RATE_LIMIT, RateLimiter, type RateLimitOptions } from './rate-limit.js';
import { KINDS, type Kind } from '../core/schema/index.js';
import { invitationsSentSince } from '../store/invitations.js';
import { listenForInvitations, ping, stopListeningForInvitations } from '../store/notifications.js';
import { deliverOutbox, type DeliveryOptions } from '../mail/deliver.js';
import { DEFAULT_LEADER_ELECTION, LeaderElector, type LeaderElectionOptions } from './leader.js';
import type { Logger } from '../telemetry/log.js';
import { createProbeServer } from '../telemetry/probes.js';
import { OperatorMetrics } from './metrics.js';
import { DEFAULT_QUEUE_OPTIONS, WorkQueue, type QueueOptions } from './queue.js';
import { Reconciler, TerminalError, type ClusterView, type ClusterWriter } from './reconcile.js';
import {
  formatKey,
  GROUP,
  keyOf,
  parseKey,
  pluralOf,
  VERSION,
  type RosterObject,
  type WorkKey,
} from './resources.js';

export interface OperatorOptions {
  readonly kubeConfig: KubeConfig;
  readonly pool: pg.Pool;
  readonly log: Logger;
  /** Names this cluster in the records' manager (`operator:<cluster>/<namespace>`). */
  readonly cluster: string;
  /** Watch one namespace; all namespaces when undefined. */
  readonly namespace?: string;
  readonly workers?: number;
  /** Every key is reconciled again this often, to correct drift made in the database (ms). */
  readonly resyncMs?: number;
  readonly queue?: QueueOptions;
  /** Lease-based leader election; false runs as the only replica. */
  readonly leaderElection?:
    | (Omit<LeaderElectionOptions, 'leaseDurationSeconds' | 'retryPeriodMs' | 'renewDeadlineMs'> &
        Partial<LeaderElectionOptions>)
    | false;
  /** Sends invitations from the outbox; none when undefined (another process delivers). */
  readonly delivery?: DeliveryOptions;
  readonly deliveryIntervalMs?: number;
  /** Serve /metrics, /healthz and /readyz on this port (0: any free port). */
  readonly probePort?: number;
  readonly probeHost?: string;
  /**
   * Serve /metrics on this port instead of the probe port (0: any free port), so that scraping is
   * exposed separately from the kubelet's probes.
   */
  readonly metricsPort?: number;
  /** Writes to the API server: QPS, burst, and writes in flight at once (default 20, 30, 8). */
  readonly rateLimit?: RateLimitOptions;
  readonly maxOrgRemovalRatio?: number;
  /** The least-privilege rules (`--lint-rules`); Roster's own when undefined. */
  readonly leastPrivilege?: LeastPrivilegePolicy;
  /** Called when this replica loses the leadership (the CLI exits so that it restarts clean). */
  readonly onLostLeadership?: () => void;
}

/** The same event on the same object is recorded at most once in this interval. */
const EVENT_REPEAT_MS = 10 * 60_000;

export class Operator {
  readonly metrics: OperatorMetrics;
  private readonly queue: WorkQueue;
  private readonly informers = new Map<
    Kind,
    Informer<KubernetesObject> & ObjectCache<KubernetesObject>
  >();
  /** The work key each resource (by uid) was last filed under. */
  private readonly lastKey = new Map<string, string>();
  /** The resources of each work key, so that a reconcile does not scan every resource. */
  private readonly index = new Map<string, Map<string, { kind: Kind; object: RosterObject }>>();
  private readonly recentEvents = new Map<string, number>();
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;
  private readonly elector: LeaderElector | undefined;
  private readonly reconciler: Reconciler;
  private readonly clusterWriter: ClusterWriter;
  private readonly timers: NodeJS.Timeout[] = [];
  private workers: Promise<void>[] = [];
  private listener: pg.PoolClient | undefined;
  private probeServer: Server | undefined;
  private metricsServer: Server | undefined;
  private running = false;
  private stopping = false;
  private synced = false;
  private delivering: Promise<void> | undefined;
  private deliverAgain = false;
  /** The probe port (and the metrics port, unless metrics have their own). */
  port = 0;
  /** The metrics port when `metricsPort` was set. */
  metricsPort = 0;
  /** Every write to the API server goes through it. */
  readonly limiter: RateLimiter;

  constructor(private readonly options: OperatorOptions) {
    this.queue = new WorkQueue(options.queue ?? DEFAULT_QUEUE_OPTIONS);
    this.limiter = new RateLimiter(options.rateLimit ?? DEFAULT_RATE_LIMIT);
    this.custom = options.kubeConfig.makeApiClient(CustomObjectsApi);
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
    const election = options.leaderElection;
    this.elector =
      election === false || election === undefined
        ? undefined
        : new LeaderElector(
            options.kubeConfig.makeApiClient(CoordinationV1Api),
            { ...DEFAULT_LEADER_ELECTION, ...election },
            options.log,
            {
              onStartedLeading: () => void this.startControllers(),
              onStoppedLeading: () => {
                void this.stopControllers();
                options.onLostLeadership?.();
              },
            },
          );
    this.metrics = new OperatorMetrics(
      () => this.queue.depth,
      () => this.isLeader,
    );
    const view: ClusterView = {
      objects: (kind, namespace) => this.objects(kind, namespace),
      members: (key) => [...(this.index.get(formatKey(key))?.values() ?? [])],
    };
    this.clusterWriter = this.writer();
    this.reconciler = new Reconciler(options.pool, view, this.clusterWriter, {
      cluster: options.cluster,
      lockWaitMs: 30_000,
      ...(options.maxOrgRemovalRatio !== undefined && {
        maxOrgRemovalRatio: options.maxOrgRemovalRatio,
      }),
      ...(options.leastPrivilege !== undefined && { leastPrivilege: options.leastPrivilege }),
    });
  }

  get isLeader(): boolean {
    return this.elector === undefined ? this.running : this.elector.isLeader;
  }

  /** Ready: the database answers, and a leader has its caches filled. */
  async isReady(): Promise<boolean> {
    return (await this.notReadyReason()) === null;
  }

  /**
   * Why this replica is not ready, or null: the database does not answer, the Lease cannot be
   * read or written (a replica that can never lead must not look healthy), or, as the leader,
   * its caches have not synced yet.
   */
  async notReadyReason(): Promise<string | null> {
    try {
      await ping(this.options.pool);
    } catch {
      return 'the database does not answer';
    }
    const leaseError = this.elector?.leaseError ?? null;
    if (leaseError !== null) return `cannot reach the leader-election Lease: ${leaseError}`;
    return !this.isLeader || this.synced ? null : 'the caches have not synced yet';
  }

  /** Starts probes, then campaigns for leadership (or starts at once without election). */
  async start(): Promise<void> {
    if (this.options.probePort !== undefined) await this.serveProbes(this.options.probePort);
    if (this.elector === undefined) await this.startControllers();
    else this.elector.start();
  }

  /** Stops gracefully: no new keys, in-flight reconciles finish, the lease is handed back. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await this.stopControllers();
    await this.elector?.stop();
    for (const server of [this.probeServer, this.metricsServer]) {
      if (server === undefined) continue;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  private objects(kind: Kind, namespace: string): RosterObject[] {
    const informer = this.informers.get(kind);
    if (informer === undefined) return [];
    return informer.list(namespace) as unknown as RosterObject[];
  }

  private writer(): ClusterWriter {
    const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    const target = (kind: Kind, o: RosterObject) => ({
      group: GROUP,
      version: VERSION,
      namespace: o.metadata.namespace ?? 'default',
      plural: pluralOf(kind),
      name: o.metadata.name ?? '',
    });
    return {
      setFinalizers: async (kind, o, finalizers) => {
        await this.limiter.run(() =>
          this.custom.patchNamespacedCustomObject(
            {
              ...target(kind, o),
              body: { metadata: { finalizers, resourceVersion: o.metadata.resourceVersion } },
            },
            merge,
          ),
        );
      },
      patchStatus: async (kind, o, status) => {
        try {
          await this.limiter.run(() =>
            this.custom.patchNamespacedCustomObjectStatus(
              { ...target(kind, o), body: { status } },
              merge,
            ),
          );
        } catch (error) {
          // Gone meanwhile: nothing to report on.
          if (statusCodeOf(error) !== 404) throw error;
        }
      },
      event: (kind, o, type, reason, message) => {
        // A refusal retried with backoff would repeat its event: one per object, reason and
        // message per interval, as client-go's event recorder aggregates them.
        const seen = `${o.metadata.uid ?? o.metadata.name}/${reason}/${message}`;
        const last = this.recentEvents.get(seen);
        if (last !== undefined && Date.now() - last < EVENT_REPEAT_MS) return;
        if (this.recentEvents.size > 10_000) this.recentEvents.clear();
        this.recentEvents.set(seen, Date.now());
        const namespace = o.metadata.namespace ?? 'default';
        const now = new Date();
        this.limiter
          .run(() =>
            this.core.createNamespacedEvent({
              namespace,
              body: {
                metadata: { generateName: `${o.metadata.name ?? 'roster'}.`, namespace },
                involvedObject: {
                  apiVersion: `${GROUP}/${VERSION}`,
                  kind,
                  name: o.metadata.name ?? '',
                  namespace,
                  ...(o.metadata.uid !== undefined && { uid: o.metadata.uid }),
                  ...(o.metadata.resourceVersion !== undefined && {
                    resourceVersion: o.metadata.resourceVersion,
                  }),
                },
                type,
                reason,
                message: message.slice(0, 1024),
                firstTimestamp: now,
                lastTimestamp: now,
                count: 1,
                source: { component: 'roster-operator' },
                reportingComponent: 'roster.dev/operator',
                reportingInstance: this.options.cluster,
              },
            }),
          )
          .catch((error: unknown) =>
            this.options.log.warn('could not record an event', { reason, error: String(error) }),
          );
      },
    };
  }

  private enqueue(key: WorkKey | undefined): void {
    if (key !== undefined) this.queue.add(formatKey(key));
  }

  private onObject(kind: Kind, o: KubernetesObject, deleted = false): void {
    const object = o as unknown as RosterObject;
    const key = keyOf(kind, object);
    const uid =
      object.metadata.uid ?? `${kind}/${object.metadata.namespace}/${object.metadata.name}`;
    const next = key === undefined || deleted ? undefined : formatKey(key);
    const previous = this.lastKey.get(uid);
    if (previous !== undefined && previous !== next) {
      this.index.get(previous)?.delete(uid);
      // Moved to another organization, or gone: its old organization has records to remove.
      this.queue.add(previous);
    }
    if (next === undefined) this.lastKey.delete(uid);
    else {
      this.lastKey.set(uid, next);
      let members = this.index.get(next);
      if (members === undefined) {
        members = new Map();
        this.index.set(next, members);
      }
      members.set(uid, { kind, object });
    }
    this.enqueue(key);
  }

  private async startControllers(): Promise<void> {
    if (this.running || this.stopping) return;
    this.running = true;
    const { log } = this.options;
    await Promise.all(
      KINDS.map((definition) => this.startInformer(definition.kind, definition.plural)),
    );
    this.synced = true;
    log.info('caches synced; reconciling', { kinds: KINDS.map((k) => k.kind) });
    const workers = this.options.workers ?? 2;
    this.workers = Array.from({ length: workers }, () => this.work());
    await this.listen();
    const resync = this.options.resyncMs ?? 300_000;
    this.timers.push(setInterval(() => this.resync(), resync));
    if (this.options.delivery !== undefined) {
      this.timers.push(
        setInterval(() => this.deliver(), this.options.deliveryIntervalMs ?? 10_000),
      );
      this.deliver();
    }
  }

  private async stopControllers(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    this.queue.shutdown();
    await Promise.all(this.workers);
    await Promise.all([...this.informers.values()].map((i) => i.stop().catch(() => undefined)));
    this.informers.clear();
    this.index.clear();
    this.lastKey.clear();
    await this.delivering;
    if (this.listener !== undefined) {
      const listener = this.listener;
      this.listener = undefined;
      await stopListeningForInvitations(listener).catch(() => undefined);
      listener.release();
    }
    this.options.log.info('controllers stopped');
  }

  private async startInformer(kind: Kind, plural: string): Promise<void> {
    const { namespace, log } = this.options;
    const path =
      namespace === undefined
        ? `/apis/${GROUP}/${VERSION}/${plural}`
        : `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${plural}`;
    const list = () =>
      namespace === undefined
        ? this.custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural })
        : this.custom.listNamespacedCustomObject({
            group: GROUP,
            version: VERSION,
            namespace,
            plural,
          });
    const informer = makeInformer(this.options.kubeConfig, path, list as never);
    this.informers.set(kind, informer);
    informer.on('add', (o) => this.onObject(kind, o));
    informer.on('update', (o) => this.onObject(kind, o));
    informer.on('delete', (o) => this.onObject(kind, o, true));
    let failures = 0;
    informer.on('connect', () => {
      failures = 0;
    });
    // The informer stops on a dropped connection: start it again, with a backoff.
    informer.on('error', (error) => {
      if (!this.running) return;
      failures++;
      this.metrics.watchRestarts.inc({ kind });
      const delay = Math.min(30_000, 250 * 2 ** Math.min(failures, 7));
      log.warn('watch ended; restarting', { kind, in_ms: delay, error: String(error) });
      const timer = setTimeout(() => {
        if (this.running && this.informers.get(kind) === informer) {
          informer
            .start()
            .catch((e: unknown) => log.warn('watch restart failed', { kind, error: String(e) }));
        }
      }, delay);
      timer.unref();
    });
    for (let attempt = 0; ; attempt++) {
      try {
        await informer.start();
        return;
      } catch (error) {
        if (!this.running) return;
        const delay = Math.min(30_000, 500 * 2 ** attempt);
        log.warn('could not list; retrying', { kind, in_ms: delay, error: String(error) });
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  private async work(): Promise<void> {
    const { log } = this.options;
    for (;;) {
      const key = await this.queue.next();
      if (key === undefined) return;
      const parsed = parseKey(key);
      const started = performance.now();
      try {
        const result = await this.reconciler.reconcile(parsed);
        this.queue.forget(key);
        const changed = result.rowsWritten > 0;
        this.metrics.reconciles.inc({
          kind: parsed.kind,
          result: changed ? 'applied' : 'unchanged',
        });
        this.metrics.rowsWritten.inc({}, result.rowsWritten);
        if (changed) {
          const s = result.plan?.summary;
          log.info('applied', {
            key,
            add: s?.add,
            change: s?.change,
            destroy: s?.destroy,
            rows: result.rowsWritten,
          });
        }
        if ((result.plan?.invitations.length ?? 0) > 0) this.deliver();
        for (const follow of result.follow) this.enqueue(follow);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        if (error instanceof TerminalError) {
          this.queue.forget(key);
          this.metrics.reconciles.inc({ kind: parsed.kind, result: 'terminal' });
          log.warn('not retried until the resources change', { key, error: message });
        } else {
          const delay = this.queue.retry(key);
          const reason =
            statusCodeOf(error) === 409
              ? 'conflict'
              : ((error as { code?: string }).code ?? 'error');
          this.metrics.reconciles.inc({ kind: parsed.kind, result: 'error' });
          this.metrics.errors.inc({ kind: parsed.kind, reason: String(reason) });
          log.warn('reconcile failed; retrying', { key, retry_in_ms: delay, error: message });
        }
      } finally {
        this.metrics.duration.observe({ kind: parsed.kind }, (performance.now() - started) / 1000);
        this.queue.done(key);
      }
    }
  }

  /** Every key a resource was ever filed under: organizations, plans, roles. */
  private resync(): void {
    for (const key of this.index.keys()) this.queue.add(key);
  }

  private enqueueOrganization(org: string): void {
    this.enqueueOrganizations(new Set([org]));
  }

  /** Queues every namespace's key of these organizations (one pass over the index). */
  private enqueueOrganizations(orgs: ReadonlySet<string>): void {
    for (const key of this.index.keys()) {
      const parsed = parseKey(key);
      if (parsed.kind === 'Organization' && orgs.has(parsed.name)) this.queue.add(key);
    }
  }

  private async listen(): Promise<void> {
    const { log, pool } = this.options;
    try {
      const client = await pool.connect();
      client.on('notification', (message) => {
        try {
          const payload = JSON.parse(message.payload ?? '{}') as { org?: string };
          if (typeof payload.org === 'string') this.enqueueOrganization(payload.org);
        } catch {
          log.warn('ignored a malformed notification', { channel: message.channel });
        }
      });
      client.on('error', (error) => {
        log.warn('lost the LISTEN connection; reconnecting', { error: String(error) });
        if (this.listener === client) this.listener = undefined;
        client.release(true);
        if (this.running) setTimeout(() => void this.listen(), 1_000).unref();
      });
      await listenForInvitations(client);
      this.listener = client;
      // Anything accepted while not listening is caught by one pass over every organization.
      this.resync();
    } catch (error) {
      log.warn('could not LISTEN; retrying', { error: String(error) });
      if (this.running) setTimeout(() => void this.listen(), 2_000).unref();
    }
  }

  /** Sends what the outbox holds (one run at a time; a request during a run runs again after). */
  private deliver(): void {
    const delivery = this.options.delivery;
    if (delivery === undefined || !this.running) return;
    if (this.delivering !== undefined) {
      this.deliverAgain = true;
      return;
    }
    const since = new Date();
    this.delivering = (async () => {
      try {
        const report = await deliverOutbox(this.options.pool, delivery);
        if (report.sent > 0) {
          this.metrics.invitationsSent.inc({}, report.sent);
          this.options.log.info('invitations sent', { sent: report.sent, failed: report.failed });
          await this.reportSent(since);
        }
        if (report.failed > 0) {
          this.options.log.warn('invitations not sent; will retry', { failed: report.failed });
        }
      } catch (error) {
        this.options.log.warn('delivery failed; will retry', { error: String(error) });
      } finally {
        this.delivering = undefined;
        if (this.deliverAgain) {
          this.deliverAgain = false;
          this.deliver();
        }
      }
    })();
  }

  /**
   * After a delivery: an `InvitationSent` event on each Membership or Grant whose invitation went
   * out, and a reconcile of their organizations (status shows `sentAt`).
   */
  private async reportSent(since: Date): Promise<void> {
    const rows = await invitationsSentSince(this.options.pool, since);
    const sent = new Map<string, typeof rows>();
    for (const row of rows) {
      const list = sent.get(row.org) ?? [];
      list.push(row);
      sent.set(row.org, list);
    }
    for (const [key, members] of this.index) {
      const parsed = parseKey(key);
      const forOrg = parsed.kind === 'Organization' ? sent.get(parsed.name) : undefined;
      if (forOrg === undefined) continue;
      for (const member of members.values()) {
        if (member.kind !== 'Membership' && member.kind !== 'Grant') continue;
        const spec = member.object.spec ?? {};
        const user = emailIdentity(String(spec.user ?? ''));
        const row = forOrg.find(
          (r) =>
            r.subject === member.kind.toLowerCase() &&
            r.email === user &&
            (r.resource === null || spec.resource === r.resource),
        );
        if (row === undefined) continue;
        this.clusterWriter.event(
          member.kind,
          member.object,
          'Normal',
          'InvitationSent',
          `Invitation e-mailed to ${row.email}`,
        );
      }
    }
    this.enqueueOrganizations(new Set(sent.keys()));
  }

  private async serveProbes(port: number): Promise<void> {
    const separateMetrics = this.options.metricsPort !== undefined;
    const host = this.options.probeHost ?? '0.0.0.0';
    const probes = {
      notAliveReason: () => null,
      notReadyReason: () => this.notReadyReason(),
    };
    this.probeServer = createProbeServer(
      probes,
      separateMetrics ? undefined : this.metrics.registry,
    );
    this.port = await listen(this.probeServer, port, host);
    if (this.options.metricsPort !== undefined) {
      this.metricsServer = createProbeServer(undefined, this.metrics.registry);
      this.metricsPort = await listen(this.metricsServer, this.options.metricsPort, host);
    }
  }
}

/** Listens on `port` (0: any free one); resolves with the port. */
async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return (server.address() as AddressInfo).port;
}
